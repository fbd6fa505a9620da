package graph

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// PublicOrigin returns middleware that decides the scheme and host of the links a response carries
// (nextLinks, @odata.context, Location, and the discovery document's URLs): public, when set, always
// wins; otherwise the X-Forwarded-Proto and X-Forwarded-Host of a request that comes from one of the
// trusted proxies; otherwise the connection's own scheme and the request's Host. It records the
// choice in r.URL.Scheme and r.Host, where handlers read it (baseURL). Forwarded headers from any
// other address are ignored, so that a client cannot make the server write links to another host.
func PublicOrigin(public *url.URL, trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r2 := *r
			u := *r.URL
			r2.URL = &u
			switch {
			case public != nil:
				u.Scheme, r2.Host = public.Scheme, public.Host
			case fromTrusted(r.RemoteAddr, trusted):
				if proto := firstValue(r.Header.Get("X-Forwarded-Proto")); proto == "http" || proto == "https" {
					u.Scheme = proto
				}
				if host := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(host) {
					r2.Host = host
				}
			}
			next.ServeHTTP(w, &r2)
		})
	}
}

// ParsePublicURL checks an origin, such as --public-url: an absolute http or https URL with a host
// name, at most a port from 1 to 65535 and a path of "/", and no user, query or fragment (RFC 6454
// §4).
func ParsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || u.User != nil || !validHost(u.Host) || !validPort(u) {
		return nil, fmt.Errorf("%q is not a URL such as https://activities.example.org (scheme and host only)", s)
	}
	return u, nil
}

// validPort reports whether u's port, if it names one, is a number from 1 to 65535.
func validPort(u *url.URL) bool {
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		return err == nil && n > 0 && n <= 65535
	}
	return !strings.HasSuffix(u.Host, ":")
}

func fromTrusted(remote string, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range trusted {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// firstValue is the first of a comma-separated header value: the one the proxy nearest the client
// set.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(first))
}

// validHost reports whether h is a host[:port] made of the characters a host name, an IPv4 or a
// bracketed IPv6 address and a port may hold.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-.:[]", c) >= 0) {
			return false
		}
	}
	return true
}

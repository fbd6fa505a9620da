package notify

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/activityd/activityd"
)

func TestAllowed(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.1.0.0/16")}
	tests := []struct {
		ip   string
		want bool
	}{
		{"93.184.216.34", true}, {"2606:2800:220:1::1", true},
		{"127.0.0.1", true}, {"10.1.2.3", true}, // allow-listed
		{"127.0.0.2", false}, {"::1", false}, {"10.2.0.1", false}, {"192.168.1.1", false}, {"172.16.0.1", false},
		{"169.254.169.254", false}, {"fe80::1", false}, {"fd00:ec2::254", false}, {"100.64.0.1", false},
		{"0.0.0.0", false}, {"224.0.0.1", false}, {"::", false}, {"255.255.255.255", false},
	}
	for _, tc := range tests {
		if got := allowed(netip.MustParseAddr(tc.ip).Unmap(), allow); got != tc.want {
			t.Errorf("allowed(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// TestValidate: the handshake passes only with 200, text/plain and the token itself; a receiver on
// an address that is not allowed is refused when connecting, and redirects are not followed.
func TestValidate(t *testing.T) {
	handler := http.NewServeMux()
	handler.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, r.URL.Query().Get("validationToken"))
	})
	handler.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, r.URL.Query().Get("validationToken"))
	})
	handler.HandleFunc("/wrong", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})
	handler.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	handler.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
	})
	srv := httptest.NewTLSServer(handler)
	defer srv.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, TLS: srv.Client().Transport.(*http.Transport).TLSClientConfig}
	n := New(nil, nil, logger, cfg)
	if err := n.Validate(t.Context(), srv.URL+"/ok"); err != nil {
		t.Errorf("a receiver that echoes: %v", err)
	}
	for path, mention := range map[string]string{"/json": "text/plain", "/wrong": "validationToken", "/500": "500", "/redirect": "307"} {
		err := n.Validate(t.Context(), srv.URL+path)
		if activity.ErrorCode(err) != activity.Invalid || !strings.Contains(err.Error(), mention) || !strings.Contains(err.Error(), "Subscription validation request failed") {
			t.Errorf("%s: %v, want Invalid mentioning %q", path, err, mention)
		}
	}
	strict := New(nil, nil, logger, Config{TLS: cfg.TLS})
	if err := strict.Validate(t.Context(), srv.URL+"/ok"); err == nil || !strings.Contains(err.Error(), "not public") {
		t.Errorf("a loopback receiver without --webhook-allow: %v", err)
	}
}

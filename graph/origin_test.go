package graph_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/activityd/activityd/graph"
)

// TestPublicOrigin: links follow the configured public URL, else forwarded headers of trusted
// proxies only, else the request.
func TestPublicOrigin(t *testing.T) {
	e := newEnv(t)
	alice := e.as("alice", "notes")
	for _, k := range []string{"a", "b"} {
		alice.do("PUT", "/v1.0/me/activities/"+k, activityJSON(k))
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	public, err := graph.ParsePublicURL("https://activities.example.org/")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		public  bool
		trusted []netip.Prefix
		headers []string
		want    string
	}{
		{"Request", false, nil, nil, e.srv.URL},
		{"UntrustedForwarded", false, nil, []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}, e.srv.URL},
		{"TrustedForwarded", false, loopback, []string{"X-Forwarded-Host", "proxy.example:8443, inner", "X-Forwarded-Proto", "https"}, "https://proxy.example:8443"},
		{"TrustedBadHost", false, loopback, []string{"X-Forwarded-Host", "evil.example/path"}, e.srv.URL},
		{"Public", true, loopback, []string{"X-Forwarded-Host", "proxy.example"}, "https://activities.example.org"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pub = public
			if !tc.public {
				pub = nil
			}
			e.srv.Config.Handler = graph.PublicOrigin(pub, tc.trusted)(e.api)
			r := alice.do("GET", "/v1.0/me/activities", nil, append([]string{"Prefer", "odata.maxpagesize=1"}, tc.headers...)...)
			for _, link := range []string{r.json()["@odata.context"].(string), r.json()["@odata.nextLink"].(string)} {
				if !strings.HasPrefix(link, tc.want+"/v1.0/") {
					t.Errorf("link %q, want it under %s", link, tc.want)
				}
			}
			r = alice.do("PUT", "/v1.0/me/activities/c-"+tc.name, activityJSON("c-"+tc.name), tc.headers...)
			if loc := r.header.Get("Location"); !strings.HasPrefix(loc, tc.want+"/v1.0/") {
				t.Errorf("Location %q, want it under %s", loc, tc.want)
			}
		})
	}
	e.srv.Config.Handler = e.api
	for _, bad := range []string{"", "activities.example.org", "ftp://x", "https://x/path", "https://x?q", "https://u@x",
		"http://:80", "https://x:99999", "https://x:0", "https://x:", "https://x?"} {
		if _, err := graph.ParsePublicURL(bad); err == nil {
			t.Errorf("ParsePublicURL(%q) succeeded", bad)
		}
	}
}

package activity_test

import (
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// TestPrivacy_Refuses: a blocked site is refused however its address is written, as a browser
// would read it, in any of the activity's web addresses.
func TestPrivacy_Refuses(t *testing.T) {
	pv := &activity.Privacy{BlockedSites: []string{"blocked.example", "[::1]"}}
	if err := pv.Normalize(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	refused := func(activation, content string) bool {
		a := &activity.Activity{ActivationURL: activation, ContentURL: content}
		return pv.Refuses("notes", a, now) != ""
	}
	for _, u := range []string{
		"https://blocked.example/", "https://BLOCKED.example.:443/x", "https://user@blocked.example/",
		"https://ｂｌｏｃｋｅｄ.example/", "https://blocked。example/", "https://blocked%2eexample/",
		`https://blocked.example\@other.example/`, "https://a.b.blocked.example/", "HTTPS://blocked.example",
		"http://[::1]:8080/x", "https://blocked.example%ZZ/",
	} {
		if !refused(u, "") {
			t.Errorf("%q is not refused", u)
		}
	}
	if !refused("https://ok.example/", "https://blocked.example/secret") {
		t.Errorf("a blocked contentUrl beside an allowed activationUrl is not refused")
	}
	for _, u := range []string{"https://notblocked.example/", "https://blocked.example.org/", "ms-word:ofe|u|https://x/", "https://ok.example/?u=blocked.example"} {
		if refused(u, "") {
			t.Errorf("%q is refused", u)
		}
	}
	for _, bad := range []string{"*.example.com", "a<b>", "-.-x/", "", "..", "a..b"} {
		if _, ok := activity.ParseSite(bad); ok {
			t.Errorf("ParseSite(%q) accepted", bad)
		}
	}
}

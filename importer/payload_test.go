package importer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/client"
	"github.com/google/go-cmp/cmp"
)

func TestNormalizeColor(t *testing.T) {
	tests := []struct{ in, want string }{
		{"black", "#000000"},
		{"Black", "#000000"},
		{" CornflowerBlue ", "#6495ED"},
		{"rebeccapurple", "#663399"},
		{"gray", "#808080"}, // CSS's, not X11's #BEBEBE
		{"#0078d7", "#0078D7"},
		{"#FF0078D7", "#0078D7"}, // XAML's #AARRGGBB: alpha first
		{"#800078D7", "#0078D7"},
		{"#0F0", "#00FF00"},
		{"#8F00", "#FF0000"}, // #ARGB
	}
	for _, tc := range tests {
		if got, ok := normalizeColor(tc.in); !ok || got != tc.want {
			t.Errorf("normalizeColor(%q) = %q, %v, want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, in := range []string{"", "transparent", "#00FFFFFF", "#0FFF", "#12345", "#GGGGGG", "rgb(0,0,0)", "blackish", "#", "0078D7"} {
		if got, ok := normalizeColor(in); ok {
			t.Errorf("normalizeColor(%q) = %q, want none", in, got)
		}
	}
}

func TestParsePayload(t *testing.T) {
	card := `{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Hi"}]}`
	tests := []struct {
		name, in string
		want     timelinePayload
	}{
		{"Empty", ``, timelinePayload{}},
		{"Null", `null`, timelinePayload{}},
		{"Strings", `{"displayText":"Doc","description":"C:\\doc.txt","appDisplayName":"Notepad","backgroundColor":"black",
			"activationUri":"a:1","contentUri":"https://c","fallbackUri":"https://f","userTimezone":"Europe/Paris"}`,
			timelinePayload{DisplayText: "Doc", Description: `C:\doc.txt`, AppDisplayName: "Notepad", BackgroundColor: "black",
				ActivationURI: "a:1", ContentURI: "https://c", FallbackURI: "https://f", UserTimezone: "Europe/Paris"}},
		{"WrongTypes", `{"displayText":5,"activeDurationSeconds":"7","attribution":[1],"adaptiveContent":true}`, timelinePayload{}},
		{"Card", `{"adaptiveContent":` + card + `}`, timelinePayload{Content: json.RawMessage(card)}},
		{"CardAsString", `{"adaptiveContent":` + quote(card) + `}`,
			timelinePayload{Content: json.RawMessage(card)}},
		{"CardCompacted", `{"content": { "type" : "AdaptiveCard" } }`, timelinePayload{Content: json.RawMessage(`{"type":"AdaptiveCard"}`)}},
		{"TooDeep", `{"adaptiveContent":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `}`, timelinePayload{}},
		{"Attribution", `{"attribution":{"iconUri":"https://i/x.png","alternateText":"x.com","addImageQuery":true}}`,
			timelinePayload{Attribution: &client.ImageInfo{IconURL: ptr("https://i/x.png"), AlternateText: ptr("x.com"), AddImageQuery: ptr(true)}}},
		{"AttributionText", `{"attributionDisplayText":"x.com"}`, timelinePayload{Attribution: &client.ImageInfo{AlternateText: ptr("x.com")}}},
		{"Duration", `{"activeDurationSeconds":12.9}`, timelinePayload{ActiveDurationSeconds: ptr(12)}},
		{"NegativeDuration", `{"activeDurationSeconds":-1}`, timelinePayload{}},
		{"BOM", "\xef\xbb\xbf{\"displayText\":\"x\"}", timelinePayload{DisplayText: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePayload([]byte(tc.in))
			if err != nil {
				t.Fatalf("parsePayload(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parsePayload(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
	for in, want := range map[string]string{`{"a":`: "not JSON", `[1]`: "not an object", `"x"`: "not an object", "\xff": "not JSON"} {
		if _, err := parsePayload([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parsePayload(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestTimelineApp(t *testing.T) {
	tests := []struct{ in, app, host string }{
		{`[{"application":"U!App","platform":"windows_universal"},{"application":"C:\\a.exe","platform":"windows_win32"}]`, `C:\a.exe`, ""},
		{`[{"application":"","platform":"windows_win32"},{"application":"U!App","platform":"windows_universal"}]`, "U!App", ""},
		{`[{"application":"edge.activity.windows.com","platform":"host"},{"application":"P","platform":"packageId"}]`, "P", "edge.activity.windows.com"},
		{`[{"application":"308046B0AF4A39CB","platform":"afs_crossplatform"}]`, "308046B0AF4A39CB", ""},
		{`[{"application":"only.host.com","platform":"host"}]`, "only.host.com", "only.host.com"},
	}
	for _, tc := range tests {
		app, host, err := timelineApp(tc.in)
		if err != nil || app != tc.app || host != tc.host {
			t.Errorf("timelineApp(%s) = %q, %q, %v, want %q, %q", tc.in, app, host, err, tc.app, tc.host)
		}
	}
	for _, in := range []string{``, `{}`, `[]`, `[{"application":"","platform":"x"}]`, `[{"application":"a\u0001b","platform":"x"}]`} {
		if app, _, err := timelineApp(in); err == nil {
			t.Errorf("timelineApp(%s) = %q, want an error", in, app)
		}
	}
}

func TestSourceHost(t *testing.T) {
	for host, want := range map[string]string{
		"edge.activity.windows.com": "https://edge.activity.windows.com",
		"https://contoso.com":       "https://contoso.com",
		"":                          "fallback",
		"bad host/x":                "fallback",
	} {
		if got := sourceHost(host, "fallback"); got != want {
			t.Errorf("sourceHost(%q) = %q, want %q", host, got, want)
		}
	}
}

// TestNameGUID checks the name-based GUIDs against Python's uuid.uuid5:
//
//	ns = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/activityd/activityd/importer")
//	uuid.uuid5(ns, "bucket\nkey\n2024-01-01T00:00:00Z")
func TestNameGUID(t *testing.T) {
	if got := guidString(importNamespace[:]); got != "40a83db4-a40f-5f60-bdfc-d152ea56b37f" {
		t.Errorf("namespace = %s", got)
	}
	g := nameGUID(importNamespace, "bucket\nkey\n2024-01-01T00:00:00Z")
	if got := guidString(g[:]); got != "c5afcc78-6a8d-506f-b975-e2271a32eaf8" {
		t.Errorf("nameGUID = %s", got)
	}
}

func TestText(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes
	if got := text(long); len(got) != 4096 || !strings.HasSuffix(got, "é") {
		t.Errorf("text(6000 bytes) = %d bytes, want 4096 cut between characters", len(got))
	}
	if got := text("a\x00b\xffc"); got != "ab\uFFFDc" {
		t.Errorf("text = %q", got)
	}
}

// FuzzWindowsTimeline maps rows of any AppId and Payload: it must never panic, and what it accepts
// must be importable.
func FuzzWindowsTimeline(f *testing.F) {
	f.Add(`[{"application":"A!B","platform":"windows_universal"}]`, `{"displayText":"Settings","activationUri":"ms-shellactivity:","backgroundColor":"black"}`, "x", int64(1532520280))
	f.Add(`[{"application":"edge.activity.windows.com","platform":"host"},{"application":"E","platform":"packageId"}]`,
		`{"displayText":"Chrome","adaptiveContent":"{\"type\":\"AdaptiveCard\"}","attribution":{"iconUri":"https://x/i.png"},"backgroundColor":"#FF0078D7"}`, "", int64(0))
	f.Add(`[{"application":"A","platform":"x"}]`, `{"displayText":"\u0000","appDisplayName":"\u0000"}`, "y", int64(1))
	f.Add(`[]`, `{"activeDurationSeconds":1e300,"userTimezone":"`+strings.Repeat("z", 100)+`"}`, "\x00", int64(-1))
	f.Add(`[{"application":"a","platform":"x"}]`, `{"contentInfo":{"@context":"https://schema.org"},"content":[[[[]]]]}`, strings.Repeat("k", 2000), int64(1<<40))
	f.Fuzz(func(t *testing.T, appID, payload, aid string, start int64) {
		r := &timelineRow{id: []byte("0123456789abcdef"), appID: appID, appActivityID: aid, typ: 5, payload: []byte(payload),
			start: asTime(start), end: asTime(start + 60), lastModified: asTime(start)}
		a, why := timelineActivity(r, DefaultTimelineSourceHost)
		h, hwhy := timelineHistoryItem(r)
		if why != "" {
			return
		}
		if hwhy == "" {
			a.HistoryItems = []client.HistoryItem{h}
		}
		settleTimes(&a)
		if a.LastModifiedDateTime == nil {
			now := time.Unix(1, 0)
			a.CreatedDateTime, a.LastModifiedDateTime = &now, &now
		}
		checkImportable(t, Item{Activity: a, Source: "fuzz"})
	})
}

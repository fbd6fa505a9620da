package importer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/client"
)

// timelinePayload is what the Payload JSON of a Timeline row says, as Windows writes it from a
// UWP UserActivity (https://learn.microsoft.com/uwp/api/windows.applicationmodel.useractivities.useractivity):
//
//	type 5: {"displayText", "description", "appDisplayName", "backgroundColor": "black" | "#FF0078D7",
//	         "activationUri", "contentUri", "fallbackUri", "adaptiveContent": {Adaptive Card},
//	         "attribution": {"iconUri", "alternateText", "addImageQuery"}, "attributionDisplayText",
//	         "contentInfo", "shellContentDescription"}
//	type 6: {"type": "UserEngaged", "reportingApp", "activeDurationSeconds", "userTimezone",
//	         "shellContentDescription"}
//
// Keys are read leniently: a value of another JSON type than expected is ignored.
type timelinePayload struct {
	DisplayText, Description, AppDisplayName, BackgroundColor string
	ActivationURI, ContentURI, FallbackURI                    string
	UserTimezone                                              string
	Content, ContentInfo                                      json.RawMessage // nil when absent or unusable
	Attribution                                               *client.ImageInfo
	ActiveDurationSeconds                                     *int
}

// parsePayload reads a Payload (a BLOB or TEXT of UTF-8 JSON). An empty or null Payload is an empty
// one; anything but a JSON object is an error, in words for the person.
func parsePayload(b []byte) (timelinePayload, error) {
	var p timelinePayload
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))
	if len(b) == 0 || string(b) == "null" {
		return p, nil
	}
	if !json.Valid(b) {
		return p, fmt.Errorf("its Payload is not JSON")
	}
	var m map[string]json.RawMessage
	if b[0] != '{' || json.Unmarshal(b, &m) != nil {
		return p, fmt.Errorf("its Payload is JSON but not an object")
	}
	str := func(key string) string {
		var s string
		if json.Unmarshal(m[key], &s) != nil {
			return ""
		}
		return s
	}
	p.DisplayText, p.Description, p.AppDisplayName = str("displayText"), str("description"), str("appDisplayName")
	p.BackgroundColor, p.UserTimezone = str("backgroundColor"), str("userTimezone")
	p.ActivationURI, p.ContentURI, p.FallbackURI = str("activationUri"), str("contentUri"), str("fallbackUri")
	p.Content = jsonValue(m["adaptiveContent"])
	if p.Content == nil {
		p.Content = jsonValue(m["content"])
	}
	p.ContentInfo = jsonValue(m["contentInfo"])
	p.Attribution = attribution(m["attribution"], str("attributionDisplayText"))
	var secs float64
	if json.Unmarshal(m["activeDurationSeconds"], &secs) == nil && secs >= 0 && secs <= math.MaxInt32 {
		n := int(secs)
		p.ActiveDurationSeconds = &n
	}
	return p, nil
}

// attribution reads the payload's attribution object ("iconUri", as UWP's UserActivityAttribution
// names it; "iconUrl", as Graph does, is read too). displayText, the text Windows shows beside the
// icon, stands in for a missing alternateText. It returns nil when nothing usable is there.
func attribution(raw json.RawMessage, displayText string) *client.ImageInfo {
	var at struct {
		IconURI         *string `json:"iconUri"`
		IconURL         *string `json:"iconUrl"`
		AlternateText   *string `json:"alternateText"`
		AlternativeText *string `json:"alternativeText"`
		AddImageQuery   *bool   `json:"addImageQuery"`
	}
	if len(raw) > 0 && raw[0] == '{' {
		_ = json.Unmarshal(raw, &at) // a value of the wrong type stays nil
	}
	var img client.ImageInfo
	for _, u := range []*string{at.IconURI, at.IconURL} {
		if u != nil && img.IconURL == nil {
			if s, ok := address(*u); ok {
				img.IconURL = &s
			}
		}
	}
	alt := displayText
	if at.AlternateText != nil && *at.AlternateText != "" {
		alt = *at.AlternateText
	}
	img.AlternateText = optional(text(alt))
	if at.AlternativeText != nil {
		img.AlternativeText = optional(text(*at.AlternativeText))
	}
	img.AddImageQuery = at.AddImageQuery
	if img == (client.ImageInfo{}) {
		return nil
	}
	return &img
}

// maxContentDepth bounds the nesting of a card or contentInfo taken from a payload: the server refuses
// a line nested deeper than 32 levels (graph.DefaultMaxJSONDepth), and the card sits two levels down.
const maxContentDepth = 24

// jsonValue returns raw, compacted, as a free-form property value (an Adaptive Card, contentInfo):
// an object or array, also when a payload holds it as a JSON string. It returns nil for null,
// scalars, and values the server would refuse (invalid UTF-8, nested too deep, over
// activity.MaxRawJSONLength bytes).
func jsonValue(raw json.RawMessage) json.RawMessage {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(strings.TrimSpace(s))
	}
	if len(raw) == 0 || raw[0] != '{' && raw[0] != '[' || !json.Valid(raw) || !utf8.Valid(raw) || jsonDepth(raw) > maxContentDepth {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil || buf.Len() > activity.MaxRawJSONLength {
		return nil
	}
	return buf.Bytes()
}

// jsonDepth returns the deepest nesting of objects and arrays in a valid JSON text.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// timelineApp reads the AppId JSON of a row, [{"application": ..., "platform": ...}, ...], and
// returns the app (the first usable application of platform windows_win32, else windows_universal,
// else packageId, x_exe_path, alternateId, else of any platform but "host") and the host (the
// application of the "host" entry, a domain such as "edge.activity.windows.com").
func timelineApp(appID string) (app, host string, err error) {
	var entries []struct {
		Application string `json:"application"`
		Platform    string `json:"platform"`
	}
	if err := json.Unmarshal([]byte(appID), &entries); err != nil {
		return "", "", fmt.Errorf("its AppId is not a JSON array of applications")
	}
	for _, e := range entries {
		if e.Platform == "host" && host == "" {
			host = strings.TrimSpace(e.Application)
		}
	}
	for _, platform := range []string{"windows_win32", "windows_universal", "packageId", "x_exe_path", "alternateId", ""} {
		for _, e := range entries {
			a := strings.TrimSpace(e.Application)
			if (e.Platform == platform || platform == "" && e.Platform != "host") && activity.ValidAppID(a) {
				return a, host, nil
			}
		}
	}
	if activity.ValidAppID(host) {
		return host, host, nil
	}
	return "", "", fmt.Errorf("its AppId names no application")
}

// sourceHost returns the activitySourceHost for an AppId host entry: https://host, or the entry
// itself when it is a URL already; fallback when there is none.
func sourceHost(host, fallback string) string {
	if strings.Contains(host, "://") {
		if s, ok := address(host); ok {
			return s
		}
	}
	if s, ok := address("https://" + host); ok && host != "" && !strings.ContainsAny(host, "/?# ") {
		return s
	}
	return fallback
}

// appActivityID returns id when the server can keep it as an appActivityId; else a deterministic
// stand-in: derived when id is empty, else "sha256:" and the hex digest of id (too long, or holding
// U+0000 or invalid UTF-8).
func appActivityID(id, derived string) string {
	switch {
	case id == "":
		return derived
	case len(id) <= activity.MaxAppActivityID && utf8.ValidString(id) && !strings.Contains(id, "\x00"):
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

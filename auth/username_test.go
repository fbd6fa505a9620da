package auth_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/auth"
)

func TestUsername(t *testing.T) {
	same := []struct{ name, want string }{
		{"alice", "alice"},
		{"Alice", "alice"},
		{"ALICE", "alice"},
		{"ａｌｉｃｅ", "alice"},            // fullwidth letters are their ASCII letters
		{"e\u0301mile", "\u00e9mile"}, // a combining accent is the precomposed letter (NFC)
		{"\u00c9mile", "\u00e9mile"},
		{"bob@example.com", "bob@example.com"},
		{"ẞ", "ß"},
	}
	for _, tc := range same {
		got, err := auth.Username(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("Username(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
		if auth.UserID(tc.name) != auth.UserID(tc.want) {
			t.Errorf("UserID(%q) != UserID(%q): one user name, two identities", tc.name, tc.want)
		}
	}
	// Names the profile refuses, among them names that lower-case to one string under strings.ToLower
	// ("ǅ", "ǆ" and "Ǆ" are all "ǆ"; "Ⅸ" and "ⅸ"): refused, not merged into one identity.
	refused := []struct{ name, mention string }{
		{"", "empty"},
		{"ǅ", "ǅ"},
		{"ǆ", "ǆ"},
		{"Ǆ", "Ǆ"},
		{"Ⅸ", "Ⅸ"},
		{"ⅸ", "ⅸ"},
		{"ﬁle", "ﬁ"},
		{"alice smith", "U+0020"},
		{"alice\x00", "U+0000"},
		{"alice\n", "U+000A"},
		{"\xff", "UTF-8"},
		{strings.Repeat("a", 257), "longer"},
	}
	for _, tc := range refused {
		got, err := auth.Username(tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("Username(%q) = %q, %v; want an error mentioning %q", tc.name, got, err, tc.mention)
		}
		if id := auth.UserID(tc.name); id != "" {
			t.Errorf("UserID(%q) = %q, want none", tc.name, id)
		}
	}
	// Names in ASCII keep the ids they had before PRECIS: their mapped form is their lower case.
	if got := auth.UserID("Alice"); got != "65a0ff8f-47ec-56c0-b74b-8bb359611da5" {
		t.Errorf("UserID(Alice) = %s, changed", got)
	}
}

func TestMint_Names(t *testing.T) {
	l, err := auth.OpenLocalIssuer(filepath.Join(t.TempDir(), "key.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	v := &auth.Verifier{Issuers: []auth.Issuer{l.Issuer()}, Audiences: auth.GraphAudiences}
	for _, user := range []string{"ǅ", "ǆ", "a b", ""} {
		if _, err := l.Mint(user, "notes", time.Hour); err == nil {
			t.Errorf("Mint(%q) succeeded", user)
		}
	}
	for _, app := range []string{"", "no\ntes", "no\x00tes", strings.Repeat("a", 257)} {
		if _, err := l.Mint("alice", app, time.Hour); err == nil {
			t.Errorf("Mint with app %q succeeded", app)
		}
	}
	tok, err := l.Mint("ＡＬＩＣＥ", "notes", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != auth.UserID("alice") || p.UserName != "alice" {
		t.Errorf("a token for ＡＬＩＣＥ names %+v, want alice's id and name", p)
	}
}

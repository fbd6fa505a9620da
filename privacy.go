package activity

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// A person's view: the activities of one user through every app, which the timeline page shows and
// the privacy controls act on. The Graph routes never use it: there, an app sees only what it wrote
// (UserActivity.ReadWrite.CreatedByApp). Stores take it from ActivityQuery.AllApps and from the
// methods below, which read p.TenantID and p.UserID and never p.AppID.

// Privacy is what a person has chosen not to record: apps and sites whose activities are refused and
// forgotten, and a pause of all recording. A write it refuses stores nothing (Forbidden).
type Privacy struct {
	BlockedApps  []string  // app ids (azp), compared exactly
	BlockedSites []string  // hosts (Site): a site blocks its subdomains too
	PausedUntil  time.Time // recording is paused before this instant; zero when not paused
}

// Limits on a person's privacy settings, so that the check on every write stays small.
const (
	MaxBlocked    = 200 // apps, and sites, each
	MaxSiteLength = 253 // a DNS name
)

// Normalize lower-cases and sorts the block-lists, drops duplicates, and checks them.
// Errors: Invalid, naming the entry at fault.
func (pv *Privacy) Normalize() error {
	if len(pv.BlockedApps) > MaxBlocked || len(pv.BlockedSites) > MaxBlocked {
		return Errorf(Invalid, "At most %d apps and %d sites may be blocked.", MaxBlocked, MaxBlocked)
	}
	for i, app := range pv.BlockedApps {
		if !ValidAppID(app) {
			return Errorf(Invalid, "The blocked app '%s' is not an app id.", app)
		}
		pv.BlockedApps[i] = app
	}
	for i, site := range pv.BlockedSites {
		host, ok := ParseSite(site)
		if !ok {
			return Errorf(Invalid, "The blocked site '%s' is not a host name (such as example.com).", site)
		}
		pv.BlockedSites[i] = host
	}
	slices.Sort(pv.BlockedApps)
	pv.BlockedApps = slices.Compact(pv.BlockedApps)
	slices.Sort(pv.BlockedSites)
	pv.BlockedSites = slices.Compact(pv.BlockedSites)
	if !pv.PausedUntil.IsZero() {
		pv.PausedUntil = Truncate(pv.PausedUntil)
	}
	return nil
}

// ValidAppID reports whether s can be an app id (azp): 1 to 256 bytes of UTF-8 without control
// characters.
func ValidAppID(s string) bool {
	return s != "" && len(s) <= 256 && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// Refuses returns why the person's settings refuse a write of a by app at now, or "" when they do not.
func (pv *Privacy) Refuses(app string, a *Activity, now time.Time) string {
	switch {
	case now.Before(pv.PausedUntil):
		return "The user has paused activity recording until " + pv.PausedUntil.UTC().Format(time.RFC3339) + "."
	case slices.Contains(pv.BlockedApps, app):
		return "The user has blocked activity recording for this app."
	}
	if a == nil || len(pv.BlockedSites) == 0 {
		return ""
	}
	// Every web address of the activity counts, read as a browser would read it.
	sites, unreadable := Sites(a)
	if unreadable {
		return "The activity has a web address whose host cannot be read, and the user blocks some sites."
	}
	for _, site := range sites {
		for _, blocked := range pv.BlockedSites {
			if SiteMatches(site, blocked) {
				return "The user has blocked activity recording for the site " + blocked + "."
			}
		}
	}
	return ""
}

// Sites returns the hosts of an activity's web addresses (activationUrl, contentUrl, fallbackUrl),
// as a browser reads them, and whether one of them is an http or https URL whose host cannot be read.
func Sites(a *Activity) (sites []string, unreadable bool) {
	for _, raw := range []string{a.ActivationURL, a.ContentURL, a.FallbackURL} {
		site, web := siteOf(raw)
		switch {
		case web && site == "":
			unreadable = true
		case site != "":
			sites = append(sites, site)
		}
	}
	return sites, unreadable
}

// Refused is the error of a write that the user's privacy settings refuse: the reason, or a general
// one when the settings changed between the refusal and reading them for it.
func Refused(pv *Privacy, app string, a *Activity, now time.Time) error {
	why := ""
	if pv != nil {
		why = pv.Refuses(app, a, now)
	}
	if why == "" {
		why = "The user's privacy settings refuse this write."
	}
	return Errorf(Forbidden, "%s", why)
}

// Site returns the host an activity is about, lower-case and without port: the host of its
// activationUrl when that is an http or https URL, else of its contentUrl, else of its fallbackUrl;
// "" when none is. Forgetting and blocking a site, and the site filter, match on it.
func Site(a *Activity) string {
	if sites, _ := Sites(a); len(sites) > 0 {
		return sites[0]
	}
	return ""
}

// siteOf returns the host of raw as a browser goes to it (WHATWG URL: a backslash is a slash, the
// host is percent-decoded, fullwidth letters and ideographic full stops are their ASCII selves, no
// trailing dot, no brackets around IPv6), and whether raw is an http or https URL at all. The host is
// "" when raw is not one, or when its host cannot be read.
func siteOf(raw string) (site string, web bool) {
	raw = strings.TrimSpace(raw)
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		return "", false
	}
	rest = strings.TrimLeft(strings.ReplaceAll(rest, `\`, "/"), "/")
	authority, _, _ := strings.Cut(rest, "/")
	authority, _, _ = strings.Cut(authority, "?")
	authority, _, _ = strings.Cut(authority, "#")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	decoded, err := url.PathUnescape(authority)
	if err != nil {
		return "", true
	}
	u, err := url.Parse("http://" + normalizeHost(decoded))
	if err != nil {
		return "", true
	}
	host, ok := ParseSite(u.Hostname())
	if !ok {
		return "", true
	}
	return host, true
}

// normalizeHost maps what browsers map in a host before anything else: fullwidth forms of ASCII to
// ASCII, the ideographic and fullwidth full stops to a dot.
func normalizeHost(h string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFEE0
		case r == 0x3002 || r == 0xFF61:
			return '.'
		}
		return r
	}, h)
}

// ParseSite returns the host that s names, lower-case: a host name or address, or a URL whose host
// is taken. Wildcards, and characters no host holds, are refused.
func ParseSite(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") {
		site, _ := siteOf(s)
		return site, site != ""
	}
	s = strings.TrimSuffix(strings.ToLower(normalizeHost(s)), ".")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if s == "" || len(s) > MaxSiteLength || strings.HasPrefix(s, ".") || strings.Contains(s, "..") {
		return "", false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '.' && r != '_' && r != ':' {
			return "", false
		}
	}
	return s, true
}

// SiteMatches reports whether host is site or one of its subdomains.
func SiteMatches(host, site string) bool {
	return host == site || strings.HasSuffix(host, "."+site)
}

// Forget selects what a person forgets, across all their apps. Exactly one selector is set.
type Forget struct {
	// Range forgets the activities created or last modified in it, with their history items, and
	// the history items of other activities that were active in it (started before its end and
	// last active, or started, after its start).
	Range      TimeRange
	AppID      string // every activity of the app
	Site       string // every activity whose Site is this host or under it
	ActivityID int64  // one activity
	All        bool   // everything
}

// Check reports an error unless exactly one selector is set. Errors: Invalid.
func (f Forget) Check() error {
	n := 0
	for _, set := range []bool{!f.Range.From.IsZero() || !f.Range.To.IsZero(), f.AppID != "", f.Site != "", f.ActivityID != 0, f.All} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return Errorf(Invalid, "Name exactly one thing to forget: a range (from, to), an app, a site, an activity, or all.")
	case f.Range.Empty():
		return Errorf(Invalid, "The range to forget ends before it starts.")
	case f.AppID != "" && !ValidAppID(f.AppID):
		return Errorf(Invalid, "The app to forget is not an app id.")
	}
	return nil
}

// Forgotten counts what a Forget deleted.
type Forgotten struct {
	Activities   int `json:"activities"`
	HistoryItems int `json:"historyItems"` // of activities that were kept
}

// SearchText returns what search finds in an activity besides its display text, description and
// app name: the text of its Adaptive Card (visualElements.content) and the host and path of its
// activationUrl, as words separated by spaces, at most MaxSearchText bytes.
func SearchText(a *Activity) string {
	var b strings.Builder
	if len(a.VisualElements.Content) > 0 {
		var card any
		if json.Unmarshal(a.VisualElements.Content, &card) == nil {
			cardText(&b, card, 0)
		}
	}
	if u, err := url.Parse(a.ActivationURL); err == nil {
		b.WriteByte(' ')
		b.WriteString(u.Host)
		b.WriteByte(' ')
		b.WriteString(u.Path)
	}
	return cut(SearchWords(b.String()), MaxSearchText)
}

// MaxSearchText bounds SearchText.
const MaxSearchText = 8 << 10

// cardText appends the texts of an Adaptive Card: the string values of its text, title, value and
// altText properties, at any depth up to 32.
func cardText(b *strings.Builder, v any, depth int) {
	if depth > 32 || b.Len() > 2*MaxSearchText {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range []string{"text", "title", "value", "altText"} {
			if s, ok := v[k].(string); ok {
				b.WriteByte(' ')
				b.WriteString(s)
			}
		}
		for _, x := range v {
			if _, ok := x.(string); !ok {
				cardText(b, x, depth+1)
			}
		}
	case []any:
		for _, x := range v {
			cardText(b, x, depth+1)
		}
	}
}

// SearchWords returns s as lower-case words (runs of letters and digits) separated by single spaces:
// what both stores index and match, so that "reef-knot.example/path" holds the words reef, knot,
// example and path on either.
func SearchWords(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), notWord), " ")
}

func notWord(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }

// SearchTerms splits a search into the words every result must hold (at most MaxSearchTerms, each
// at most 64 bytes), whole words: a prefix would make SQLite's FTS5 gather every match of every word
// it starts (it merges their lists in memory), 187 ms over a million activities for a word they all
// hold. A search
// with no letter or digit has no terms and matches nothing.
func SearchTerms(search string) []string {
	terms := strings.FieldsFunc(strings.ToLower(search), notWord)
	if len(terms) > MaxSearchTerms {
		terms = terms[:MaxSearchTerms]
	}
	for i, t := range terms {
		terms[i] = cut(t, 64)
	}
	return terms
}

// Relevance scores how well an activity matches the terms of a search, which it holds every one of
// somewhere: for each term, the weight of the best field holding it (display text 8, app name 4,
// description 2, anything else, the card or the URL, 1), plus a little for each time it recurs there.
// Stores rank a search's matches by it (SQLite), or by their own measure of the same fields
// (PostgreSQL's ts_rank_cd over weighted fields), weighed by recency.
func Relevance(terms []string, displayText, appName, description string) float64 {
	fields := []struct {
		words  []string
		weight float64
	}{
		{strings.Fields(SearchWords(cut(displayText, 4096))), 8},
		{strings.Fields(SearchWords(cut(appName, 1024))), 4},
		{strings.Fields(SearchWords(cut(description, 4096))), 2},
	}
	score := 0.0
	for _, t := range terms {
		best, count := 1.0, 0
		for _, f := range fields {
			n := 0
			for _, w := range f.words {
				if w == t {
					n++
				}
			}
			if n > 0 && f.weight >= best {
				best, count = f.weight, n
			}
		}
		score += best * (1 + 0.1*float64(min(max(count-1, 0), 5)))
	}
	return score
}

// MaxSearchTerms bounds the words of a search.
const MaxSearchTerms = 16

// SearchCandidates bounds the matches of a search that are ranked: the newest this many. A word
// that most activities hold (a common site, an app's name) would otherwise have every one of them
// ranked on each search; more words, or a date range, reach further back.
const SearchCandidates = 1000

// cut returns s cut to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

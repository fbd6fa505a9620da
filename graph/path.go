package graph

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/activityd/activityd"
)

// kind is the shape of a Graph resource path.
type kind int

const (
	kindMe                  kind = iota + 1 // /me
	kindActivities                          // /me/activities
	kindActivitiesCount                     // /me/activities/$count
	kindActivitiesRef                       // /me/activities/$ref
	kindRecent                              // /me/activities/recent (four spellings)
	kindActivity                            // /me/activities/{key}
	kindHistoryItems                        // /me/activities/{key}/historyItems
	kindHistoryItemsCount                   // /me/activities/{key}/historyItems/$count
	kindHistoryItem                         // /me/activities/{key}/historyItems/{itemID}
	kindHistoryItemActivity                 // /me/activities/{key}/historyItems/{itemID}/activity
	kindBatch                               // /$batch
	kindDelta                               // /me/activities/delta (four spellings)
	kindSubscriptions                       // /subscriptions
	kindSubscription                        // /subscriptions/{id}
)

// resourcePath is a parsed Graph resource path.
type resourcePath struct {
	version string // "v1.0" or "beta"
	user    string // the {id} of /users/{id}, decoded; "" for /me
	kind    kind
	key     string // the activity segment, decoded once: an id, or an appActivityId
	// rawKey is the activity segment as sent. It differs from key when the segment holds escapes;
	// an appActivityId that is itself percent-encoded text may be named by it (see resolveKey).
	rawKey string
	itemID string // the history item segment, decoded once
	// escaped is the path as sent, for messages.
	escaped string
}

// recentSpellings are the four ways clients name the recent function (spec §1.3).
var recentSpellings = []string{"recent", "recent()", "microsoft.graph.recent", "microsoft.graph.recent()"}

// deltaSpellings are the ways of naming the delta function, as Graph's delta queries are named on
// other resources (https://learn.microsoft.com/graph/delta-query-overview), spelled like recent.
var deltaSpellings = []string{"delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()"}

// parsePath parses the escaped path of a Graph request. It works on the escaped form because the
// official SDK sends an appActivityId's "/" unescaped after /me/activities/ (graph-sdk-wire.md §2):
// everything between "/activities/" and an optional "/historyItems…" tail is the activity key, and it
// is percent-decoded exactly once. For PUT the key is taken whole, since an appActivityId may end in "/";
// for other methods one trailing slash is dropped (the docs' DELETE example has one).
func parsePath(method, escaped string) (*resourcePath, error) {
	p := &resourcePath{escaped: escaped}
	rest, ok := cutVersion(escaped, p)
	if !ok {
		return nil, notFound(escaped)
	}
	// Empty segments before the activity key are dropped: Python and .NET SDK regressions send
	// /v1.0//me/… and /v1.0//users/{id}/…, and Graph routes them. The key keeps its slashes.
	rest = oneSlash(rest)
	if seg, err := url.PathUnescape(strings.TrimSuffix(rest, "/")); err == nil && strings.EqualFold(seg, "/$batch") {
		p.kind = kindBatch
		return p, nil
	}
	if hasSegment(rest, "/subscriptions") {
		return p, p.parseSubscriptions(oneSlash(rest[len("/subscriptions"):]))
	}
	switch {
	case hasSegment(rest, "/me"):
		rest = oneSlash(rest[len("/me"):])
	case hasSegment(rest, "/users") && len(oneSlash(rest[len("/users"):])) > 1:
		rest = oneSlash(rest[len("/users"):])
		seg, after, _ := strings.Cut(rest[1:], "/")
		user, err := unescape(seg, "user id")
		if err != nil {
			return nil, err
		}
		if user == "" {
			return nil, notFound(escaped)
		}
		if user != "me-token-to-replace" {
			p.user = user
		}
		rest = oneSlash("/" + after)
		if after == "" {
			rest = ""
		}
	default:
		return nil, notFound(escaped)
	}
	if rest == "" || rest == "/" {
		p.kind = kindMe
		return p, nil
	}
	if !hasSegment(rest, "/activities") {
		return nil, notFound(escaped)
	}
	rest = rest[len("/activities"):]
	if rest == "" || rest == "/" {
		p.kind = kindActivities
		return p, nil
	}
	return p, p.parseActivityTail(method, rest[1:])
}

// oneSlash replaces the slashes that path starts with by one.
func oneSlash(path string) string {
	trimmed := strings.TrimLeft(path, "/")
	if len(trimmed) == len(path) {
		return path
	}
	return "/" + trimmed
}

// parseSubscriptions parses what follows "/subscriptions": nothing, or one id.
func (p *resourcePath) parseSubscriptions(rest string) error {
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		p.kind = kindSubscriptions
		return nil
	}
	if strings.Contains(rest[1:], "/") {
		return notFound(p.escaped)
	}
	id, err := unescape(rest[1:], "subscription id")
	if err != nil {
		return err
	}
	p.kind, p.key = kindSubscription, id
	return nil
}

// cutVersion removes the /v1.0 or /beta root and records it.
func cutVersion(path string, p *resourcePath) (string, bool) {
	for _, v := range []string{"v1.0", "beta"} {
		if hasSegment(path, "/"+v) {
			p.version = v
			return path[len(v)+1:], true
		}
	}
	return "", false
}

// hasSegment reports whether path starts with seg (case-insensitively) followed by "/" or its end.
func hasSegment(path, seg string) bool {
	return len(path) >= len(seg) && strings.EqualFold(path[:len(seg)], seg) &&
		(len(path) == len(seg) || path[len(seg)] == '/')
}

// parseActivityTail parses what follows "/activities/".
func (p *resourcePath) parseActivityTail(method, tail string) error {
	if !strings.Contains(strings.TrimSuffix(tail, "/"), "/") && method != "PUT" {
		seg, err := unescape(strings.TrimSuffix(tail, "/"), "activity id")
		if err != nil {
			return err
		}
		switch {
		case seg == "$count":
			p.kind = kindActivitiesCount
			return nil
		case seg == "$ref":
			p.kind = kindActivitiesRef
			return nil
		case containsFold(recentSpellings, seg):
			p.kind = kindRecent
			return nil
		case containsFold(deltaSpellings, seg):
			p.kind = kindDelta
			return nil
		}
	}
	keyRaw, itemTail, hasItems := cutHistoryItems(tail)
	if !hasItems {
		keyRaw = tail
		if method != "PUT" && len(keyRaw) > 1 {
			keyRaw = strings.TrimSuffix(keyRaw, "/")
		}
	}
	key, err := unescape(keyRaw, "activity id")
	if err != nil {
		return err
	}
	if key == "" {
		return notFound(p.escaped)
	}
	p.key, p.rawKey = key, keyRaw
	if !hasItems {
		p.kind = kindActivity
		return nil
	}
	itemRaw, after, _ := strings.Cut(itemTail, "/")
	switch {
	case itemRaw == "":
		p.kind = kindHistoryItems
	case itemRaw == "$count":
		p.kind = kindHistoryItemsCount
	case strings.EqualFold(after, "activity"):
		p.kind = kindHistoryItemActivity
	default:
		p.kind = kindHistoryItem
	}
	if p.kind == kindHistoryItem || p.kind == kindHistoryItemActivity {
		if p.itemID, err = unescape(itemRaw, "history item id"); err != nil {
			return err
		}
	}
	return nil
}

// cutHistoryItems finds the last "/historyItems" segment of tail whose remainder has one of the
// shapes "", "/", "/$count", "/{id}", "/{id}/" or "/{id}/activity", and splits tail around it.
func cutHistoryItems(tail string) (key, itemTail string, ok bool) {
	const seg = "/historyitems"
	lower := asciiLower(tail) // same length as tail, unlike strings.ToLower on invalid UTF-8
	for end := len(lower); ; {
		i := strings.LastIndex(lower[:end], seg)
		if i <= 0 {
			return "", "", false
		}
		after := tail[i+len(seg):]
		if after == "" || after[0] == '/' {
			after = strings.TrimPrefix(after, "/")
			item, rest, _ := strings.Cut(after, "/")
			if rest == "" || (item != "" && strings.EqualFold(strings.TrimSuffix(rest, "/"), "activity")) {
				return tail[:i], strings.TrimSuffix(after, "/"), true
			}
		}
		end = i
	}
}

// asciiLower lower-cases ASCII letters only, so that byte offsets stay valid in the original.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// unescape percent-decodes one path segment once.
func unescape(s, what string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", activity.Errorf(activity.Invalid, "The %s '%s' is not correctly percent-encoded.", what, s)
	}
	if !utf8.ValidString(v) {
		return "", activity.Errorf(activity.Invalid, "The %s '%s' is not valid UTF-8 once decoded.", what, s)
	}
	if strings.IndexByte(v, 0) >= 0 {
		// No key can hold U+0000 (activity.Validate refuses it), and PostgreSQL cannot compare it.
		return "", activity.Errorf(activity.Invalid, "The %s '%s' holds the character U+0000.", what, s)
	}
	return v, nil
}

func notFound(path string) error {
	return activity.Errorf(activity.NotFound, "Resource not found for the segment '%s'.", path)
}

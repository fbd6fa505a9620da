// Package activity is the domain of activityd: Graph's userActivity and activityHistoryItem, the rules
// every backend shares, the one error type and the Store contract. It imports the standard library only.
package activity

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Status is the server-set validity state of an activity or history item (Graph enum microsoft.graph.status).
type Status string

// The values of Graph's status enum.
const (
	StatusActive             Status = "active"
	StatusUpdated            Status = "updated"
	StatusDeleted            Status = "deleted"
	StatusIgnored            Status = "ignored"
	StatusUnknownFutureValue Status = "unknownFutureValue"
)

// Activity is a Graph userActivity: one logical destination in an app (a document, a playlist, a
// workflow item) that a person can resume on any device.
// https://learn.microsoft.com/graph/api/resources/projectrome-activity
type Activity struct {
	ID                 int64 // server-assigned, positive, shown on the wire as a decimal string
	AppActivityID      string
	ActivitySourceHost string
	ActivationURL      string
	AppDisplayName     string // optional; "" is null on the wire, as for every optional string
	FallbackURL        string
	ContentURL         string
	ContentInfo        json.RawMessage // any JSON value, stored and echoed byte for byte; nil is null
	VisualElements     VisualInfo
	UserTimezone       string
	// Blank holds those of AppDisplayName, FallbackURL, ContentURL and UserTimezone that were sent as
	// "" rather than null: Graph keeps the difference, so a client reads back what it stored.
	Blank Fields

	CreatedDateTime      time.Time
	LastModifiedDateTime time.Time
	ExpirationDateTime   time.Time
	Status               Status

	// AppID is the app that wrote the activity, set only in a person's view (ActivityQuery.AllApps).
	AppID string

	// HistoryItems is set only where the items were asked for ($expand, deep insert); nil otherwise.
	HistoryItems []*HistoryItem
}

// VisualInfo is Graph's visualInfo: how an activity is drawn as a card.
type VisualInfo struct {
	DisplayText     string
	Description     string
	BackgroundColor string
	Content         json.RawMessage // an Adaptive Card or any JSON value, echoed byte for byte; nil is null
	Attribution     *ImageInfo      // nil is null
	Blank           Fields          // those of Description and BackgroundColor sent as "" (see Activity.Blank)
}

// ImageInfo is Graph's imageInfo: the app icon of a card.
type ImageInfo struct {
	IconURL       string
	AlternateText string
	// AlternativeText is the 2017 name of AlternateText, still in Graph's metadata; both are kept.
	AlternativeText string
	AddImageQuery   *bool  // nil is null
	Blank           Fields // those of its strings sent as "" (see Activity.Blank)
}

// Fields is a set of optional string properties. An optional string is null when it is "" and not
// in its struct's Blank set, and "" when it is in it.
type Fields uint16

// The optional string properties, across Activity, VisualInfo, ImageInfo and HistoryItem.
const (
	FieldAppDisplayName Fields = 1 << iota
	FieldFallbackURL
	FieldContentURL
	FieldUserTimezone // also HistoryItem's
	FieldDescription
	FieldBackgroundColor
	FieldIconURL
	FieldAlternateText
	FieldAlternativeText
)

// AllBlank returns the Blank sets of a, its visual elements and their attribution together: one
// value for a store to keep. SetBlank is its inverse.
func (a *Activity) AllBlank() Fields {
	f := a.Blank&(FieldAppDisplayName|FieldFallbackURL|FieldContentURL|FieldUserTimezone) |
		a.VisualElements.Blank&(FieldDescription|FieldBackgroundColor)
	if at := a.VisualElements.Attribution; at != nil {
		f |= at.Blank & (FieldIconURL | FieldAlternateText | FieldAlternativeText)
	}
	return f
}

// SetBlank spreads f, as AllBlank made it, over a, its visual elements and their attribution.
func (a *Activity) SetBlank(f Fields) {
	a.Blank = f & (FieldAppDisplayName | FieldFallbackURL | FieldContentURL | FieldUserTimezone)
	a.VisualElements.Blank = f & (FieldDescription | FieldBackgroundColor)
	if at := a.VisualElements.Attribution; at != nil {
		at.Blank = f & (FieldIconURL | FieldAlternateText | FieldAlternativeText)
	}
}

// IDString returns the activity id as Graph spells it: a decimal string.
func (a *Activity) IDString() string { return strconv.FormatInt(a.ID, 10) }

// ParseID parses a decimal activity id. It reports false for anything that is not a positive int64
// written in canonical decimal form, so "007" is not the id 7 (it may still be an appActivityId).
func ParseID(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// Ref names an activity in a URL: by its id or, when no activity has that id, by its appActivityId
// (Graph's docs use both in the one key slot, and clients mix them).
type Ref struct {
	ID            int64  // the stored id; 0 when the key is not an id
	AppActivityID string // the key as an appActivityId
}

// ParseRef returns the Ref of a key that names an activity by stored id or appActivityId.
func ParseRef(key string) Ref {
	id, _ := ParseID(key)
	return Ref{ID: id, AppActivityID: key}
}

// NewID returns a random positive 63-bit activity id. Ids look like Graph's and, unlike a counter,
// tell nothing about how many activities exist.
func NewID() int64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		if id := int64(binary.BigEndian.Uint64(b[:]) >> 1); id > 0 {
			return id
		}
	}
}

// Limits on the size of client-supplied values. They bound storage per activity and keep
// pathological values out of every page that lists them.
const (
	MaxStringLength   = 4096     // bytes of any string property (URLs, names, texts)
	MaxRawJSONLength  = 64 << 10 // bytes of contentInfo and of visualElements.content each
	MaxAppActivityID  = 1024     // bytes of an appActivityId
	MaxHistoryPerPut  = 100      // history items in one deep insert
	maxTimezoneLength = 64       // an IANA zone id is far shorter
)

// Validate reports, as an Invalid error naming the property, the first required property that is
// missing or the first value over a limit.
func (a *Activity) Validate() error {
	required := []struct{ name, value string }{
		{"appActivityId", a.AppActivityID},
		{"activitySourceHost", a.ActivitySourceHost},
		{"activationUrl", a.ActivationURL},
		{"visualElements.displayText", a.VisualElements.DisplayText},
	}
	for _, f := range required {
		if f.value == "" {
			return Errorf(Invalid, "The property '%s' is required.", f.name)
		}
	}
	if len(a.AppActivityID) > MaxAppActivityID {
		return Errorf(Invalid, "The property 'appActivityId' is longer than %d bytes.", MaxAppActivityID)
	}
	strs := []struct{ name, value string }{
		{"activitySourceHost", a.ActivitySourceHost},
		{"activationUrl", a.ActivationURL},
		{"appDisplayName", a.AppDisplayName},
		{"fallbackUrl", a.FallbackURL},
		{"contentUrl", a.ContentURL},
		{"visualElements.displayText", a.VisualElements.DisplayText},
		{"visualElements.description", a.VisualElements.Description},
		{"visualElements.backgroundColor", a.VisualElements.BackgroundColor},
	}
	if at := a.VisualElements.Attribution; at != nil {
		strs = append(strs,
			struct{ name, value string }{"visualElements.attribution.iconUrl", at.IconURL},
			struct{ name, value string }{"visualElements.attribution.alternateText", at.AlternateText},
			struct{ name, value string }{"visualElements.attribution.alternativeText", at.AlternativeText})
	}
	for _, f := range strs {
		if len(f.value) > MaxStringLength {
			return Errorf(Invalid, "The property '%s' is longer than %d bytes.", f.name, MaxStringLength)
		}
	}
	if len(a.UserTimezone) > maxTimezoneLength {
		return Errorf(Invalid, "The property 'userTimezone' is longer than %d bytes.", maxTimezoneLength)
	}
	strs = append(strs, struct{ name, value string }{"appActivityId", a.AppActivityID},
		struct{ name, value string }{"userTimezone", a.UserTimezone})
	for _, f := range strs {
		if err := checkNUL(f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}

// checkNUL refuses a string holding U+0000: PostgreSQL's text cannot store it, and both stores must
// answer alike. (Inside contentInfo and visualElements.content, "\u0000" is six characters of JSON
// text and is kept.)
func checkNUL(name, value string) error {
	if strings.IndexByte(value, 0) >= 0 {
		return Errorf(Invalid, "The property '%s' holds the character U+0000, which cannot be stored.", name)
	}
	return nil
}

// TimeRange is an inclusive range of instants, already aligned to the microsecond (the stores'
// precision). A zero bound is open. From after To is an empty range.
type TimeRange struct {
	From, To time.Time
}

// Empty reports whether no instant lies in r.
func (r TimeRange) Empty() bool {
	return !r.From.IsZero() && !r.To.IsZero() && r.From.After(r.To)
}

// Micros returns the inclusive bounds of r in microseconds since the Unix epoch, as the stores keep
// times, with open ends widened to the whole int64 range.
func (r TimeRange) Micros() (from, to int64) {
	from, to = -1<<63, 1<<63-1
	if !r.From.IsZero() {
		from = r.From.UnixMicro()
	}
	if !r.To.IsZero() {
		to = r.To.UnixMicro()
	}
	return from, to
}

// Cursor is a keyset position in a list: the sort time and the key of the last item returned.
// A page after a cursor holds the items strictly after it in list order.
type Cursor struct {
	Time   time.Time
	ID     int64  // activity id (activity lists)
	ItemID string // history item id (history item lists)
	Offset int    // results before the next page (search results, which are not in time order)
}

// ActivityQuery selects a page of a principal's activities, newest first.
type ActivityQuery struct {
	Modified TimeRange // bounds on lastModifiedDateTime
	After    *Cursor   // nil for the first page
	Limit    int       // page size, at least 1
	// MaxBytes, when positive, ends the page early, with a Next cursor, after the first activity that
	// brings the page's Size past it: a page of large activities stays within a memory budget
	// whatever the page size (OData lets a server return fewer items than asked, with a nextLink).
	MaxBytes int

	// AllApps selects the activities of p's user through every app (a person's view); otherwise only
	// those of p's app. Each activity's AppID is set in a person's view.
	AllApps bool
	// App, with AllApps, selects only the activities of that app.
	App string
	// Site selects only the activities whose Site is this host or one under it.
	Site string
	// Search selects only the activities that hold every word of SearchTerms(Search) in their display
	// text, description, app name or SearchText, as whole words: the newest
	// SearchCandidates of them, ordered by relevance weighed by recency instead of by time; the
	// cursor then counts results (Cursor.Offset).
	Search string
	// HistoryItems, when positive, gives each activity of the page its newest history items, at most
	// this many.
	HistoryItems int
	// ChangedSince, when set, selects only the activities modified at or after it, or whose history
	// items were (an incremental export: a session added to an old activity counts).
	ChangedSince time.Time
}

// Size is the bytes an activity holds in its free-form and string properties, near enough to its
// size in memory and on the wire: what page budgets count.
func (a *Activity) Size() int {
	n := 256 + len(a.AppActivityID) + len(a.ActivitySourceHost) + len(a.ActivationURL) + len(a.AppDisplayName) +
		len(a.FallbackURL) + len(a.ContentURL) + len(a.ContentInfo) + len(a.UserTimezone) +
		len(a.VisualElements.DisplayText) + len(a.VisualElements.Description) + len(a.VisualElements.BackgroundColor) +
		len(a.VisualElements.Content)
	if at := a.VisualElements.Attribution; at != nil {
		n += len(at.IconURL) + len(at.AlternateText) + len(at.AlternativeText)
	}
	return n
}

// PageFull reports whether a page holding n items of size bytes in all is full: at limit items, or
// past maxBytes when that is positive. Stores call it after adding each item.
func PageFull(n, limit, size, maxBytes int) bool {
	return n >= limit || maxBytes > 0 && size > maxBytes
}

// ActivityPage is one page of activities, and the cursor of the next page when there is one.
type ActivityPage struct {
	Activities []*Activity
	Next       *Cursor
}

// Truncate returns t in UTC truncated to the stores' precision, the microsecond.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

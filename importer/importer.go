// Package importer turns other programs' activity history into Graph user activities
// (client.Activity, each with its history items), ready for activityd's import as JSON Lines: the
// Windows Timeline database (ActivitiesCache.db, WindowsTimeline) and ActivityWatch exports
// (ActivityWatch). It only reads: it does no HTTP, and it writes nothing beside its sources.
//
// Everything it produces is a function of its input alone: the app, the appActivityId, the history
// item ids and every property come out the same each time the same source is read with the same
// options, because the server's import is keyed by (app, appActivityId), keeps history item ids and
// compares the rest, so importing twice must change nothing.
//
// It imports the root package and client only, no other adapter of activityd.
package importer

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/client"
	"github.com/google/uuid"
)

// Item is one activity to import, with where it came from: the file and the row, line or bucket,
// for the messages of an import.
type Item struct {
	Activity client.Activity
	Source   string
}

// Skip is an input record that gives no item, and why, in words for the person reading the import
// summary. Source names the file and the row, line, bucket or event.
type Skip struct {
	Source, Reason string
	// Deliberate marks a record left out on purpose, as the options ask or as the source itself
	// says (rows that are not activities, such as the clipboard's; private tabs; rows that Windows
	// marked deleted or replaced), rather than one that could not be read.
	Deliberate bool
	// Partial marks a source read only in part because it reached a bound (such as
	// TimelineOptions.MaxRows): it says so, once, for the source as a whole, and is no record.
	Partial bool
}

// MaxHistoryPerItem is the most history items one Item carries. An activity with more is yielded
// again, with the same properties, for each further batch of its items (oldest first): activityd's
// import, like Graph's deep insert (activity.MaxHistoryPerPut), keeps the items an activity already
// holds, so the batches add up, and each JSON line stays small.
const MaxHistoryPerItem = activity.MaxHistoryPerPut

// emit yields a with its history items, sorted by start, in batches of at most MaxHistoryPerItem. An
// activity holds at most activity.DefaultMaxHistoryItems items on the server: older ones are left out,
// with a Skip saying so; older is the number the caller has already left out (newestHistory). It
// returns the items yielded and the history items they carried.
func emit(yield func(Item) error, skip func(Skip), a client.Activity, source string, older int) (items, history int, err error) {
	all := a.HistoryItems
	slices.SortFunc(all, historyOrder)
	n := max(len(all)-activity.DefaultMaxHistoryItems, 0)
	if n+older > 0 {
		skip(Skip{Source: source, Deliberate: true, Reason: fmt.Sprintf("the activity has %d sessions and activityd keeps at most %d an activity: the oldest %d are left out",
			len(all)+older, activity.DefaultMaxHistoryItems, n+older)})
		all = all[n:]
	}
	for first := true; first || len(all) > 0; first = false {
		batch := all[:min(len(all), MaxHistoryPerItem)]
		all = all[len(batch):]
		a.HistoryItems = batch
		if err := yield(Item{Activity: a, Source: source}); err != nil {
			return items, history, err
		}
		items++
		history += len(batch)
	}
	return items, history, nil
}

// historyOrder is the order of an activity's history items: by start, then id.
func historyOrder(x, y client.HistoryItem) int {
	return cmp.Or(x.StartedDateTime.Compare(y.StartedDateTime), strings.Compare(x.ID, y.ID))
}

// newestHistory keeps, of the history items added to it, the activity.DefaultMaxHistoryItems last in
// historyOrder (those emit keeps), and counts the others, so that an activity read with any number
// of sessions takes no more memory than one with as many as activityd keeps. Of items equal in
// historyOrder (the same start and id) at the bound, which are kept is not said, as in emit's sort.
type newestHistory struct {
	kept  historyHeap
	older int // items added and not kept
}

func (n *newestHistory) add(h client.HistoryItem) {
	if len(n.kept) < activity.DefaultMaxHistoryItems {
		heap.Push(&n.kept, h)
		return
	}
	n.older++
	if historyOrder(h, n.kept[0]) > 0 {
		n.kept[0] = h
		heap.Fix(&n.kept, 0)
	}
}

// historyHeap is a heap (container/heap) of history items whose first is the first in historyOrder.
type historyHeap []client.HistoryItem

func (h historyHeap) Len() int           { return len(h) }
func (h historyHeap) Less(i, j int) bool { return historyOrder(h[i], h[j]) < 0 }
func (h historyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *historyHeap) Push(x any)        { *h = append(*h, x.(client.HistoryItem)) }
func (h *historyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// text returns s as a property value the server keeps: valid UTF-8 (invalid bytes become U+FFFD),
// without U+0000 (which PostgreSQL cannot store), and cut to activity.MaxStringLength bytes at a
// character boundary.
func text(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= activity.MaxStringLength {
		return s
	}
	cut := activity.MaxStringLength
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// address returns s, trimmed, when it can be kept whole as a URL property: not empty, valid UTF-8,
// without control characters and within activity.MaxStringLength bytes. A URL cut short would lead
// somewhere else, so a longer one is refused rather than cut.
func address(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > activity.MaxStringLength || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", false
		}
	}
	return s, true
}

// optional returns a pointer to s, or nil when s is empty: an absent optional property is null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// at returns a pointer to t, or nil when t is zero.
func at(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// importNamespace is the namespace of the name-based GUIDs this package makes: the version 5 GUID of
// its import path in the URL namespace of RFC 4122.
var importNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/activityd/activityd/importer"))

// nameGUID returns the name-based (version 5, SHA-1) GUID of name in namespace, RFC 4122 §4.3
// (github.com/google/uuid): the same name gives the same GUID on every run and every machine.
func nameGUID(namespace uuid.UUID, name string) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte(name))
}

// guidString formats 16 bytes as a GUID in canonical form, lower case, 8-4-4-4-12, in the order the
// bytes are given (RFC 4122's network order; see WindowsTimeline for Windows' ids).
func guidString(b []byte) string {
	var g uuid.UUID
	copy(g[:], b)
	return g.String()
}

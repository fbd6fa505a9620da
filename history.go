package activity

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// HistoryItem is a Graph activityHistoryItem: one session of engagement with an activity.
// https://learn.microsoft.com/graph/api/resources/projectrome-historyitem
type HistoryItem struct {
	ID         string // a lower-case GUID
	ActivityID int64

	StartedDateTime    time.Time
	LastActiveDateTime time.Time // zero (null on the wire) while the session is ongoing
	// ActiveDurationSeconds is computed from StartedDateTime and LastActiveDateTime when the client
	// sends none; nil (null) for an ongoing session without a client value.
	ActiveDurationSeconds *int32
	UserTimezone          string
	Blank                 Fields // FieldUserTimezone when it was sent as "" rather than null

	CreatedDateTime      time.Time
	LastModifiedDateTime time.Time
	ExpirationDateTime   time.Time
	Status               Status
}

// Validate reports, as an Invalid error naming the property, a missing startedDateTime or values that
// contradict each other.
func (h *HistoryItem) Validate() error {
	if h.StartedDateTime.IsZero() {
		return Errorf(Invalid, "The property 'startedDateTime' is required.")
	}
	if !h.LastActiveDateTime.IsZero() && h.LastActiveDateTime.Before(h.StartedDateTime) {
		return Errorf(Invalid, "The property 'lastActiveDateTime' is earlier than 'startedDateTime'.")
	}
	if h.ActiveDurationSeconds != nil && *h.ActiveDurationSeconds < 0 {
		return Errorf(Invalid, "The property 'activeDurationSeconds' is negative.")
	}
	if len(h.UserTimezone) > maxTimezoneLength {
		return Errorf(Invalid, "The property 'userTimezone' is longer than %d bytes.", maxTimezoneLength)
	}
	return checkNUL("userTimezone", h.UserTimezone)
}

// settle brings the session bounds to the stores' precision, the microsecond, and computes the
// duration when the client sent none: what is stored and answered is then the same.
func (h *HistoryItem) settle() {
	h.StartedDateTime = Truncate(h.StartedDateTime)
	if !h.LastActiveDateTime.IsZero() {
		h.LastActiveDateTime = Truncate(h.LastActiveDateTime)
	}
	h.computeDuration()
}

// computeDuration sets ActiveDurationSeconds from the session's bounds when the client sent none,
// as Graph does: start 20:54:04.345, last active 20:54:24.345 gives 20.
func (h *HistoryItem) computeDuration() {
	if h.ActiveDurationSeconds != nil || h.LastActiveDateTime.IsZero() {
		return
	}
	d := h.LastActiveDateTime.Sub(h.StartedDateTime) / time.Second
	d = min(d, 1<<31-1)
	secs := int32(d)
	h.ActiveDurationSeconds = &secs
}

// ParseGUID returns the canonical form (lower case, hyphenated, no braces) of a GUID written in any
// of the usual forms, and whether s is one.
func ParseGUID(s string) (string, bool) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return "", false
		}
	}
	return strings.ToLower(s), true
}

// NewGUID returns a random (version 4) GUID in canonical form.
func NewGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// HistoryQuery selects a page of one activity's history items, newest lastModifiedDateTime first.
type HistoryQuery struct {
	Modified TimeRange
	After    *Cursor
	Limit    int
}

// HistoryPage is one page of history items, and the cursor of the next page when there is one.
type HistoryPage struct {
	Items []*HistoryItem
	Next  *Cursor
}

// ActivityIDString returns the id of the item's activity as Graph spells it.
func (h *HistoryItem) ActivityIDString() string { return strconv.FormatInt(h.ActivityID, 10) }

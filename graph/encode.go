package graph

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/odata"
)

// Responses are appended by hand to a byte slice: contentInfo and visualElements.content must come
// back byte for byte (encoding/json would compact and re-escape them), times must be UTC with a Z, and
// a page is written without reflection.

// selection is the $select of a request: nil selects every property.
type selection map[string]bool

func (s selection) has(name string) bool { return s == nil || s[name] }

// object appends JSON members with commas between them.
type object struct {
	b     []byte
	first bool
}

func newObject(b []byte) *object { return &object{b: append(b, '{'), first: true} }

func (o *object) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *object) str(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

// optStr writes "" as null: optional strings are unset when empty, unless f is in blank (the client
// sent "").
func (o *object) optStr(k, v string, blank, f activity.Fields) {
	o.key(k)
	if v == "" && blank&f == 0 {
		o.b = append(o.b, "null"...)
	} else {
		o.b = appendString(o.b, v)
	}
}

func (o *object) time(k string, t time.Time) {
	o.key(k)
	if t.IsZero() {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = append(o.b, '"')
	o.b = odata.AppendDateTime(o.b, t)
	o.b = append(o.b, '"')
}

func (o *object) raw(k string, v []byte) {
	o.key(k)
	if v == nil {
		o.b = append(o.b, "null"...)
	} else {
		o.b = append(o.b, v...)
	}
}

func (o *object) close() []byte { return append(o.b, '}') }

// appendActivity appends a as a Graph userActivity with the selected properties; id, its public id,
// is always there. context, when not "", is written as @odata.context, and itemsNext as the
// nextLink of the expanded history items (historyItems@odata.nextLink, OData's paging of an expanded
// collection).
func appendActivity(b []byte, a *activity.Activity, id string, sel selection, context, itemsNext string) []byte {
	o := newObject(b)
	if context != "" {
		o.str("@odata.context", context)
	}
	o.str("id", id)
	if sel.has("appActivityId") {
		o.str("appActivityId", a.AppActivityID)
	}
	if sel.has("activitySourceHost") {
		o.str("activitySourceHost", a.ActivitySourceHost)
	}
	if sel.has("activationUrl") {
		o.str("activationUrl", a.ActivationURL)
	}
	if sel.has("appDisplayName") {
		o.optStr("appDisplayName", a.AppDisplayName, a.Blank, activity.FieldAppDisplayName)
	}
	if sel.has("fallbackUrl") {
		o.optStr("fallbackUrl", a.FallbackURL, a.Blank, activity.FieldFallbackURL)
	}
	if sel.has("contentUrl") {
		o.optStr("contentUrl", a.ContentURL, a.Blank, activity.FieldContentURL)
	}
	if sel.has("contentInfo") {
		o.raw("contentInfo", a.ContentInfo)
	}
	if sel.has("visualElements") {
		o.key("visualElements")
		o.b = appendVisualInfo(o.b, &a.VisualElements)
	}
	if sel.has("userTimezone") {
		o.optStr("userTimezone", a.UserTimezone, a.Blank, activity.FieldUserTimezone)
	}
	if sel.has("createdDateTime") {
		o.time("createdDateTime", a.CreatedDateTime)
	}
	if sel.has("lastModifiedDateTime") {
		o.time("lastModifiedDateTime", a.LastModifiedDateTime)
	}
	if sel.has("expirationDateTime") {
		o.time("expirationDateTime", a.ExpirationDateTime)
	}
	if sel.has("status") {
		o.str("status", string(a.Status))
	}
	if itemsNext != "" {
		o.str("historyItems@odata.nextLink", itemsNext)
	}
	if a.HistoryItems != nil {
		o.key("historyItems")
		o.b = append(o.b, '[')
		for i, h := range a.HistoryItems {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendHistoryItem(o.b, h, nil, "")
		}
		o.b = append(o.b, ']')
	}
	return o.close()
}

func appendVisualInfo(b []byte, v *activity.VisualInfo) []byte {
	o := newObject(b)
	o.str("displayText", v.DisplayText)
	o.optStr("description", v.Description, v.Blank, activity.FieldDescription)
	o.optStr("backgroundColor", v.BackgroundColor, v.Blank, activity.FieldBackgroundColor)
	o.raw("content", v.Content)
	o.key("attribution")
	if at := v.Attribution; at == nil {
		o.b = append(o.b, "null"...)
	} else {
		a := newObject(o.b)
		a.optStr("iconUrl", at.IconURL, at.Blank, activity.FieldIconURL)
		a.optStr("alternateText", at.AlternateText, at.Blank, activity.FieldAlternateText)
		if at.AlternativeText != "" || at.Blank&activity.FieldAlternativeText != 0 {
			a.str("alternativeText", at.AlternativeText) // the 2017 name: written only when sent
		}
		a.key("addImageQuery")
		if at.AddImageQuery == nil {
			a.b = append(a.b, "null"...)
		} else {
			a.b = strconv.AppendBool(a.b, *at.AddImageQuery)
		}
		o.b = a.close()
	}
	return o.close()
}

// appendHistoryItem appends h as a Graph activityHistoryItem with the selected properties.
func appendHistoryItem(b []byte, h *activity.HistoryItem, sel selection, context string) []byte {
	o := newObject(b)
	if context != "" {
		o.str("@odata.context", context)
	}
	o.str("id", h.ID)
	if sel.has("status") {
		o.str("status", string(h.Status))
	}
	if sel.has("activeDurationSeconds") {
		o.key("activeDurationSeconds")
		if h.ActiveDurationSeconds == nil {
			o.b = append(o.b, "null"...)
		} else {
			o.b = strconv.AppendInt(o.b, int64(*h.ActiveDurationSeconds), 10)
		}
	}
	if sel.has("createdDateTime") {
		o.time("createdDateTime", h.CreatedDateTime)
	}
	if sel.has("lastModifiedDateTime") {
		o.time("lastModifiedDateTime", h.LastModifiedDateTime)
	}
	if sel.has("expirationDateTime") {
		o.time("expirationDateTime", h.ExpirationDateTime)
	}
	if sel.has("startedDateTime") {
		o.time("startedDateTime", h.StartedDateTime)
	}
	if sel.has("lastActiveDateTime") {
		o.time("lastActiveDateTime", h.LastActiveDateTime)
	}
	if sel.has("userTimezone") {
		o.optStr("userTimezone", h.UserTimezone, h.Blank, activity.FieldUserTimezone)
	}
	return o.close()
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. s is valid UTF-8 (bodies are checked on the way in);
// invalid bytes, should any appear, are replaced by U+FFFD so the output is always valid JSON.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/odata"
)

// The request bodies are decoded strictly, as OData services do: unknown properties, duplicate names,
// names in the wrong case and values of the wrong JSON type are 400s naming the property. Annotations
// ("@odata.type", "prop@odata.type") are accepted and ignored. encoding/json cannot do this (it matches
// names case-insensitively and keeps the last duplicate), so bodies are walked token by token. The
// walk runs over a body that json.Valid has accepted, so it needs no syntax checks of its own and
// allocates only the strings it returns: encoding/json's Decoder.Token cost 2.4 times more.

// DefaultMaxJSONDepth bounds the nesting of any body, including free-form contentInfo and
// visualElements.content.
const DefaultMaxJSONDepth = 32

func invalid(format string, args ...any) error {
	return activity.Errorf(activity.Invalid, format, args...)
}

// decoder walks one valid JSON document.
type decoder struct {
	b []byte
	i int // the next byte to read
	// annotations are the names of the annotations of the top-level object, such as "@odata.id".
	annotations []string
	// imported is set when decoding an import line (decodeImport): the server-set times are kept, and
	// the top-level "@activityd.appId" annotation is read into app.
	imported bool
	app      string
}

func newDecoder(body []byte, maxDepth int) (*decoder, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("The request body is empty; a JSON object is required.")
	}
	if !utf8.Valid(body) {
		return nil, invalid("The request body is not valid UTF-8.")
	}
	if d := jsonDepth(body); d > maxDepth {
		return nil, invalid("The request body is nested deeper than %d levels.", maxDepth)
	}
	if !json.Valid(body) {
		return nil, syntax(body)
	}
	return &decoder{b: body}, nil
}

// syntax describes why body, which is not valid JSON, is not: encoding/json says where. Two of its
// messages are recognised by their wording; TestActivity_StrictJSON (Trailing, Broken) notices if
// that wording changes.
func syntax(body []byte) error {
	var v json.RawMessage
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value"):
		return invalid("The request body holds more than one JSON value.")
	case errors.As(err, &se) && strings.Contains(se.Error(), "unexpected end of JSON input"):
		return invalid("The request body is not valid JSON: it ends too early.")
	case errors.As(err, &se):
		return invalid("The request body is not valid JSON: %v (at byte %d).", se, se.Offset)
	}
	return invalid("The request body is not valid JSON.")
}

// jsonDepth returns the deepest nesting of objects and arrays in b, skipping strings.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// peek skips white space and the separators ',' and ':' (the document is valid, so the walk knows
// where they stand) and returns the next byte, or 0 at the end.
func (d *decoder) peek() byte {
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; c {
		case ' ', '\t', '\n', '\r', ',', ':':
		default:
			return c
		}
	}
	return 0
}

// more reports whether the object or array being read has another member.
func (d *decoder) more() bool {
	c := d.peek()
	return c != '}' && c != ']'
}

// value returns the bytes of the next value, whole, and moves past it.
func (d *decoder) value() []byte {
	c := d.peek()
	start := d.i
	switch c {
	case '"':
		d.i = stringEnd(d.b, d.i)
	case '{', '[':
		for depth := 0; ; d.i++ {
			switch d.b[d.i] {
			case '"':
				d.i = stringEnd(d.b, d.i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					d.i++
					return d.b[start:d.i]
				}
			}
		}
	default: // a number, true, false or null
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case ' ', '\t', '\n', '\r', ',', '}', ']':
				return d.b[start:d.i]
			}
			d.i++
		}
	}
	return d.b[start:d.i]
}

// stringEnd returns the index just past the string that starts with the quote at b[i].
func stringEnd(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// unquote returns the string that the JSON string literal q stands for.
func unquote(q []byte) string {
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1])
	}
	var s string
	json.Unmarshal(q, &s) // valid: checked with the whole document
	return s
}

// object reads a JSON object (or null, reporting false) and calls field for each property that is not
// an annotation. field must consume the value. path names the object in messages ("" for the body).
func (d *decoder) object(path string, field func(name, path string) error) (bool, error) {
	if ok, err := d.begin('{', path); !ok || err != nil {
		return false, err
	}
	var seen []string // objects here have a handful of properties: a slice beats a map
	for d.more() {
		name := unquote(d.value())
		full := name
		if path != "" {
			full = path + "." + name
		}
		if slices.Contains(seen, name) {
			return false, invalid("The property '%s' appears more than once.", full)
		}
		seen = append(seen, name)
		if isAnnotation(name) {
			if path == "" {
				d.annotations = append(d.annotations, name)
			}
			if d.imported && path == "" && name == appAnnotation {
				app, err := d.str(name)
				if err != nil {
					return false, err
				}
				d.app = app
				continue
			}
			d.value()
			continue
		}
		if err := field(name, full); err != nil {
			return false, err
		}
	}
	d.i++ // '}'
	return true, nil
}

// isAnnotation reports whether a member name is an OData instance or property annotation:
// "@namespace.term" or "property@namespace.term", such as "@odata.type" or "content@odata.type".
func isAnnotation(name string) bool {
	prop, term, ok := strings.Cut(name, "@")
	if !ok || (prop != "" && !isName(prop)) {
		return false
	}
	parts := strings.Split(term, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if !isName(p) {
			return false
		}
	}
	return true
}

// isName reports whether s is an OData simple identifier.
func isName(s string) bool {
	for i, c := range s {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// begin reads the opening delimiter of an object ('{') or array ('['), reporting false for null.
func (d *decoder) begin(open byte, path string) (bool, error) {
	switch c := d.peek(); c {
	case open:
		d.i++
		return true, nil
	case 'n':
		d.value()
		return false, nil
	}
	got := d.value()
	if path == "" {
		return false, invalid("The request body must be a JSON object.")
	}
	return false, wrongType(path, map[byte]string{'{': "an object", '[': "an array"}[open], got)
}

// unknown is the error for a property the type does not have; it points out a case mistake.
func unknown(full, name, typeName string, known []string) error {
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return invalid("The property '%s' does not exist on type 'microsoft.graph.%s'; did you mean '%s'? Property names are case-sensitive.", full, typeName, k)
		}
	}
	return invalid("The property '%s' does not exist on type 'microsoft.graph.%s'.", full, typeName)
}

func (d *decoder) skip() error {
	d.value()
	return nil
}

// str reads a string or null ("").
func (d *decoder) str(path string) (string, error) {
	v := d.value()
	switch v[0] {
	case 'n':
		return "", nil
	case '"':
		return unquote(v), nil
	}
	return "", wrongType(path, "a string", v)
}

// optStr reads an optional string: null is "", and "" is "" with f added to blank, so that the
// difference is kept.
func (d *decoder) optStr(path string, blank *activity.Fields, f activity.Fields) (string, error) {
	v, err := d.str(path)
	if err == nil && v == "" && d.b[d.i-1] == '"' {
		*blank |= f
	} else {
		*blank &^= f
	}
	return v, err
}

// dateTime reads a DateTimeOffset string or null (the zero time).
func (d *decoder) dateTime(path string) (time.Time, error) {
	s, err := d.str(path)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := odata.ParseDateTime(s)
	if err != nil {
		return time.Time{}, invalid("The property '%s' must be a date-time with a zone, such as 2026-11-27T10:00:00Z; '%s' is not.", path, s)
	}
	return t, nil
}

// boolean reads a boolean or null, and also the strings "true" and "false", which the Graph docs' own
// examples send for addImageQuery (the only boolean of these types).
func (d *decoder) boolean(path string) (*bool, error) {
	v := d.value()
	switch string(v) {
	case "null":
		return nil, nil
	case "true", `"true"`:
		b := true
		return &b, nil
	case "false", `"false"`:
		b := false
		return &b, nil
	}
	return nil, wrongType(path, "a boolean", v)
}

// int32 reads a whole number that fits Edm.Int32, or null.
func (d *decoder) int32(path string) (*int32, error) {
	v := d.value()
	switch c := v[0]; {
	case c == 'n':
		return nil, nil
	case c == '-' || '0' <= c && c <= '9':
		n, err := strconv.ParseInt(string(v), 10, 32)
		if err != nil {
			return nil, invalid("The property '%s' must be a whole number from -2147483648 to 2147483647; %s is not.", path, v)
		}
		i := int32(n)
		return &i, nil
	}
	return nil, wrongType(path, "a number", v)
}

// raw reads any JSON value and returns its bytes exactly as sent; null is nil. The bytes are the
// request body's own, which outlives the request's decoded values.
func (d *decoder) raw(path string) (json.RawMessage, error) {
	v := d.value()
	if string(v) == "null" {
		return nil, nil
	}
	return v, nil
}

// wrongType is the error for a value v of the wrong JSON type.
func wrongType(path, want string, v []byte) error {
	got := "a number"
	switch v[0] {
	case '"':
		got = "a string"
	case 't', 'f':
		got = "a boolean"
	case '{':
		got = "an object"
	case '[':
		got = "an array"
	case 'n':
		got = "null"
	}
	return invalid("The property '%s' must be %s, not %s.", path, want, got)
}

// activityBody is a decoded userActivity body.
type activityBody struct {
	activity.Activity
	present  map[string]bool // top-level properties the body holds
	odataID  bool            // the body itself held an @odata.id annotation (a $ref body)
	hasItems bool
}

var activityProps = []string{"id", "appActivityId", "activitySourceHost", "activationUrl", "appDisplayName",
	"fallbackUrl", "contentUrl", "contentInfo", "visualElements", "userTimezone", "createdDateTime",
	"lastModifiedDateTime", "expirationDateTime", "status", "historyItems"}

var visualInfoProps = []string{"displayText", "description", "backgroundColor", "content", "attribution"}

var imageInfoProps = []string{"iconUrl", "alternateText", "alternativeText", "addImageQuery"}

var historyItemProps = []string{"id", "startedDateTime", "lastActiveDateTime", "activeDurationSeconds",
	"userTimezone", "createdDateTime", "lastModifiedDateTime", "expirationDateTime", "status", "activity"}

// decodeActivity decodes a userActivity body. Server-set properties (id, createdDateTime,
// lastModifiedDateTime, status) are accepted and ignored, whatever their value.
func decodeActivity(body []byte, maxDepth int) (*activityBody, error) {
	d, err := newDecoder(body, maxDepth)
	if err != nil {
		return nil, err
	}
	return d.activity()
}

// appAnnotation is the instance annotation that names the app of an activity in an export line
// (Server.Export) and an import line (Server.Import).
const appAnnotation = "@activityd.appId"

// decodeImport decodes one line of an import: a userActivity as Server.Export writes it, whose
// createdDateTime and lastModifiedDateTime (its own and its history items') are kept, and whose app
// is its "@activityd.appId" annotation ("" when it has none).
func decodeImport(line []byte, maxDepth int) (*activity.Activity, string, error) {
	d, err := newDecoder(line, maxDepth)
	if err != nil {
		return nil, "", err
	}
	d.imported = true
	b, err := d.activity()
	if err != nil {
		return nil, "", err
	}
	return &b.Activity, d.app, nil
}

func (d *decoder) activity() (*activityBody, error) {
	b := &activityBody{present: make(map[string]bool)}
	a := &b.Activity
	ok, err := d.object("", func(name, path string) (err error) {
		b.present[name] = true
		switch name {
		case "appActivityId":
			a.AppActivityID, err = d.str(path)
		case "activitySourceHost":
			a.ActivitySourceHost, err = d.str(path)
		case "activationUrl":
			a.ActivationURL, err = d.str(path)
		case "appDisplayName":
			a.AppDisplayName, err = d.optStr(path, &a.Blank, activity.FieldAppDisplayName)
		case "fallbackUrl":
			a.FallbackURL, err = d.optStr(path, &a.Blank, activity.FieldFallbackURL)
		case "contentUrl":
			a.ContentURL, err = d.optStr(path, &a.Blank, activity.FieldContentURL)
		case "contentInfo":
			a.ContentInfo, err = d.raw(path)
		case "visualElements":
			err = d.visualInfo(path, &a.VisualElements)
		case "userTimezone":
			a.UserTimezone, err = d.optStr(path, &a.Blank, activity.FieldUserTimezone)
		case "expirationDateTime":
			a.ExpirationDateTime, err = d.dateTime(path)
		case "historyItems":
			b.hasItems = true
			a.HistoryItems, err = d.historyItems(path)
		case "createdDateTime":
			if d.imported {
				a.CreatedDateTime, err = d.dateTime(path)
			} else {
				err = d.skip()
			}
		case "lastModifiedDateTime":
			if d.imported {
				a.LastModifiedDateTime, err = d.dateTime(path)
			} else {
				err = d.skip()
			}
		case "id", "status":
			err = d.skip()
		default:
			err = unknown(path, name, "userActivity", activityProps)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("The request body must be a JSON object, not null.")
	}
	b.odataID = slices.Contains(d.annotations, "@odata.id")
	return b, nil
}

func (d *decoder) visualInfo(path string, v *activity.VisualInfo) error {
	*v = activity.VisualInfo{}
	_, err := d.object(path, func(name, full string) (err error) {
		switch name {
		case "displayText":
			v.DisplayText, err = d.str(full)
		case "description":
			v.Description, err = d.optStr(full, &v.Blank, activity.FieldDescription)
		case "backgroundColor":
			v.BackgroundColor, err = d.optStr(full, &v.Blank, activity.FieldBackgroundColor)
		case "content":
			v.Content, err = d.raw(full)
		case "attribution":
			err = d.imageInfo(full, &v.Attribution)
		default:
			err = unknown(full, name, "visualInfo", visualInfoProps)
		}
		return err
	})
	return err
}

func (d *decoder) imageInfo(path string, out **activity.ImageInfo) error {
	var im activity.ImageInfo
	ok, err := d.object(path, func(name, full string) (err error) {
		switch name {
		case "iconUrl":
			im.IconURL, err = d.optStr(full, &im.Blank, activity.FieldIconURL)
		case "alternateText":
			im.AlternateText, err = d.optStr(full, &im.Blank, activity.FieldAlternateText)
		case "alternativeText":
			im.AlternativeText, err = d.optStr(full, &im.Blank, activity.FieldAlternativeText)
		case "addImageQuery":
			im.AddImageQuery, err = d.boolean(full)
		default:
			err = unknown(full, name, "imageInfo", imageInfoProps)
		}
		return err
	})
	if ok {
		*out = &im
	} else {
		*out = nil
	}
	return err
}

func (d *decoder) historyItems(path string) ([]*activity.HistoryItem, error) {
	if ok, err := d.begin('[', path); !ok || err != nil {
		return nil, err
	}
	var items []*activity.HistoryItem
	for i := 0; d.more(); i++ {
		h, _, err := d.historyItem(fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if h == nil {
			return nil, invalid("The property '%s[%d]' must be an object, not null.", path, i)
		}
		items = append(items, h)
	}
	d.i++ // ']'
	return items, nil
}

// historyItem decodes one activityHistoryItem object and the set of properties it holds.
func (d *decoder) historyItem(path string) (*activity.HistoryItem, map[string]bool, error) {
	h := &activity.HistoryItem{}
	present := make(map[string]bool)
	ok, err := d.object(path, func(name, full string) (err error) {
		present[name] = true
		switch name {
		case "id":
			var id string
			if id, err = d.str(full); err == nil && id != "" {
				var valid bool
				if h.ID, valid = activity.ParseGUID(id); !valid {
					err = invalid("The property '%s' must be a GUID; '%s' is not.", full, id)
				}
			}
		case "startedDateTime":
			h.StartedDateTime, err = d.dateTime(full)
		case "lastActiveDateTime":
			h.LastActiveDateTime, err = d.dateTime(full)
		case "activeDurationSeconds":
			h.ActiveDurationSeconds, err = d.int32(full)
		case "userTimezone":
			h.UserTimezone, err = d.optStr(full, &h.Blank, activity.FieldUserTimezone)
		case "expirationDateTime":
			h.ExpirationDateTime, err = d.dateTime(full)
		case "createdDateTime":
			if d.imported {
				h.CreatedDateTime, err = d.dateTime(full)
			} else {
				err = d.skip()
			}
		case "lastModifiedDateTime":
			if d.imported {
				h.LastModifiedDateTime, err = d.dateTime(full)
			} else {
				err = d.skip()
			}
		case "status":
			err = d.skip()
		case "activity":
			err = invalid("The navigation property '%s' cannot be set; a history item belongs to the activity in its URL.", full)
		default:
			err = unknown(full, name, "activityHistoryItem", historyItemProps)
		}
		return err
	})
	if err != nil || !ok {
		return nil, nil, err
	}
	return h, present, nil
}

// decodeHistoryItem decodes an activityHistoryItem body.
func decodeHistoryItem(body []byte, maxDepth int) (*activity.HistoryItem, map[string]bool, error) {
	d, err := newDecoder(body, maxDepth)
	if err != nil {
		return nil, nil, err
	}
	h, present, err := d.historyItem("")
	if err != nil {
		return nil, nil, err
	}
	if h == nil {
		return nil, nil, invalid("The request body must be a JSON object, not null.")
	}
	return h, present, nil
}

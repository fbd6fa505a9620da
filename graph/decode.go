package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/odata"
)

// The request bodies are decoded strictly, as OData services do: unknown properties, duplicate names,
// names in the wrong case and values of the wrong JSON type are 400s naming the property. Annotations
// ("@odata.type", "prop@odata.type") are accepted and ignored. encoding/json cannot do this (it matches
// names case-insensitively and keeps the last duplicate), so bodies are walked token by token.

// DefaultMaxJSONDepth bounds the nesting of any body, including free-form contentInfo and
// visualElements.content.
const DefaultMaxJSONDepth = 32

func invalid(format string, args ...any) error {
	return activity.Errorf(activity.Invalid, format, args...)
}

// decoder walks one JSON document.
type decoder struct {
	dec *json.Decoder
	// annotations are the names of the annotations of the top-level object, such as "@odata.id".
	annotations []string
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
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return &decoder{dec: dec}, nil
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

// end checks that nothing follows the document.
func (d *decoder) end() error {
	if _, err := d.dec.Token(); err != io.EOF {
		return invalid("The request body holds more than one JSON value.")
	}
	return nil
}

// syntax turns a decoding error into a client error.
func syntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalid("The request body is not valid JSON: %v (at byte %d).", se, se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid("The request body is not valid JSON: it ends too early.")
	}
	var ae *activity.Error
	if errors.As(err, &ae) {
		return err
	}
	return invalid("The request body is not valid JSON: %v.", err)
}

// object reads a JSON object (or null, reporting false) and calls field for each property that is not
// an annotation. field must consume the value. path names the object in messages ("" for the body).
func (d *decoder) object(path string, field func(name, path string) error) (bool, error) {
	if ok, err := d.begin('{', path); !ok || err != nil {
		return false, err
	}
	seen := make(map[string]bool)
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return false, syntax(err)
		}
		name := tok.(string)
		full := name
		if path != "" {
			full = path + "." + name
		}
		if seen[name] {
			return false, invalid("The property '%s' appears more than once.", full)
		}
		seen[name] = true
		if isAnnotation(name) {
			if path == "" {
				d.annotations = append(d.annotations, name)
			}
			if err := d.skip(); err != nil {
				return false, err
			}
			continue
		}
		if err := field(name, full); err != nil {
			return false, err
		}
	}
	if _, err := d.dec.Token(); err != nil {
		return false, syntax(err)
	}
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
func (d *decoder) begin(open json.Delim, path string) (bool, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return false, syntax(err)
	}
	if tok == nil {
		return false, nil
	}
	if delim, ok := tok.(json.Delim); !ok || delim != open {
		what := map[json.Delim]string{'{': "an object", '[': "an array"}[open]
		if path == "" {
			return false, invalid("The request body must be a JSON object.")
		}
		return false, invalid("The property '%s' must be %s.", path, what)
	}
	return true, nil
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
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		return syntax(err)
	}
	return nil
}

// str reads a string or null ("").
func (d *decoder) str(path string) (string, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return "", syntax(err)
	}
	switch v := tok.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", wrongType(path, "a string", tok)
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
	tok, err := d.dec.Token()
	if err != nil {
		return nil, syntax(err)
	}
	switch v := tok.(type) {
	case nil:
		return nil, nil
	case bool:
		return &v, nil
	case string:
		if v == "true" || v == "false" {
			b := v == "true"
			return &b, nil
		}
	}
	return nil, wrongType(path, "a boolean", tok)
}

// int32 reads a whole number that fits Edm.Int32, or null.
func (d *decoder) int32(path string) (*int32, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, syntax(err)
	}
	switch v := tok.(type) {
	case nil:
		return nil, nil
	case json.Number:
		n, err := v.Int64()
		if err != nil || n < -1<<31 || n > 1<<31-1 {
			return nil, invalid("The property '%s' must be a whole number from -2147483648 to 2147483647; %s is not.", path, v)
		}
		i := int32(n)
		return &i, nil
	}
	return nil, wrongType(path, "a number", tok)
}

// raw reads any JSON value and returns its bytes exactly as sent; null is nil.
func (d *decoder) raw(path string) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		return nil, syntax(err)
	}
	if string(raw) == "null" {
		return nil, nil
	}
	return raw, nil
}

func wrongType(path, want string, tok any) error {
	var got string
	switch tok.(type) {
	case string:
		got = "a string"
	case json.Number:
		got = "a number"
	case bool:
		got = "a boolean"
	case json.Delim:
		got = "an object or array"
	default:
		got = fmt.Sprintf("%v", tok)
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
			a.AppDisplayName, err = d.str(path)
		case "fallbackUrl":
			a.FallbackURL, err = d.str(path)
		case "contentUrl":
			a.ContentURL, err = d.str(path)
		case "contentInfo":
			a.ContentInfo, err = d.raw(path)
		case "visualElements":
			err = d.visualInfo(path, &a.VisualElements)
		case "userTimezone":
			a.UserTimezone, err = d.str(path)
		case "expirationDateTime":
			a.ExpirationDateTime, err = d.dateTime(path)
		case "historyItems":
			b.hasItems = true
			a.HistoryItems, err = d.historyItems(path)
		case "id", "createdDateTime", "lastModifiedDateTime", "status":
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
	return b, d.end()
}

func (d *decoder) visualInfo(path string, v *activity.VisualInfo) error {
	*v = activity.VisualInfo{}
	_, err := d.object(path, func(name, full string) (err error) {
		switch name {
		case "displayText":
			v.DisplayText, err = d.str(full)
		case "description":
			v.Description, err = d.str(full)
		case "backgroundColor":
			v.BackgroundColor, err = d.str(full)
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
			im.IconURL, err = d.str(full)
		case "alternateText":
			im.AlternateText, err = d.str(full)
		case "alternativeText":
			im.AlternativeText, err = d.str(full)
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
	for i := 0; d.dec.More(); i++ {
		h, _, err := d.historyItem(fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if h == nil {
			return nil, invalid("The property '%s[%d]' must be an object, not null.", path, i)
		}
		items = append(items, h)
	}
	if _, err := d.dec.Token(); err != nil {
		return nil, syntax(err)
	}
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
			h.UserTimezone, err = d.str(full)
		case "expirationDateTime":
			h.ExpirationDateTime, err = d.dateTime(full)
		case "createdDateTime", "lastModifiedDateTime", "status":
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
	return h, present, d.end()
}

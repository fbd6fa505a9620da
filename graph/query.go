package graph

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/odata"
)

// option is a system query option a route accepts.
type option uint8

const (
	optTop option = 1 << iota
	optFilter
	optExpand
	optSelect
	optCount
	optSkipToken
	optDeltaToken
	optSearch
)

var optionNames = map[string]option{"$top": optTop, "$filter": optFilter, "$expand": optExpand,
	"$select": optSelect, "$count": optCount, "$skiptoken": optSkipToken, "$deltatoken": optDeltaToken,
	"$search": optSearch}

// Options of each kind of request.
const (
	listOptions        = optTop | optFilter | optExpand | optSelect | optCount | optSkipToken | optSearch
	historyListOptions = optTop | optFilter | optSelect | optCount | optSkipToken
	activityOptions    = optSelect | optExpand
	countOptions       = optFilter
)

// query is the parsed query string of a request.
type query struct {
	top        int // 0: no cap
	modified   activity.TimeRange
	expand     bool
	expandMod  activity.TimeRange // the nested $filter of $expand=historyItems(...)
	sel        selection
	selNames   []string // the $select list in the order sent, for context URLs
	count      bool
	token      *skipToken // set by newPager from skiptoken
	skiptoken  string     // the $skiptoken as sent
	deltatoken string     // the $deltatoken as sent
	search     string     // the $search words, quotes taken off
	rest       []string   // the raw name=value pairs other than $skiptoken, for nextLinks
}

// parseQuery parses the raw query string, accepting the options in allowed. System query option
// names are matched case-insensitively; an option this API does not support is a 400 that names it.
// Names and values are percent-decoded once (the Go SDK decodes %24 itself, $batch steps do not).
func parseQuery(raw string, allowed option, props []string) (*query, error) {
	q := &query{}
	seen := map[string]bool{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return nil, invalid("The query option '%s' is not correctly percent-encoded.", pair)
		}
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			return nil, invalid("The query option '%s' is not valid UTF-8 once decoded.", pair)
		}
		lname := strings.ToLower(name)
		if !strings.HasPrefix(lname, "$") {
			q.rest = append(q.rest, pair) // a custom option: allowed, and kept in nextLinks
			continue
		}
		opt, known := optionNames[lname]
		if !known || allowed&opt == 0 {
			return nil, invalid("The query option '%s' is not supported for this request.", name)
		}
		if seen[lname] {
			return nil, invalid("The query option '%s' appears more than once.", name)
		}
		seen[lname] = true
		if opt != optSkipToken && opt != optDeltaToken {
			q.rest = append(q.rest, pair)
		}
		if err := q.set(opt, value, props); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// optionName is the name of a system query option.
func optionName(opt option) string {
	for name, o := range optionNames {
		if o == opt {
			return name
		}
	}
	return "?"
}

func (q *query) set(opt option, value string, props []string) (err error) {
	switch opt {
	case optTop:
		q.top, err = odata.ParseTop(value)
	case optFilter:
		q.modified, err = timeRange("$filter", value)
	case optCount:
		q.count, err = odata.ParseCount(value)
	case optSkipToken, optDeltaToken:
		if value == "" {
			return invalid("The query option '%s' is empty; use the link of the previous answer as it is.", optionName(opt))
		}
		if q.skiptoken != "" || q.deltatoken != "" {
			return invalid("The query options $skiptoken and $deltatoken exclude each other.")
		}
		if opt == optSkipToken {
			q.skiptoken = value
		} else {
			q.deltatoken = value
		}
	case optSearch:
		// OData's $search (a documented extension for this resource): words, optionally in double
		// quotes; every word must match (activity.SearchTerms).
		if len(value) > maxSearchBytes {
			return invalid("The query option '$search' is longer than %d bytes.", maxSearchBytes)
		}
		q.search = strings.TrimSpace(strings.ReplaceAll(value, `"`, " "))
		if q.search == "" {
			return invalid("The query option '$search' is empty; give the words to search for, such as $search=\"reef knot\".")
		}
	case optSelect:
		q.sel, q.selNames, err = parseSelect(value, props)
	case optExpand:
		err = q.setExpand(value)
	}
	return err
}

func parseSelect(value string, props []string) (selection, []string, error) {
	names, err := odata.ParseSelect(value)
	if err != nil {
		return nil, nil, err
	}
	sel := selection{}
	for _, n := range names {
		if !containsExact(props, n) {
			return nil, nil, invalid("The property '%s' in $select does not exist or cannot be selected; it may be one of %s.", n, strings.Join(props, ", "))
		}
		sel[n] = true
	}
	return sel, names, nil
}

func (q *query) setExpand(value string) error {
	exp, err := odata.ParseExpand(value)
	if err != nil {
		return err
	}
	if len(exp) != 1 || exp[0].Property != "historyItems" {
		return invalid("Only $expand=historyItems is supported.")
	}
	q.expand = true
	if exp[0].Filter != nil {
		q.expandMod, err = filterRange("$expand", exp[0].Filter)
	}
	return err
}

func containsExact(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// timeRange parses a $filter into the range of lastModifiedDateTime it allows.
func timeRange(option, value string) (activity.TimeRange, error) {
	f, err := odata.ParseFilter(value)
	if err != nil {
		return activity.TimeRange{}, err
	}
	return filterRange(option, f)
}

// filterRange turns comparisons of lastModifiedDateTime into an inclusive range in whole microseconds,
// the stores' precision: "gt 10.0000005µs" becomes "from 11µs", "lt 10.0000005µs" becomes "to 10µs".
func filterRange(option string, f odata.Filter) (activity.TimeRange, error) {
	var r activity.TimeRange
	for _, c := range f {
		if c.Property != "lastModifiedDateTime" {
			return r, invalid("Invalid %s: filtering on '%s' is not supported; only lastModifiedDateTime is.", option, c.Property)
		}
		floor := c.Value.Truncate(time.Microsecond)
		ceil := floor
		if !ceil.Equal(c.Value) {
			ceil = ceil.Add(time.Microsecond)
		}
		var from, to time.Time
		switch c.Op {
		case odata.Gt:
			from = floor.Add(time.Microsecond)
		case odata.Ge:
			from = ceil
		case odata.Lt:
			to = ceil.Add(-time.Microsecond)
		case odata.Le:
			to = floor
		case odata.Eq:
			from, to = ceil, floor
		}
		if !from.IsZero() && (r.From.IsZero() || from.After(r.From)) {
			r.From = from
		}
		if !to.IsZero() && (r.To.IsZero() || to.Before(r.To)) {
			r.To = to
		}
	}
	return r, nil
}

// pageSize returns the page size: Prefer: odata.maxpagesize when the client sent it (reporting true),
// else the server's default.
func (s *Server) pageSize(r *http.Request) (int, bool) {
	for _, pref := range strings.Split(strings.Join(r.Header.Values("Prefer"), ","), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(pref), "=")
		if strings.EqualFold(strings.TrimSpace(name), "odata.maxpagesize") {
			if n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(value), `"`)); err == nil && n > 0 {
				return min(n, s.MaxPageSize), true
			}
		}
	}
	return s.PageSize, false
}

// skipToken is the state of a list between pages, kept in the nextLink: the keyset position, what is
// left of $top, and the page size the client asked for with Prefer (the SDKs do not resend Prefer
// when they follow a nextLink). A token is signed, so a client cannot alter what it carries, and
// everything it carries is checked against the same limits as the query options.
type skipToken struct {
	list      byte // 'a' activities, 'r' recent, 'h' history items, 's' search results
	cursor    activity.Cursor
	remaining int // what is left of $top; 0 when no $top was given
	pageSize  int // 0: the server's default
}

// maxSearchBytes bounds $search; maxSearchOffset bounds how deep its results are paged.
const (
	maxSearchBytes  = 256
	maxSearchOffset = 100_000
)

// skipTokenMAC is the length of a token's signature: the first 16 bytes of an HMAC-SHA256.
const skipTokenMAC = 16

// encode returns the token signed with key, in base64url, whose characters are all URL-unreserved,
// so that clients that re-encode or partly decode links (the Go SDK decodes %2E, %2D, %7E, %24)
// cannot alter it.
func (t *skipToken) encode(key []byte) string {
	payload := fmt.Appendf(nil, "3.%c.%d.%d.%s.%d.%d.%d", t.list, t.cursor.Time.UnixMicro(), t.cursor.ID, t.cursor.ItemID, t.remaining, t.pageSize, t.cursor.Offset)
	return base64.RawURLEncoding.EncodeToString(append(payload, tokenMAC(key, payload)...))
}

func tokenMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)[:skipTokenMAC]
}

// parseSkipToken checks the token's signature with key and reads it; a page size past maxPageSize
// is refused like a token that was altered.
func parseSkipToken(s string, key []byte, maxPageSize int) (*skipToken, error) {
	bad := invalid("The $skiptoken is not valid; use the @odata.nextLink of the previous page as it is.")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) > 200 || len(raw) <= skipTokenMAC {
		return nil, bad
	}
	payload, mac := raw[:len(raw)-skipTokenMAC], raw[len(raw)-skipTokenMAC:]
	if !hmac.Equal(mac, tokenMAC(key, payload)) {
		return nil, bad
	}
	parts := strings.Split(string(payload), ".")
	t := &skipToken{list: 'a'}
	if len(parts) > 1 && len(parts[1]) == 1 {
		t.list = parts[1][0]
	}
	if len(parts) != 8 || parts[0] != "3" || len(parts[1]) != 1 || !strings.Contains("arhs", parts[1]) {
		return nil, bad
	}
	offset, err := strconv.Atoi(parts[7])
	if err != nil || offset < 0 || offset > maxSearchOffset {
		return nil, bad
	}
	t.cursor.Offset = offset
	us, err1 := strconv.ParseInt(parts[2], 10, 64)
	id, err2 := strconv.ParseInt(parts[3], 10, 64)
	rem, err3 := strconv.Atoi(parts[5])
	size, err4 := strconv.Atoi(parts[6])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || id < 0 || rem < 0 || size < 0 || size > maxPageSize ||
		us < -62135596800000000 || us > 253402300799999999 {
		return nil, bad
	}
	if parts[4] != "" {
		item, ok := activity.ParseGUID(parts[4])
		if !ok || item != parts[4] {
			return nil, bad
		}
		t.cursor.ItemID = item
	}
	t.cursor.Time, t.cursor.ID, t.remaining, t.pageSize = time.UnixMicro(us).UTC(), id, rem, size
	return t, nil
}

// pager works out the size of one page and the nextLink after it.
type pager struct {
	limit     int // items on this page
	remaining int // what is left of $top before this page; 0 when no $top
	explicit  int // page size asked for with Prefer, 0 when none
	after     *activity.Cursor
	key       []byte // signs the next skiptoken
	ids       *activity.PublicIDs
}

// newPager starts or continues a paged list. A skiptoken from another kind of list is refused.
func (s *Server) newPager(w http.ResponseWriter, r *http.Request, q *query, list byte) (*pager, error) {
	size, explicit := s.pageSize(r)
	pg := &pager{remaining: q.top, key: s.keys.token, ids: s.keys.ids}
	if explicit {
		pg.explicit = size
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(size))
	}
	if q.skiptoken != "" {
		t, err := parseSkipToken(q.skiptoken, s.keys.token, s.MaxPageSize)
		if err != nil {
			return nil, err
		}
		q.token = t
		if t.cursor.ID > 0 {
			t.cursor.ID = s.keys.ids.Stored(t.cursor.ID)
		}
		if t.list != list {
			return nil, invalid("The $skiptoken belongs to another list.")
		}
		pg.after, pg.remaining = &t.cursor, t.remaining
		if t.pageSize > 0 && !explicit {
			size, pg.explicit = t.pageSize, t.pageSize
		}
	}
	pg.limit = size
	if pg.remaining > 0 {
		pg.limit = min(size, pg.remaining)
	}
	return pg, nil
}

// nextLink returns the absolute URL of the page after one that ended at next with n items, or ""
// when there is none: the store found no more, or $top is used up.
func (pg *pager) nextLink(r *http.Request, q *query, list byte, next *activity.Cursor, n int) string {
	if next == nil {
		return ""
	}
	t := &skipToken{list: list, cursor: *next, pageSize: pg.explicit}
	if t.cursor.ID > 0 {
		t.cursor.ID = pg.ids.Public(t.cursor.ID) // a token tells no more than the page did
	}
	if pg.remaining > 0 {
		if t.remaining = pg.remaining - n; t.remaining <= 0 {
			return ""
		}
	}
	pairs := append(append([]string(nil), q.rest...), "$skiptoken="+t.encode(pg.key))
	return baseURL(r) + r.URL.EscapedPath() + "?" + strings.Join(pairs, "&")
}

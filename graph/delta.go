package graph

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/activityd/activityd"
)

// Delta query on activities, in Graph's conventions for delta queries on other resources
// (https://learn.microsoft.com/graph/delta-query-overview): the first call pages through the
// current state with @odata.nextLink, and its last page carries an @odata.deltaLink; calling that
// returns each activity changed since, once, in its current state, deleted ones as
// {"id", "@removed": {"reason": "deleted"}}, then a new deltaLink. The tokens are signed and bound
// to the caller; one that is malformed, foreign or older than the change log's horizon is 410 Gone
// with syncStateNotFound and a Location to start over.

// deltaToken is the state of a delta query between calls, kept in its nextLink ($skiptoken) or
// deltaLink ($deltatoken).
type deltaToken struct {
	phase    byte              // 's': paging the initial state; 'c': paging changes
	pos      activity.Position // 's': where the changes start once the state is paged; 'c': the last change read
	cursor   activity.Cursor   // 's': the keyset position in the state (public id)
	pageSize int               // the page size the client asked for with Prefer; 0: the default
	sel      []string          // the $select of the first call; nil: every property
	expand   bool              // $expand=historyItems
}

// encode signs the token for the principal: a token shown by another principal fails its signature.
func (t *deltaToken) encode(key []byte, p activity.Principal) string {
	expand := 0
	if t.expand {
		expand = 1
	}
	payload := fmt.Appendf(nil, "d1.%c.%d.%d.%d.%d.%d.%d.%s", t.phase, t.pos.Tx, t.pos.Seq, t.cursor.Time.UnixMicro(),
		t.cursor.ID, t.pageSize, expand, strings.Join(t.sel, ","))
	return base64.RawURLEncoding.EncodeToString(append(payload, deltaMAC(key, p, payload)...))
}

func deltaMAC(key []byte, p activity.Principal, payload []byte) []byte {
	return tokenMAC(key, append(fmt.Appendf(nil, "%s\x00%s\x00%s\x00", p.TenantID, p.UserID, p.AppID), payload...))
}

// parseDeltaToken checks the token's signature for the principal and reads it. Any failure is the
// same: the token does not exist.
func parseDeltaToken(s string, key []byte, p activity.Principal, maxPageSize int) (*deltaToken, bool) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) > 1024 || len(raw) <= skipTokenMAC {
		return nil, false
	}
	payload, mac := raw[:len(raw)-skipTokenMAC], raw[len(raw)-skipTokenMAC:]
	if !hmac.Equal(mac, deltaMAC(key, p, payload)) {
		return nil, false
	}
	parts := strings.SplitN(string(payload), ".", 9)
	if len(parts) != 9 || parts[0] != "d1" || (parts[1] != "s" && parts[1] != "c") {
		return nil, false
	}
	var n [6]int64
	for i := range n {
		if n[i], err = strconv.ParseInt(parts[i+2], 10, 64); err != nil {
			return nil, false
		}
	}
	t := &deltaToken{phase: parts[1][0], pos: activity.Position{Tx: n[0], Seq: n[1]},
		cursor: activity.Cursor{Time: time.UnixMicro(n[2]).UTC(), ID: n[3]}, pageSize: int(n[4]), expand: n[5] == 1}
	if t.pageSize < 0 || t.pageSize > maxPageSize {
		return nil, false
	}
	if parts[8] != "" {
		t.sel = strings.Split(parts[8], ",")
	}
	return t, true
}

// handleDelta serves GET …/activities/delta: the initial state, then the changes since a token; with
// Accept: text/event-stream, the live stream of them (stream.go).
func (s *Server) handleDelta(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	q, err := parseQuery(r.URL.RawQuery, optSelect|optExpand|optSkipToken|optDeltaToken, activityProps)
	if err != nil {
		return err
	}
	t, err := s.deltaState(r, rp, q, p)
	if err != nil {
		return err
	}
	if wantsEventStream(r) {
		return s.stream(w, r, rp, p, t)
	}
	if t.phase == 's' {
		return s.deltaInitial(w, r, rp, p, t)
	}
	return s.deltaChanges(w, r, rp, p, t)
}

// deltaState works out where a delta call starts: from its token, or, on a first call, from the
// current state (or from now, with $deltatoken=latest).
func (s *Server) deltaState(r *http.Request, rp *resourcePath, q *query, p activity.Principal) (*deltaToken, error) {
	raw := q.skiptoken
	if q.deltatoken != "" {
		raw = q.deltatoken
	}
	if raw == "" || raw == "latest" {
		if q.expandMod != (activity.TimeRange{}) {
			return nil, invalid("A delta query takes $expand=historyItems without a nested $filter.")
		}
		log, err := s.service.Store.ChangeLog(r.Context())
		if err != nil {
			return nil, err
		}
		t := &deltaToken{phase: 's', pos: log.Latest, sel: q.selNames, expand: q.expand}
		if raw == "latest" {
			t.phase = 'c'
		}
		return t, nil
	}
	if q.sel != nil || q.expand {
		return nil, invalid("A delta query keeps its $select and $expand in its token; follow the nextLink or deltaLink as it is, without adding query options.")
	}
	t, ok := parseDeltaToken(raw, s.keys.token, p, s.MaxPageSize)
	if ok && t.phase == 'c' {
		log, err := s.service.Store.ChangeLog(r.Context())
		if err != nil {
			return nil, err
		}
		ok = !t.pos.Before(log.Horizon)
	}
	if !ok {
		return nil, s.syncStateNotFound(r, rp)
	}
	return t, nil
}

// syncStateNotFound is Graph's answer to a delta token it cannot continue from: 410 Gone, with the
// delta query to start over in Location.
func (s *Server) syncStateNotFound(r *http.Request, rp *resourcePath) error {
	return &httpError{status: http.StatusGone, code: "syncStateNotFound",
		message:  "The $deltatoken or $skiptoken is not valid or has expired; start over with a delta query without a token, at the URL in Location.",
		location: baseURL(r) + "/" + rp.version + "/me/activities/delta"}
}

// deltaPageSize is the page size of a delta call: the token's, else Prefer's, else the default.
func (s *Server) deltaPageSize(w http.ResponseWriter, r *http.Request, t *deltaToken) int {
	size, explicit := s.pageSize(r)
	if explicit {
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(size))
		t.pageSize = size
	} else if t.pageSize > 0 {
		size = t.pageSize
	}
	if t.expand {
		size = min(size, max(1, s.maxExpandItemsPerPage()/s.maxExpandItems()))
	}
	return size
}

// deltaInitial pages through the current state; the last page's deltaLink starts the changes at the
// position the first call saw, so a change made while paging is told again, never lost.
func (s *Server) deltaInitial(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal, t *deltaToken) error {
	ctx := r.Context()
	aq := activity.ActivityQuery{Limit: s.deltaPageSize(w, r, t), MaxBytes: s.maxPageBytes()}
	if t.cursor.ID > 0 {
		aq.After = &activity.Cursor{Time: t.cursor.Time, ID: s.keys.ids.Stored(t.cursor.ID)}
	}
	page, err := s.service.ListActivities(ctx, p, aq)
	if err != nil {
		return err
	}
	more, err := s.expandDelta(ctx, p, page.Activities, t)
	if err != nil {
		return err
	}
	next, link := t.pos, "@odata.deltaLink"
	nt := &deltaToken{phase: 'c', pos: next, pageSize: t.pageSize, sel: t.sel, expand: t.expand}
	if page.Next != nil {
		nt.phase, nt.cursor, link = 's', activity.Cursor{Time: page.Next.Time, ID: s.keys.ids.Public(page.Next.ID)}, "@odata.nextLink"
	}
	b := s.beginDeltaPage(r, rp, p, link, nt)
	for i, a := range page.Activities {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendActivity(b, a, s.publicID(a.ID), selectionOf(t.sel), "", s.itemsNextLink(r, rp, a, &query{}, more))
	}
	s.writeJSON(w, http.StatusOK, endPage(b))
	return nil
}

// deltaChanges answers the activities changed after the token's position, each once in its current
// state, or as removed.
func (s *Server) deltaChanges(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal, t *deltaToken) error {
	ctx := r.Context()
	entries, page, err := s.changedActivities(ctx, p, t, s.deltaPageSize(w, r, t))
	if err != nil {
		return err
	}
	nt := &deltaToken{phase: 'c', pos: page.Next, pageSize: t.pageSize, sel: t.sel, expand: t.expand}
	link := "@odata.deltaLink"
	if page.More {
		link = "@odata.nextLink"
	}
	b := s.beginDeltaPage(r, rp, p, link, nt)
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendDeltaEntry(b, r, rp, e, t)
	}
	s.writeJSON(w, http.StatusOK, endPage(b))
	return nil
}

// deltaEntry is one activity of a delta page: its current state, or its id when it is gone.
type deltaEntry struct {
	id       int64              // stored id
	activity *activity.Activity // nil: deleted or expired
	more     bool               // its expanded history items were cut
	change   activity.Change    // the last change of it on the page
}

// changedActivities reads a page of changes after t.pos and the current state of the activities
// they name, each once, in the order of its last change.
func (s *Server) changedActivities(ctx context.Context, p activity.Principal, t *deltaToken, limit int) ([]deltaEntry, *activity.ChangePage, error) {
	page, err := s.service.Store.Changes(ctx, p, activity.ChangeQuery{After: t.pos, Limit: limit})
	if err != nil {
		return nil, nil, err
	}
	last := map[int64]int{}
	for i, c := range page.Changes {
		last[c.ActivityID] = i
	}
	var ids []int64
	for i, c := range page.Changes {
		if last[c.ActivityID] == i {
			ids = append(ids, c.ActivityID)
		}
	}
	found, err := s.service.Store.ActivitiesByID(ctx, p, ids)
	if err != nil {
		return nil, nil, err
	}
	var live []*activity.Activity
	entries := make([]deltaEntry, len(ids))
	for i, id := range ids {
		entries[i] = deltaEntry{id: id, activity: found[id], change: page.Changes[last[id]]}
		if found[id] != nil {
			live = append(live, found[id])
		}
	}
	more, err := s.expandDelta(ctx, p, live, t)
	if err != nil {
		return nil, nil, err
	}
	for i := range entries {
		entries[i].more = more[entries[i].id]
	}
	return entries, page, nil
}

func (s *Server) expandDelta(ctx context.Context, p activity.Principal, as []*activity.Activity, t *deltaToken) (map[int64]bool, error) {
	if !t.expand || len(as) == 0 {
		return nil, nil
	}
	return s.service.ExpandHistoryItems(ctx, p, as, activity.TimeRange{}, s.maxExpandItems())
}

// appendDeltaEntry appends one entry of a delta page.
func (s *Server) appendDeltaEntry(b []byte, r *http.Request, rp *resourcePath, e deltaEntry, t *deltaToken) []byte {
	if e.activity == nil {
		o := newObject(b)
		o.str("id", s.publicID(e.id))
		o.key("@removed")
		removed := newObject(o.b)
		removed.str("reason", "deleted")
		o.b = removed.close()
		return o.close()
	}
	more := map[int64]bool{e.id: e.more}
	return appendActivity(b, e.activity, s.publicID(e.id), selectionOf(t.sel), "", s.itemsNextLink(r, rp, e.activity, &query{}, more))
}

// beginDeltaPage starts a delta page whose link (@odata.nextLink or @odata.deltaLink) carries nt.
func (s *Server) beginDeltaPage(r *http.Request, rp *resourcePath, p activity.Principal, link string, nt *deltaToken) []byte {
	param := "$deltatoken="
	if link == "@odata.nextLink" {
		param = "$skiptoken="
	}
	o := newObject(make([]byte, 0, 4096))
	o.str("@odata.context", contextURL(r, rp, "Collection(microsoft.graph.userActivity)"))
	o.str(link, baseURL(r)+"/"+rp.version+"/me/activities/delta?"+param+nt.encode(s.keys.token, p))
	o.key("value")
	return append(o.b, '[')
}

// selectionOf turns a $select list kept in a token into a selection.
func selectionOf(names []string) selection {
	if names == nil {
		return nil
	}
	sel := selection{}
	for _, n := range names {
		sel[n] = true
	}
	return sel
}

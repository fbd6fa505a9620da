package graph

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/activityd/activityd"
)

// contextURL returns the @odata.context of a response: the service root, "$metadata#" and fragment.
func contextURL(r *http.Request, rp *resourcePath, fragment string) string {
	return baseURL(r) + "/" + rp.version + "/$metadata#" + fragment
}

// userFragment is the users('{id}') segment of a context URL for the caller.
func userFragment(p activity.Principal) string {
	return "users('" + url.PathEscape(p.UserID) + "')"
}

// userProps are the properties of the user object that GET /me answers: Graph's default set for a
// user (https://learn.microsoft.com/graph/api/user-get). activityd knows a user only from the token,
// so what the token does not say is null.
var userProps = []string{"id", "displayName", "userPrincipalName", "mail", "givenName", "surname",
	"jobTitle", "mobilePhone", "officeLocation", "preferredLanguage", "businessPhones"}

// handleMe answers the user object of the caller (/me, or /users/{id} for the caller), with $select:
// how the Go SDK's samples and most apps resolve the signed-in user.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	q, err := parseQuery(r.URL.RawQuery, optSelect, userProps)
	if err != nil {
		return err
	}
	o := newObject(nil)
	fragment := "users/$entity"
	if q.sel != nil {
		fragment = "users(" + strings.Join(q.selNames, ",") + ")/$entity"
	}
	o.str("@odata.context", contextURL(r, rp, fragment))
	for _, name := range userProps {
		if !q.sel.has(name) {
			continue
		}
		switch name {
		case "id":
			o.str("id", p.UserID)
		case "displayName", "userPrincipalName":
			o.optStr(name, p.UserName, 0, 0)
		case "businessPhones":
			o.key(name)
			o.b = append(o.b, "[]"...)
		default:
			o.optStr(name, "", 0, 0)
		}
	}
	s.writeJSON(w, http.StatusOK, o.close())
	return nil
}

func (s *Server) handleActivityList(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	list, options, context := byte('a'), option(listOptions), contextURL(r, rp, userFragment(p)+"/activities")
	if rp.kind == kindRecent {
		list, options, context = 'r', listOptions&^optCount, contextURL(r, rp, "Collection(microsoft.graph.userActivity)")
	}
	q, err := parseQuery(r.URL.RawQuery, options, activityProps)
	if err != nil {
		return err
	}
	if q.search != "" {
		if list == 'r' {
			return invalid("The query option '$search' is not supported for this request.")
		}
		if q.count {
			return invalid("The query options $search and $count cannot be used together.")
		}
		list = 's' // ranked by relevance: paged by position, not by time
	}
	pg, err := s.newPager(w, r, q, list)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if q.expand {
		// Expanded pages hold at most MaxExpandItemsPerPage items, MaxExpandItems of each activity.
		pg.limit = min(pg.limit, max(1, s.maxExpandItemsPerPage()/s.maxExpandItems()))
	}
	aq := activity.ActivityQuery{Modified: q.modified, After: pg.after, Limit: pg.limit, MaxBytes: s.maxPageBytes(), Search: q.search}
	var page *activity.ActivityPage
	if list == 'r' {
		page, err = s.service.RecentActivities(ctx, p, aq)
	} else {
		page, err = s.service.ListActivities(ctx, p, aq)
	}
	var more map[int64]bool
	if err == nil && q.expand {
		more, err = s.service.ExpandHistoryItems(ctx, p, page.Activities, q.expandMod, s.maxExpandItems())
	}
	count := -1
	if err == nil && q.count && q.token == nil {
		count, err = s.service.CountActivities(ctx, p, q.modified)
	}
	if err != nil {
		return err
	}
	next := pg.nextLink(r, q, list, page.Next, len(page.Activities))
	b := beginPage(make([]byte, 0, 4096), context, count, next)
	for i, a := range page.Activities {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendActivity(b, a, s.publicID(a.ID), q.sel, "", s.itemsNextLink(r, rp, a, q, more))
	}
	s.writeJSON(w, http.StatusOK, endPage(b))
	return nil
}

// beginPage starts a collection response; count < 0 leaves out @odata.count, and next "" leaves out
// @odata.nextLink (a null or empty one breaks the JavaScript client's page iterator).
func beginPage(b []byte, context string, count int, next string) []byte {
	o := newObject(b)
	o.str("@odata.context", context)
	if count >= 0 {
		o.key("@odata.count")
		o.b = strconv.AppendInt(o.b, int64(count), 10)
	}
	if next != "" {
		o.str("@odata.nextLink", next)
	}
	o.key("value")
	return append(o.b, '[')
}

func endPage(b []byte) []byte { return append(b, ']', '}') }

func (s *Server) handleActivityCount(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	q, err := parseQuery(r.URL.RawQuery, countOptions, nil)
	if err != nil {
		return err
	}
	n, err := s.service.CountActivities(r.Context(), p, q.modified)
	if err != nil {
		return err
	}
	writeCount(w, n)
	return nil
}

// writeCount answers a /$count request: a plain-text integer, as the SDKs' Count().Get expects.
func writeCount(w http.ResponseWriter, n int) {
	body := strconv.Itoa(n)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}

func (s *Server) handleActivityGet(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	q, err := parseQuery(r.URL.RawQuery, activityOptions, activityProps)
	if err != nil {
		return err
	}
	a, err := s.service.Activity(r.Context(), p, s.ref(rp.key))
	var more map[int64]bool
	if err == nil && q.expand {
		more, err = s.service.ExpandHistoryItems(r.Context(), p, []*activity.Activity{a}, q.expandMod, s.maxExpandItems())
	}
	if err != nil {
		return err
	}
	s.writeActivity(w, r, rp, p, http.StatusOK, a, q.sel, s.itemsNextLink(r, rp, a, q, more))
	return nil
}

// writeActivity writes one activity; itemsNext, when not "", is the nextLink of its expanded history
// items.
func (s *Server) writeActivity(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal, status int, a *activity.Activity, sel selection, itemsNext string) {
	if status == http.StatusCreated {
		w.Header().Set("Location", baseURL(r)+"/"+rp.version+"/me/activities/"+s.publicID(a.ID))
	}
	s.writeJSON(w, status, appendActivity(nil, a, s.publicID(a.ID), sel, contextURL(r, rp, userFragment(p)+"/activities/$entity"), itemsNext))
}

// readActivity reads and decodes a userActivity request body; a write takes no query options.
func (s *Server) readActivity(r *http.Request) (*activityBody, error) {
	if _, err := parseQuery(r.URL.RawQuery, 0, nil); err != nil {
		return nil, err
	}
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeActivity(body, s.MaxJSONDepth)
}

// handleActivityPut is Graph's documented upsert: the URL names the appActivityId.
// https://learn.microsoft.com/graph/api/projectrome-put-activity
func (s *Server) handleActivityPut(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	b, err := s.readActivity(r)
	if err != nil {
		return err
	}
	key, err := s.putKey(r.Context(), p, rp, b.AppActivityID)
	if err != nil {
		return err
	}
	b.AppActivityID = key
	return s.upsert(w, r, rp, p, b)
}

// putKey returns the appActivityId a PUT names. The URL segment, decoded once, is the key; a body
// that repeats the segment exactly as sent (percent-encoded text used as an id, as a Timeline browser
// extension sent it) names the segment as sent instead, and a body without appActivityId at such a
// URL updates the activity stored under the segment as sent, when one exists and none is stored
// under the decoded key. So no spelling of one key creates a second activity.
func (s *Server) putKey(ctx context.Context, p activity.Principal, rp *resourcePath, body string) (string, error) {
	switch {
	case body == rp.key:
		return rp.key, nil
	case body != "" && body == rp.rawKey:
		return rp.rawKey, nil
	case body != "":
		return "", invalid("The appActivityId in the body ('%s') differs from the one in the URL ('%s').", body, rp.key)
	case rp.rawKey == rp.key:
		return rp.key, nil
	}
	if ok, err := s.hasAppActivityID(ctx, p, rp.key); ok || err != nil {
		return rp.key, err
	}
	if ok, err := s.hasAppActivityID(ctx, p, rp.rawKey); ok || err != nil {
		return rp.rawKey, err
	}
	return rp.key, nil
}

// hasAppActivityID reports whether the caller has a live activity with the appActivityId.
func (s *Server) hasAppActivityID(ctx context.Context, p activity.Principal, key string) (bool, error) {
	a, err := s.service.Activity(ctx, p, activity.Ref{AppActivityID: key})
	if activity.ErrorCode(err) == activity.NotFound {
		return false, nil
	}
	return err == nil && a.AppActivityID == key, err
}

// resolveKey makes a GET, PATCH, DELETE or history item request whose key segment holds escapes
// name the activity stored under the segment as sent, when none has the decoded key (see putKey).
func (s *Server) resolveKey(ctx context.Context, p activity.Principal, rp *resourcePath) error {
	if rp.rawKey == rp.key {
		return nil
	}
	if _, err := s.service.Activity(ctx, p, s.ref(rp.key)); activity.ErrorCode(err) != activity.NotFound {
		return err
	}
	if ok, err := s.hasAppActivityID(ctx, p, rp.rawKey); ok || err != nil {
		rp.key = rp.rawKey
		return err
	}
	return nil
}

// handleActivityPost creates or replaces the activity keyed by the body's appActivityId: the SDKs'
// typed Post, and the seed's POST …/activities/$ref with a userActivity body.
func (s *Server) handleActivityPost(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	b, err := s.readActivity(r)
	if err != nil {
		return err
	}
	if rp.kind == kindActivitiesRef && b.odataID && len(b.present) == 0 {
		return invalid("Activities are contained in the user, not referenced: POST the userActivity itself, without @odata.id.")
	}
	return s.upsert(w, r, rp, p, b)
}

func (s *Server) upsert(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal, b *activityBody) error {
	a := &b.Activity
	created, err := s.service.UpsertActivity(r.Context(), p, a)
	if err != nil {
		return err
	}
	s.writeActivity(w, r, rp, p, createdStatus(created), a, nil, "")
	return nil
}

// createdStatus is the status of an upsert: 201 when it created the resource, 200 when it replaced it.
func createdStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// handleActivityPatch merges the properties the body holds into the stored activity; a complex
// property (visualElements) is replaced whole, as Graph does.
func (s *Server) handleActivityPatch(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	b, err := s.readActivity(r)
	if err != nil {
		return err
	}
	if b.hasItems {
		return invalid("The property 'historyItems' cannot be changed with PATCH; use the activity's historyItems collection.")
	}
	a, err := s.service.UpdateActivity(r.Context(), p, s.ref(rp.key), func(a *activity.Activity) { mergeActivity(a, b) })
	if err != nil {
		return err
	}
	s.writeActivity(w, r, rp, p, http.StatusOK, a, nil, "")
	return nil
}

func mergeActivity(a *activity.Activity, b *activityBody) {
	for name := range b.present {
		switch name {
		case "appActivityId":
			a.AppActivityID = b.AppActivityID
		case "activitySourceHost":
			a.ActivitySourceHost = b.ActivitySourceHost
		case "activationUrl":
			a.ActivationURL = b.ActivationURL
		case "appDisplayName":
			a.AppDisplayName = b.AppDisplayName
			a.Blank = a.Blank&^activity.FieldAppDisplayName | b.Blank&activity.FieldAppDisplayName
		case "fallbackUrl":
			a.FallbackURL = b.FallbackURL
			a.Blank = a.Blank&^activity.FieldFallbackURL | b.Blank&activity.FieldFallbackURL
		case "contentUrl":
			a.ContentURL = b.ContentURL
			a.Blank = a.Blank&^activity.FieldContentURL | b.Blank&activity.FieldContentURL
		case "contentInfo":
			a.ContentInfo = b.ContentInfo
		case "visualElements":
			a.VisualElements = b.VisualElements
		case "userTimezone":
			a.UserTimezone = b.UserTimezone
			a.Blank = a.Blank&^activity.FieldUserTimezone | b.Blank&activity.FieldUserTimezone
		case "expirationDateTime":
			a.ExpirationDateTime = b.ExpirationDateTime
		}
	}
}

func (s *Server) handleActivityDelete(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	if _, err := parseQuery(r.URL.RawQuery, 0, nil); err != nil {
		return err
	}
	if err := s.service.DeleteActivity(r.Context(), p, s.ref(rp.key)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package graph

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/odata"
)

// historyContext is the @odata.context of an activity's history items, with suffix "" or "/$entity".
func historyContext(r *http.Request, rp *resourcePath, p activity.Principal, suffix string) string {
	return contextURL(r, rp, userFragment(p)+"/activities('"+url.PathEscape(rp.key)+"')/historyItems"+suffix)
}

// itemID returns the history item id of the path in canonical form; ids are GUIDs.
func itemID(rp *resourcePath) (string, error) {
	id, ok := activity.ParseGUID(rp.itemID)
	if !ok {
		return "", invalid("The history item id '%s' is not a GUID.", rp.itemID)
	}
	return id, nil
}

func (s *Server) handleHistoryItemList(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	q, err := parseQuery(r.URL.RawQuery, historyListOptions, historyItemProps)
	if err != nil {
		return err
	}
	pg, err := s.newPager(w, r, q, 'h')
	if err != nil {
		return err
	}
	ctx := r.Context()
	page, err := s.service.ListHistoryItems(ctx, p, s.ref(rp.key), activity.HistoryQuery{Modified: q.modified, After: pg.after, Limit: pg.limit})
	count := -1
	if err == nil && q.count && q.token == nil {
		count, err = s.service.CountHistoryItems(ctx, p, s.ref(rp.key), q.modified)
	}
	if err != nil {
		return err
	}
	b := beginPage(make([]byte, 0, 4096), historyContext(r, rp, p, ""), count, pg.nextLink(r, q, 'h', page.Next, len(page.Items)))
	for i, h := range page.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHistoryItem(b, h, q.sel, "")
	}
	s.writeJSON(w, http.StatusOK, endPage(b))
	return nil
}

func (s *Server) handleHistoryItemCount(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	q, err := parseQuery(r.URL.RawQuery, countOptions, nil)
	if err != nil {
		return err
	}
	n, err := s.service.CountHistoryItems(r.Context(), p, s.ref(rp.key), q.modified)
	if err != nil {
		return err
	}
	writeCount(w, n)
	return nil
}

func (s *Server) handleHistoryItemGet(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	q, err := parseQuery(r.URL.RawQuery, optSelect, historyItemProps)
	if err != nil {
		return err
	}
	id, err := itemID(rp)
	if err != nil {
		return err
	}
	h, err := s.service.HistoryItem(r.Context(), p, s.ref(rp.key), id)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, appendHistoryItem(nil, h, q.sel, historyContext(r, rp, p, "/$entity")))
	return nil
}

// handleHistoryItemActivity is the item's back-link to its activity.
func (s *Server) handleHistoryItemActivity(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	q, err := parseQuery(r.URL.RawQuery, activityOptions, activityProps)
	if err != nil {
		return err
	}
	id, err := itemID(rp)
	if err != nil {
		return err
	}
	ctx := r.Context()
	h, err := s.service.HistoryItem(ctx, p, s.ref(rp.key), id)
	var a *activity.Activity
	if err == nil {
		a, err = s.service.Activity(ctx, p, activity.Ref{ID: h.ActivityID})
	}
	var more map[int64]bool
	if err == nil && q.expand {
		more, err = s.service.ExpandHistoryItems(ctx, p, []*activity.Activity{a}, q.expandMod, s.maxExpandItems())
	}
	if err != nil {
		return err
	}
	s.writeActivity(w, r, rp, p, http.StatusOK, a, q.sel, s.itemsNextLink(r, rp, a, q, more))
	return nil
}

// readHistoryItem reads and decodes an activityHistoryItem request body.
func (s *Server) readHistoryItem(r *http.Request) (*activity.HistoryItem, map[string]bool, error) {
	if _, err := parseQuery(r.URL.RawQuery, 0, nil); err != nil {
		return nil, nil, err
	}
	body, err := s.readBody(r)
	if err != nil {
		return nil, nil, err
	}
	return decodeHistoryItem(body, s.MaxJSONDepth)
}

// handleHistoryItemPut creates or replaces the history item whose GUID the URL names.
// https://learn.microsoft.com/graph/api/projectrome-put-historyitem
func (s *Server) handleHistoryItemPut(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	id, err := itemID(rp)
	if err != nil {
		return err
	}
	h, _, err := s.readHistoryItem(r)
	if err != nil {
		return err
	}
	if h.ID != "" && h.ID != id {
		return invalid("The id in the body ('%s') differs from the one in the URL ('%s').", h.ID, id)
	}
	h.ID = id
	return s.putHistoryItem(w, r, rp, p, h)
}

// handleHistoryItemPost creates a history item, with the body's id or a new one; an item with the
// body's id is replaced, as activities are.
func (s *Server) handleHistoryItemPost(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	h, _, err := s.readHistoryItem(r)
	if err != nil {
		return err
	}
	return s.putHistoryItem(w, r, rp, p, h)
}

func (s *Server) putHistoryItem(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal, h *activity.HistoryItem) error {
	created, err := s.service.PutHistoryItem(r.Context(), p, s.ref(rp.key), h)
	if err != nil {
		return err
	}
	s.writeJSON(w, createdStatus(created), appendHistoryItem(nil, h, nil, historyContext(r, rp, p, "/$entity")))
	return nil
}

func (s *Server) handleHistoryItemPatch(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	id, err := itemID(rp)
	if err != nil {
		return err
	}
	patch, present, err := s.readHistoryItem(r)
	if err != nil {
		return err
	}
	if patch.ID != "" && patch.ID != id {
		return invalid("The property 'id' cannot be changed.")
	}
	h, err := s.service.UpdateHistoryItem(r.Context(), p, s.ref(rp.key), id, func(h *activity.HistoryItem) {
		for name := range present {
			switch name {
			case "startedDateTime":
				h.StartedDateTime = patch.StartedDateTime
			case "lastActiveDateTime":
				h.LastActiveDateTime = patch.LastActiveDateTime
			case "activeDurationSeconds":
				h.ActiveDurationSeconds = patch.ActiveDurationSeconds
			case "userTimezone":
				h.UserTimezone = patch.UserTimezone
				h.Blank = patch.Blank
			case "expirationDateTime":
				h.ExpirationDateTime = patch.ExpirationDateTime
			}
		}
	})
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, appendHistoryItem(nil, h, nil, historyContext(r, rp, p, "/$entity")))
	return nil
}

func (s *Server) handleHistoryItemDelete(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	id, err := itemID(rp)
	if err == nil {
		_, err = parseQuery(r.URL.RawQuery, 0, nil)
	}
	if err == nil {
		err = s.service.DeleteHistoryItem(r.Context(), p, s.ref(rp.key), id)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// itemsNextLink is the historyItems@odata.nextLink of an activity whose expanded history items were
// cut at MaxExpandItems: the activity's historyItems collection after its last item shown, with the
// $filter of the $expand. It is "" when nothing was cut.
func (s *Server) itemsNextLink(r *http.Request, rp *resourcePath, a *activity.Activity, q *query, more map[int64]bool) string {
	if !more[a.ID] || len(a.HistoryItems) == 0 {
		return ""
	}
	last := a.HistoryItems[len(a.HistoryItems)-1]
	t := &skipToken{list: 'h', cursor: activity.Cursor{Time: last.LastModifiedDateTime, ItemID: last.ID}}
	link := baseURL(r) + "/" + rp.version + "/me/activities/" + s.publicID(a.ID) + "/historyItems?"
	if f := filterText(q.expandMod); f != "" {
		link += "$filter=" + strings.ReplaceAll(url.QueryEscape(f), "+", "%20") + "&"
	}
	return link + "$skiptoken=" + t.encode(s.keys.token)
}

// filterText writes a range of lastModifiedDateTime as a $filter; "" for the whole range.
func filterText(r activity.TimeRange) string {
	var parts []string
	if !r.From.IsZero() {
		parts = append(parts, "lastModifiedDateTime ge "+odata.FormatDateTime(r.From))
	}
	if !r.To.IsZero() {
		parts = append(parts, "lastModifiedDateTime le "+odata.FormatDateTime(r.To))
	}
	return strings.Join(parts, " and ")
}

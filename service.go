package activity

import (
	"context"
	"time"
)

// Defaults for Service.
const (
	DefaultTTL             = 30 * 24 * time.Hour  // Graph's examples expire everything 30 days after the last write
	DefaultRetention       = 365 * 24 * time.Hour // the latest expiration a client may ask for
	DefaultMaxContentBytes = 64 << 10             // contentInfo, and visualElements.content, each
	DefaultMaxDeepInsert   = 100                  // history items in one activity body
	DefaultMaxHistoryItems = 5000                 // history items one activity may hold
)

// Service holds the rules every backend shares: server-set properties, expiration, computed durations,
// which key a URL names. Handlers call it; it calls a Store.
type Service struct {
	Store Store
	// Now returns the current time; nil means time.Now. Tests set it to move time.
	Now func() time.Time
	// TTL is how long after its last write an object lives when the client asks for nothing else.
	TTL time.Duration
	// Retention is the latest expiration, from the last write, that a client may ask for.
	Retention time.Duration
	// MaxContentBytes bounds contentInfo and visualElements.content, each.
	MaxContentBytes int
	// MaxDeepInsert bounds the history items one activity body may carry.
	MaxDeepInsert int
	// MaxHistoryItems bounds the history items one activity may hold, so that no activity grows
	// without end (each read pages them, but deleting an activity deletes them all at once).
	MaxHistoryItems int
	// Observe, when set, is called after each of the Service's operations on the store (every
	// exported method but RunPurge) with its name (upsert_activity, list_activities, …), how long it
	// took, and its error: nil, or classified by the store (Classify: Unavailable, StorageFull, …).
	Observe func(op string, d time.Duration, err error)
}

// started is the start of an operation for observe: the time, or zero (no clock read on the
// request path) when nothing observes.
func (s *Service) started() time.Time {
	if s.Observe == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe reports an operation that began at start (Service.started) and ended with *err to
// Observe.
func (s *Service) observe(op string, start time.Time, err *error) {
	if s.Observe != nil && !start.IsZero() {
		s.Observe(op, time.Since(start), Classify(s.Store, *err))
	}
}

// NewService returns a Service on store with the default TTL and retention.
func NewService(store Store) *Service {
	return &Service{Store: store, TTL: DefaultTTL, Retention: DefaultRetention,
		MaxContentBytes: DefaultMaxContentBytes, MaxDeepInsert: DefaultMaxDeepInsert, MaxHistoryItems: DefaultMaxHistoryItems}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return Truncate(s.Now())
	}
	return Truncate(time.Now())
}

// expiry returns the client's requested expiration when it lies in the future and within the
// retention limit, and now + TTL otherwise.
func (s *Service) expiry(requested, now time.Time) time.Time {
	if requested.After(now) && !requested.After(now.Add(s.Retention)) {
		return Truncate(requested)
	}
	return now.Add(s.TTL)
}

// validate checks a's own rules and the service's limits on free-form JSON.
func (s *Service) validate(a *Activity) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if len(a.ContentInfo) > s.MaxContentBytes {
		return Errorf(Invalid, "The property 'contentInfo' is larger than %d bytes.", s.MaxContentBytes)
	}
	if len(a.VisualElements.Content) > s.MaxContentBytes {
		return Errorf(Invalid, "The property 'visualElements.content' is larger than %d bytes.", s.MaxContentBytes)
	}
	return nil
}

// UpsertActivity creates the activity or replaces the one with the same appActivityId (Graph's PUT),
// and upserts the history items it carries (deep insert); existing history items it does not carry
// are kept. It reports whether the activity was created. Errors: Invalid.
func (s *Service) UpsertActivity(ctx context.Context, p Principal, a *Activity) (created bool, err error) {
	defer s.observe("upsert_activity", s.started(), &err)
	if err := s.validate(a); err != nil {
		return false, err
	}
	if len(a.HistoryItems) > s.MaxDeepInsert {
		return false, Errorf(Invalid, "The property 'historyItems' holds %d items; at most %d may be inserted at once.", len(a.HistoryItems), s.MaxDeepInsert)
	}
	for _, h := range a.HistoryItems {
		if err := h.Validate(); err != nil {
			return false, err
		}
	}
	// The store refuses what the privacy settings refuse (Tx.PutActivity), in the write's own
	// transaction, so that a concurrent change of the settings is ordered with it.
	requested := a.ExpirationDateTime
	items := a.HistoryItems
	prepare := func() {
		now := s.now()
		a.CreatedDateTime, a.LastModifiedDateTime = now, now // the store sets ID and Status
		a.ExpirationDateTime = s.expiry(requested, now)
	}
	if len(items) == 0 {
		prepare()
		return s.Store.PutActivity(ctx, p, a)
	}
	err = s.Store.Update(ctx, p, func(tx Tx) error {
		prepare()
		if created, err = tx.PutActivity(ctx, a); err != nil {
			return err
		}
		held := 0
		if !created {
			if held, err = tx.CountHistoryItems(ctx, a.ID); err != nil {
				return err
			}
		}
		for _, h := range items {
			added, _, err := s.putHistoryItem(ctx, tx, a.ID, h, a.LastModifiedDateTime, false)
			if err != nil {
				return err
			}
			if added {
				if held++; held > s.MaxHistoryItems {
					return s.tooManyItems()
				}
			}
		}
		return nil
	})
	return created, err
}

// UpdateActivity applies change to the activity that ref names and stores the result (Graph's PATCH).
// change may not alter the appActivityId. Errors: NotFound, Invalid.
func (s *Service) UpdateActivity(ctx context.Context, p Principal, ref Ref, change func(*Activity)) (_ *Activity, err error) {
	defer s.observe("update_activity", s.started(), &err)
	var a *Activity
	err = s.Store.Update(ctx, p, func(tx Tx) error {
		old, pv, err := tx.FindActivityToWrite(ctx, ref)
		if err != nil {
			return err
		}
		a = old
		appActivityID, requested := a.AppActivityID, a.ExpirationDateTime
		change(a)
		if err := s.recording(pv, p, a); err != nil {
			return err
		}
		if a.AppActivityID != appActivityID {
			return Errorf(Invalid, "The property 'appActivityId' cannot be changed.")
		}
		if err := s.validate(a); err != nil {
			return err
		}
		now := s.now()
		a.LastModifiedDateTime, a.Status = now, StatusUpdated
		if !a.ExpirationDateTime.Equal(requested) {
			a.ExpirationDateTime = s.expiry(a.ExpirationDateTime, now)
		} else {
			a.ExpirationDateTime = now.Add(s.TTL)
		}
		return tx.UpdateActivity(ctx, a)
	})
	return a, err
}

// Activity returns the activity that ref names: its id, or else its appActivityId. Errors: NotFound.
func (s *Service) Activity(ctx context.Context, p Principal, ref Ref) (_ *Activity, err error) {
	defer s.observe("get_activity", s.started(), &err)
	return s.Store.FindActivity(ctx, p, ref)
}

// DeleteActivity deletes the activity that ref names, with its history items. Errors: NotFound.
func (s *Service) DeleteActivity(ctx context.Context, p Principal, ref Ref) (err error) {
	defer s.observe("delete_activity", s.started(), &err)
	return s.Store.Update(ctx, p, func(tx Tx) error {
		a, err := tx.FindActivity(ctx, ref)
		if err != nil {
			return err
		}
		return tx.DeleteActivity(ctx, a.ID)
	})
}

// PutHistoryItem creates or replaces history item h (h.ID set) of the activity that ref names,
// or creates one with a new id when h.ID is "". It reports whether the item was created.
// Errors: NotFound (the activity), Invalid.
func (s *Service) PutHistoryItem(ctx context.Context, p Principal, ref Ref, h *HistoryItem) (created bool, err error) {
	defer s.observe("put_history_item", s.started(), &err)
	if err := h.Validate(); err != nil {
		return false, err
	}
	if st, ok := s.Store.(historyItemPutter); ok {
		// In one round trip, unless the user's privacy settings need a closer look.
		sent := *h
		s.prepareHistoryItem(h, s.now())
		created, held, done, err := st.PutHistoryItem(ctx, p, ref, h, s.MaxHistoryItems)
		if err == nil && done && created && held > s.MaxHistoryItems {
			err = s.tooManyItems()
		}
		if err == nil && done {
			return created, nil
		}
		*h = sent // as sent: for the transaction's way, or untouched by a failed write
		if err != nil {
			return false, err
		}
	}
	err = s.Store.Update(ctx, p, func(tx Tx) error {
		a, pv, err := tx.FindActivityToWrite(ctx, ref)
		if err != nil {
			return err
		}
		if err := s.recording(pv, p, a); err != nil {
			return err
		}
		var held int
		if created, held, err = s.putHistoryItem(ctx, tx, a.ID, h, s.now(), true); err != nil {
			return err
		}
		if created && held > s.MaxHistoryItems {
			return s.tooManyItems()
		}
		return nil
	})
	return created, err
}

func (s *Service) tooManyItems() error {
	return Errorf(Invalid, "The activity holds the most history items allowed (%d); delete some, or record the session in the newest one.", s.MaxHistoryItems)
}

// putHistoryItem sets h's server properties and stores it, keeping createdDateTime of the item it
// replaces (Tx.UpsertHistoryItem). It returns whether it created the item and, when count asks, how
// many live items the activity holds after it.
func (s *Service) putHistoryItem(ctx context.Context, tx Tx, activityID int64, h *HistoryItem, now time.Time, count bool) (created bool, items int, err error) {
	h.ActivityID = activityID
	s.prepareHistoryItem(h, now)
	return tx.UpsertHistoryItem(ctx, h, count)
}

// prepareHistoryItem sets h's server properties for a write at now, but for its activity.
func (s *Service) prepareHistoryItem(h *HistoryItem, now time.Time) {
	h.LastModifiedDateTime = now
	h.ExpirationDateTime = s.expiry(h.ExpirationDateTime, now)
	h.settle()
	h.CreatedDateTime = now
	if h.ID == "" {
		h.ID = NewGUID()
	}
}

// historyItemPutter is a Store that can do Graph's PUT of a history item in fewer round trips than
// Update would (postgres.Store.PutHistoryItem): it finds the live activity that ref names
// (NotFound), stores h as Tx.UpsertHistoryItem does unless the activity would then hold more than
// max live items (then nothing is written, and created and items say so), moves the activity's
// recent time and logs the change. done is false when it wrote nothing and left the write to Update:
// when the user's privacy settings need Privacy.Refuses, or the look-up by ref needs its fallback.
type historyItemPutter interface {
	PutHistoryItem(ctx context.Context, p Principal, ref Ref, h *HistoryItem, max int) (created bool, items int, done bool, err error)
}

// UpdateHistoryItem applies change to one history item and stores it (Graph's PATCH).
// Errors: NotFound, Invalid.
func (s *Service) UpdateHistoryItem(ctx context.Context, p Principal, ref Ref, itemID string, change func(*HistoryItem)) (_ *HistoryItem, err error) {
	defer s.observe("update_history_item", s.started(), &err)
	var h *HistoryItem
	err = s.Store.Update(ctx, p, func(tx Tx) error {
		a, pv, err := tx.FindActivityToWrite(ctx, ref)
		if err != nil {
			return err
		}
		if err := s.recording(pv, p, a); err != nil {
			return err
		}
		old, err := tx.FindHistoryItem(ctx, a.ID, itemID)
		if err != nil {
			return err
		}
		h = old
		requested := h.ExpirationDateTime
		before := *h
		change(h)
		if err := h.Validate(); err != nil {
			return err
		}
		boundsChanged := !h.StartedDateTime.Equal(before.StartedDateTime) || !h.LastActiveDateTime.Equal(before.LastActiveDateTime)
		if h.ActiveDurationSeconds == before.ActiveDurationSeconds && boundsChanged {
			// The client moved the session bounds but sent no duration: compute it anew.
			h.ActiveDurationSeconds = nil
		}
		now := s.now()
		h.LastModifiedDateTime, h.Status = now, StatusUpdated
		if !h.ExpirationDateTime.Equal(requested) {
			h.ExpirationDateTime = s.expiry(h.ExpirationDateTime, now)
		} else {
			h.ExpirationDateTime = now.Add(s.TTL)
		}
		h.settle()
		return tx.PutHistoryItem(ctx, h)
	})
	return h, err
}

// HistoryItem returns one history item of the activity that ref names. Errors: NotFound.
func (s *Service) HistoryItem(ctx context.Context, p Principal, ref Ref, itemID string) (_ *HistoryItem, err error) {
	defer s.observe("get_history_item", s.started(), &err)
	a, err := s.Store.FindActivity(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	return s.Store.FindHistoryItem(ctx, p, a.ID, itemID)
}

// DeleteHistoryItem deletes one history item of the activity that ref names. Errors: NotFound.
func (s *Service) DeleteHistoryItem(ctx context.Context, p Principal, ref Ref, itemID string) (err error) {
	defer s.observe("delete_history_item", s.started(), &err)
	return s.Store.Update(ctx, p, func(tx Tx) error {
		a, err := tx.FindActivity(ctx, ref)
		if err != nil {
			return err
		}
		return tx.DeleteHistoryItem(ctx, a.ID, itemID)
	})
}

// ListActivities returns a page of the principal's activities, newest lastModifiedDateTime first.
func (s *Service) ListActivities(ctx context.Context, p Principal, q ActivityQuery) (_ *ActivityPage, err error) {
	defer s.observe("list_activities", s.started(), &err)
	return s.Store.ListActivities(ctx, p, q)
}

// RecentActivities returns a page of the activities that have history items, most recently used first.
func (s *Service) RecentActivities(ctx context.Context, p Principal, q ActivityQuery) (_ *ActivityPage, err error) {
	defer s.observe("recent_activities", s.started(), &err)
	return s.Store.RecentActivities(ctx, p, q)
}

// CountActivities returns how many of the principal's activities were last modified in the range.
func (s *Service) CountActivities(ctx context.Context, p Principal, modified TimeRange) (_ int, err error) {
	defer s.observe("count_activities", s.started(), &err)
	return s.Store.CountActivities(ctx, p, modified)
}

// ExpandHistoryItems sets the HistoryItems of each activity to its newest items modified in the
// range, at most limit of each (limit ≥ 1), and returns the ids of the activities that have more.
func (s *Service) ExpandHistoryItems(ctx context.Context, p Principal, activities []*Activity, modified TimeRange, limit int) (more map[int64]bool, err error) {
	defer s.observe("expand_history_items", s.started(), &err)
	ids := make([]int64, len(activities))
	for i, a := range activities {
		ids[i] = a.ID
	}
	items, err := s.Store.ExpandHistoryItems(ctx, p, ids, modified, limit+1)
	if err != nil {
		return nil, err
	}
	more = map[int64]bool{}
	for _, a := range activities {
		a.HistoryItems = items[a.ID]
		if a.HistoryItems == nil {
			a.HistoryItems = []*HistoryItem{}
		}
		if len(a.HistoryItems) > limit {
			a.HistoryItems, more[a.ID] = a.HistoryItems[:limit], true
		}
	}
	return more, nil
}

// ListHistoryItems returns a page of the history items of the activity that ref names.
// Errors: NotFound.
func (s *Service) ListHistoryItems(ctx context.Context, p Principal, ref Ref, q HistoryQuery) (_ *HistoryPage, err error) {
	defer s.observe("list_history_items", s.started(), &err)
	a, err := s.Store.FindActivity(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	return s.Store.ListHistoryItems(ctx, p, a.ID, q)
}

// CountHistoryItems returns how many history items of the activity that ref names were last modified
// in the range. Errors: NotFound.
func (s *Service) CountHistoryItems(ctx context.Context, p Principal, ref Ref, modified TimeRange) (_ int, err error) {
	defer s.observe("count_history_items", s.started(), &err)
	a, err := s.Store.FindActivity(ctx, p, ref)
	if err != nil {
		return 0, err
	}
	return s.Store.CountHistoryItems(ctx, p, a.ID, modified)
}

// RunPurge deletes expired activities and history items every interval, in batches of at most batch
// rows so that no transaction holds the store for long, until ctx is done. Expired rows are already
// invisible; purging only reclaims their space.
func (s *Service) RunPurge(ctx context.Context, interval time.Duration, batch int, onError func(error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := s.Store.PurgeExpired(ctx, s.now(), batch)
			if err != nil && ctx.Err() == nil {
				onError(err)
			}
			if err != nil || n < batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// recordingIn refuses a write of a by p when p's user has paused recording or blocked p's app or a's
// site, reading the settings inside the write's transaction, which orders it with SetPrivacy: nothing
// of a refused write is stored. Errors: Forbidden.
func (s *Service) recordingIn(ctx context.Context, tx Tx, p Principal, a *Activity) error {
	pv, err := tx.Privacy(ctx)
	if err != nil {
		return err
	}
	return s.recording(pv, p, a)
}

// recording is recordingIn with the settings pv already read in the write's transaction
// (Tx.FindActivityToWrite).
func (s *Service) recording(pv *Privacy, p Principal, a *Activity) error {
	if now := s.now(); pv.Refuses(p.AppID, a, now) != "" {
		return Refused(pv, p.AppID, a, now)
	}
	return nil
}

// Privacy returns the privacy settings of p's user.
func (s *Service) Privacy(ctx context.Context, p Principal) (_ *Privacy, err error) {
	defer s.observe("get_privacy", s.started(), &err)
	return s.Store.Privacy(ctx, p)
}

// SetPrivacy replaces the privacy settings of p's user, then forgets what the new block-lists name,
// so that a blocked app or site keeps nothing of its past: writes check the settings in their own
// transaction, which the store orders with SetPrivacy, so a write either is refused or committed
// before the forget that follows, and no write slips between. It returns what was forgotten.
// Errors: Invalid.
func (s *Service) SetPrivacy(ctx context.Context, p Principal, pv *Privacy) (_ Forgotten, err error) {
	defer s.observe("set_privacy", s.started(), &err)
	var total Forgotten
	if err := pv.Normalize(); err != nil {
		return total, err
	}
	if err := s.Store.SetPrivacy(ctx, p, pv); err != nil {
		return total, err
	}
	for _, app := range pv.BlockedApps {
		n, err := s.Store.Forget(ctx, p, Forget{AppID: app})
		if err != nil {
			return total, err
		}
		total.Activities, total.HistoryItems = total.Activities+n.Activities, total.HistoryItems+n.HistoryItems
	}
	for _, site := range pv.BlockedSites {
		n, err := s.Store.Forget(ctx, p, Forget{Site: site})
		if err != nil {
			return total, err
		}
		total.Activities, total.HistoryItems = total.Activities+n.Activities, total.HistoryItems+n.HistoryItems
	}
	return total, nil
}

// Forget deletes what f selects among the activities of p's user through every app, and says how
// much; other devices learn of it through the change log. Errors: Invalid.
func (s *Service) Forget(ctx context.Context, p Principal, f Forget) (_ Forgotten, err error) {
	defer s.observe("forget", s.started(), &err)
	if f.Site != "" {
		site, ok := ParseSite(f.Site)
		if !ok {
			return Forgotten{}, Errorf(Invalid, "The site '%s' is not a host name (such as example.com).", f.Site)
		}
		f.Site = site
	}
	if err := f.Check(); err != nil {
		return Forgotten{}, err
	}
	return s.Store.Forget(ctx, p, f)
}

package activity

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// ImportResult is what Service.Import did with one activity, or ImportSkipped.
type ImportResult string

const (
	ImportCreated   ImportResult = "created"   // the app had no activity with the appActivityId
	ImportUpdated   ImportResult = "updated"   // it had one, and the activity or some of its history items differed
	ImportUnchanged ImportResult = "unchanged" // it had one equal to the import, with every history item: nothing was written
	ImportNewer     ImportResult = "newer"     // it had one modified after the import's lastModifiedDateTime: nothing was written
	ImportSkipped   ImportResult = "skipped"   // the import was refused (ImportLine.Reason says why)
)

// ImportLine is what an import did with one line of its input (JSON Lines in an export's shape).
type ImportLine struct {
	Line          int          `json:"line"` // 1-based, in the input
	App           string       `json:"app,omitempty"`
	AppActivityID string       `json:"appActivityId,omitempty"`
	Result        ImportResult `json:"result"`
	Reason        string       `json:"reason,omitempty"` // why it was skipped, in the words of the API's error message
}

// ExportFilter narrows an export of a person's activities; its zero value exports everything.
type ExportFilter struct {
	App   string    // only the activities of this app
	Since time.Time // only those modified at this time or later, or whose history items were
}

// Import stores activities, each with its history items, as the app p.AppID recorded them: the
// person's own history brought back from an export or from another program (Windows Timeline,
// ActivityWatch). It returns, for each activity in order, what it did and, when the activity was
// refused, why (an *Error: Invalid, Forbidden), and an error of the store, which stops it.
//
// Unlike Graph's PUT, it keeps the times an activity carries (createdDateTime, lastModifiedDateTime,
// and those of the history items), so that old activities land on their own days; a time after now
// is now, and a missing one is the stored one, or now for what is new or changed. The key is the app
// and the appActivityId, and history items keep their ids: importing the same activities twice
// writes nothing the second time (ImportUnchanged), so an interrupted import is resumed by running
// it again. An activity stored with a later lastModifiedDateTime than the import's is newer and is
// kept as it is, with its items (ImportNewer): an old export never overwrites what a device recorded
// since.
//
// Each activity and history item expires at its own expirationDateTime when that lies in the future
// within the retention limit, and after the retention limit otherwise (Service.Retention, a year by
// default): imported history would otherwise expire at once. Expiration is not compared, so an
// import that differs only in it is unchanged.
//
// All of them are written in one transaction (one commit, where a PUT each would wait for one
// each). The privacy settings apply as to any write.
func (s *Service) Import(ctx context.Context, p Principal, activities []*Activity) (_ []ImportResult, _ []error, err error) {
	defer s.observe("import", s.started(), &err)
	results := make([]ImportResult, len(activities))
	errs := make([]error, len(activities))
	valid := 0
	for i, a := range activities {
		if errs[i] = s.validateImport(a); errs[i] == nil {
			valid++
		} else {
			results[i] = ImportSkipped
		}
	}
	if valid == 0 {
		return results, errs, nil
	}
	err = s.Store.Update(ctx, p, func(tx Tx) error {
		now := s.now()
		for i, a := range activities {
			if results[i] == ImportSkipped {
				continue
			}
			result, err := s.importIn(ctx, tx, p, a, now)
			var e *Error
			switch {
			case errors.As(err, &e) && e.Code != Internal:
				results[i], errs[i] = ImportSkipped, err
			case err != nil:
				return err
			default:
				results[i] = result
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if bl, ok := s.Store.(BulkLoader); ok {
		created := 0
		for _, r := range results {
			if r == ImportCreated {
				created++
			}
		}
		if created > 0 {
			if err := bl.Imported(ctx, created); err != nil {
				return nil, nil, err
			}
		}
	}
	return results, errs, nil
}

// KeyLocker is a Tx whose concurrent transactions can interleave a read and a write of one key
// (PostgreSQL's; SQLite writes one transaction at a time): LockKey holds the app's appActivityID
// until the transaction ends, so that imports of one key are ordered.
type KeyLocker interface {
	LockKey(ctx context.Context, appActivityID string) error
}

// BulkLoader is a Store that hears of the activities an import added, after they commit, to keep
// its queries on their indexes as the tables grow (PostgreSQL plans from statistics that only
// ANALYZE gathers).
type BulkLoader interface {
	Imported(ctx context.Context, activities int) error
}

// validateImport checks an activity and its history items before an import writes them.
func (s *Service) validateImport(a *Activity) error {
	if err := s.validate(a); err != nil {
		return err
	}
	if len(a.HistoryItems) > s.MaxHistoryItems {
		return Errorf(Invalid, "The property 'historyItems' holds %d items; an activity holds at most %d.", len(a.HistoryItems), s.MaxHistoryItems)
	}
	ids := make(map[string]bool, len(a.HistoryItems))
	for i, h := range a.HistoryItems {
		if h.ID == "" {
			return Errorf(Invalid, "The property 'historyItems[%d].id' is required in an import: history items keep their ids.", i)
		}
		if ids[h.ID] {
			return Errorf(Invalid, "The property 'historyItems[%d].id' repeats the id of an item before it: %s.", i, h.ID)
		}
		ids[h.ID] = true
		if err := h.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// importIn imports one activity in tx. An *Error (Forbidden, or Invalid for too many history items)
// comes before anything of it is written, so that the transaction can go on with the next.
func (s *Service) importIn(ctx context.Context, tx Tx, p Principal, a *Activity, now time.Time) (ImportResult, error) {
	if kl, ok := tx.(KeyLocker); ok {
		if err := kl.LockKey(ctx, a.AppActivityID); err != nil {
			return "", err
		}
	}
	old, err := tx.FindActivity(ctx, Ref{AppActivityID: a.AppActivityID})
	switch {
	case ErrorCode(err) == NotFound:
		old = nil
	case err != nil:
		return "", err
	}
	imp := *a
	imp.HistoryItems = nil
	imp.CreatedDateTime = importTime(a.CreatedDateTime, time.Time{}, now)
	imp.ExpirationDateTime = s.importExpiry(a.ExpirationDateTime, now)
	newer := false
	if old != nil {
		// A stored activity modified after the import's is kept as it is; the sessions it lacks
		// are still added (two sources of one import, such as two hosts' ActivityWatch buckets,
		// may hold sessions of one activity).
		newer = !a.LastModifiedDateTime.IsZero() && old.LastModifiedDateTime.After(importTime(a.LastModifiedDateTime, now, now))
		imp.ID = old.ID
	}
	var stored time.Time
	if old != nil {
		stored = old.LastModifiedDateTime
	}
	imp.LastModifiedDateTime = importTime(a.LastModifiedDateTime, stored, now)
	activityChanged := !newer && (old == nil || !sameActivity(old, &imp))
	if activityChanged && (a.LastModifiedDateTime.IsZero() || a.LastModifiedDateTime.After(now)) {
		imp.LastModifiedDateTime = now // changed now, as far as anyone can tell
	}

	// The history items to write, with the times they keep, worked out before anything is written.
	var items []*HistoryItem
	added := 0
	for _, h := range a.HistoryItems {
		item := *h
		item.settle()
		item.Status = StatusActive
		item.ExpirationDateTime = s.importExpiry(h.ExpirationDateTime, now)
		var was *HistoryItem
		if old != nil {
			was, err = tx.FindHistoryItem(ctx, old.ID, item.ID)
			switch {
			case ErrorCode(err) == NotFound:
				was = nil
			case err != nil:
				return "", err
			}
		}
		var created, modified time.Time
		if was != nil {
			created, modified = was.CreatedDateTime, was.LastModifiedDateTime
		}
		item.CreatedDateTime = importTime(h.CreatedDateTime, created, now)
		item.LastModifiedDateTime = importTime(h.LastModifiedDateTime, modified, now)
		if was != nil && (newer || sameHistoryItem(was, &item)) {
			continue // the same, or kept with its newer activity
		}
		if was != nil {
			item.Status = StatusUpdated
			if h.LastModifiedDateTime.IsZero() {
				item.LastModifiedDateTime = now
			}
		} else {
			added++
		}
		items = append(items, &item)
	}
	if !activityChanged && len(items) == 0 {
		a.ID = old.ID
		if newer {
			return ImportNewer, nil
		}
		return ImportUnchanged, nil
	}
	held := 0
	if old != nil && added > 0 {
		if held, err = tx.CountHistoryItems(ctx, old.ID); err != nil {
			return "", err
		}
	}
	if held+added > s.MaxHistoryItems {
		return "", s.tooManyItems()
	}
	result := ImportUpdated
	if activityChanged {
		created, err := tx.PutActivity(ctx, &imp)
		if err != nil {
			return "", err
		}
		if created {
			result = ImportCreated
		}
	} else if err := s.recordingIn(ctx, tx, p, old); err != nil {
		return "", err
	}
	for _, item := range items {
		item.ActivityID = imp.ID
		if err := tx.PutHistoryItem(ctx, item); err != nil {
			return "", err
		}
	}
	a.ID, a.Status = imp.ID, imp.Status
	return result, nil
}

// importTime is an imported time t: stored when t is missing or later than now (a clock ahead on
// the source), and now when there is no stored time either.
func importTime(t, stored, now time.Time) time.Time {
	switch {
	case (t.IsZero() || t.After(now)) && stored.IsZero():
		return now
	case t.IsZero() || t.After(now):
		return stored
	}
	return Truncate(t)
}

// importExpiry is the expiration of an imported item asking for requested: requested when it lies in
// the future within the retention limit, else the retention limit.
func (s *Service) importExpiry(requested, now time.Time) time.Time {
	if requested.After(now) && !requested.After(now.Add(s.Retention)) {
		return Truncate(requested)
	}
	return now.Add(s.Retention)
}

// sameActivity reports whether two activities hold the same client properties and lastModifiedDateTime
// (a replaced activity keeps its createdDateTime, so that is not compared, nor is expiration).
func sameActivity(x, y *Activity) bool {
	return x.AppActivityID == y.AppActivityID && x.ActivitySourceHost == y.ActivitySourceHost &&
		x.ActivationURL == y.ActivationURL && x.AppDisplayName == y.AppDisplayName &&
		x.FallbackURL == y.FallbackURL && x.ContentURL == y.ContentURL &&
		bytes.Equal(x.ContentInfo, y.ContentInfo) && x.UserTimezone == y.UserTimezone && x.Blank == y.Blank &&
		sameVisual(&x.VisualElements, &y.VisualElements) && x.LastModifiedDateTime.Equal(y.LastModifiedDateTime)
}

func sameVisual(x, y *VisualInfo) bool {
	if x.DisplayText != y.DisplayText || x.Description != y.Description || x.BackgroundColor != y.BackgroundColor ||
		!bytes.Equal(x.Content, y.Content) || x.Blank != y.Blank || (x.Attribution == nil) != (y.Attribution == nil) {
		return false
	}
	if x.Attribution == nil {
		return true
	}
	ix, iy := x.Attribution, y.Attribution
	return ix.IconURL == iy.IconURL && ix.AlternateText == iy.AlternateText && ix.AlternativeText == iy.AlternativeText &&
		ix.Blank == iy.Blank && (ix.AddImageQuery == nil) == (iy.AddImageQuery == nil) &&
		(ix.AddImageQuery == nil || *ix.AddImageQuery == *iy.AddImageQuery)
}

// sameHistoryItem reports whether two history items hold the same client properties and times
// (expiration and status aside).
func sameHistoryItem(x, y *HistoryItem) bool {
	return x.ID == y.ID && x.StartedDateTime.Equal(y.StartedDateTime) && x.LastActiveDateTime.Equal(y.LastActiveDateTime) &&
		(x.ActiveDurationSeconds == nil) == (y.ActiveDurationSeconds == nil) &&
		(x.ActiveDurationSeconds == nil || *x.ActiveDurationSeconds == *y.ActiveDurationSeconds) &&
		x.UserTimezone == y.UserTimezone && x.Blank == y.Blank &&
		x.CreatedDateTime.Equal(y.CreatedDateTime) && x.LastModifiedDateTime.Equal(y.LastModifiedDateTime)
}

package activity

import (
	"bytes"
	"context"
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
	Since time.Time // only those whose lastModifiedDateTime is this time or later
}

// Import stores a, with its history items, as the app p.AppID recorded it: the person's own history
// brought back from an export or from another program (Windows Timeline, ActivityWatch). Unlike
// Graph's PUT, it keeps the times a carries (createdDateTime, lastModifiedDateTime, and those of the
// history items), so that old activities land on their own days; a missing time is now, and a time
// after now is now. The key is the app and the appActivityId, and history items keep their ids:
// importing the same activity twice writes nothing the second time (ImportUnchanged), so an
// interrupted import is resumed by running it again. An activity stored with a later
// lastModifiedDateTime than the import's is newer than it and is kept as it is, with its items
// (ImportNewer): an old export never overwrites what a device recorded since.
//
// Each activity and history item expires at its own expirationDateTime when that lies in the future
// within the retention limit, and after the retention limit otherwise (Service.Retention, a year by
// default): imported history would otherwise expire at once. Expiration is not compared, so an
// import that differs only in it is unchanged.
//
// The privacy settings apply as to any write (Forbidden). Errors: Invalid (a or an item fails
// validation, or holds more items than an activity may), Forbidden.
func (s *Service) Import(ctx context.Context, p Principal, a *Activity) (ImportResult, error) {
	if err := s.validate(a); err != nil {
		return "", err
	}
	if len(a.HistoryItems) > s.MaxHistoryItems {
		return "", Errorf(Invalid, "The property 'historyItems' holds %d items; an activity holds at most %d.", len(a.HistoryItems), s.MaxHistoryItems)
	}
	for _, h := range a.HistoryItems {
		if err := h.Validate(); err != nil {
			return "", err
		}
	}
	var result ImportResult
	err := s.Store.Update(ctx, p, func(tx Tx) error {
		now := s.now()
		result = ImportUnchanged
		imp := *a
		imp.CreatedDateTime = importTime(a.CreatedDateTime, now)
		imp.LastModifiedDateTime = importTime(a.LastModifiedDateTime, now)
		imp.ExpirationDateTime = s.importExpiry(a.ExpirationDateTime, now)
		imp.HistoryItems = nil
		old, err := tx.FindActivity(ctx, Ref{AppActivityID: a.AppActivityID})
		switch {
		case ErrorCode(err) == NotFound:
			old = nil
		case err != nil:
			return err
		}
		if old != nil && old.LastModifiedDateTime.After(imp.LastModifiedDateTime) {
			result, a.ID = ImportNewer, old.ID
			return nil
		}
		if old == nil || !sameActivity(old, &imp) {
			created, err := tx.PutActivity(ctx, &imp)
			if err != nil {
				return err
			}
			result = ImportUpdated
			if created {
				result = ImportCreated
			}
		} else {
			imp.ID = old.ID
			// Nothing about the activity changed; its items may have. The privacy settings still
			// decide whether they may be recorded.
			if err := s.recordingIn(ctx, tx, p, old); err != nil {
				return err
			}
		}
		for _, h := range a.HistoryItems {
			item := *h
			item.ActivityID = imp.ID
			item.settle()
			item.CreatedDateTime = importTime(h.CreatedDateTime, now)
			item.LastModifiedDateTime = importTime(h.LastModifiedDateTime, now)
			item.ExpirationDateTime = s.importExpiry(h.ExpirationDateTime, now)
			item.Status = StatusActive
			if item.ID == "" {
				return Errorf(Invalid, "The property 'historyItems[].id' is required in an import: history items keep their ids.")
			}
			if result != ImportCreated {
				old, err := tx.FindHistoryItem(ctx, imp.ID, item.ID)
				switch {
				case err == nil && sameHistoryItem(old, &item):
					continue
				case err == nil:
					item.Status = StatusUpdated
				case ErrorCode(err) != NotFound:
					return err
				}
				result = ImportUpdated
			}
			if err := tx.PutHistoryItem(ctx, &item); err != nil {
				return err
			}
		}
		if result != ImportUnchanged {
			n, err := tx.CountHistoryItems(ctx, imp.ID)
			if err != nil {
				return err
			}
			if n > s.MaxHistoryItems {
				return s.tooManyItems()
			}
		}
		a.ID, a.Status = imp.ID, imp.Status
		return nil
	})
	return result, err
}

// importTime is an imported time t: now when it is missing or later than now.
func importTime(t, now time.Time) time.Time {
	if t.IsZero() || t.After(now) {
		return now
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

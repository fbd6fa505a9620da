package importer

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/client"
)

// domain converts a wire activity to the domain's, as the server's import decodes it (graph's
// decoder is unexported; its mapping is field for field).
func domain(a client.Activity) *activity.Activity {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	tm := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	}
	d := &activity.Activity{AppActivityID: a.AppActivityID, ActivitySourceHost: a.ActivitySourceHost,
		ActivationURL: a.ActivationURL, AppDisplayName: str(a.AppDisplayName), FallbackURL: str(a.FallbackURL),
		ContentURL: str(a.ContentURL), ContentInfo: a.ContentInfo, UserTimezone: str(a.UserTimezone),
		CreatedDateTime: tm(a.CreatedDateTime), LastModifiedDateTime: tm(a.LastModifiedDateTime),
		ExpirationDateTime: tm(a.ExpirationDateTime),
		VisualElements: activity.VisualInfo{DisplayText: a.VisualElements.DisplayText, Description: str(a.VisualElements.Description),
			BackgroundColor: str(a.VisualElements.BackgroundColor), Content: a.VisualElements.Content}}
	if at := a.VisualElements.Attribution; at != nil {
		d.VisualElements.Attribution = &activity.ImageInfo{IconURL: str(at.IconURL), AlternateText: str(at.AlternateText),
			AlternativeText: str(at.AlternativeText), AddImageQuery: at.AddImageQuery}
	}
	for _, h := range a.HistoryItems {
		item := &activity.HistoryItem{ID: h.ID, StartedDateTime: h.StartedDateTime, LastActiveDateTime: tm(h.LastActiveDateTime),
			UserTimezone: str(h.UserTimezone), CreatedDateTime: tm(h.CreatedDateTime), LastModifiedDateTime: tm(h.LastModifiedDateTime)}
		if h.ActiveDurationSeconds != nil {
			n := int32(*h.ActiveDurationSeconds)
			item.ActiveDurationSeconds = &n
		}
		d.HistoryItems = append(d.HistoryItems, item)
	}
	return d
}

// checkImportable fails the test unless the server's import would take it as it is, and take it
// again unchanged: the rules of activity.Activity and HistoryItem Validate, the app id, the
// service's limits on free-form JSON and history items per body, GUID ids, and every time set (an
// absent time is the time of the import, which would differ each time).
func checkImportable(t *testing.T, it Item) {
	t.Helper()
	a := it.Activity
	d := domain(a)
	if err := d.Validate(); err != nil {
		t.Errorf("%s: Validate: %v", it.Source, err)
	}
	if !activity.ValidAppID(a.App) {
		t.Errorf("%s: app %q is not an app id", it.Source, a.App)
	}
	if len(d.ContentInfo) > activity.DefaultMaxContentBytes || len(d.VisualElements.Content) > activity.DefaultMaxContentBytes {
		t.Errorf("%s: free-form JSON over %d bytes", it.Source, activity.DefaultMaxContentBytes)
	}
	if len(a.HistoryItems) > activity.DefaultMaxDeepInsert {
		t.Errorf("%s: %d history items in one body", it.Source, len(a.HistoryItems))
	}
	if a.CreatedDateTime == nil || a.LastModifiedDateTime == nil {
		t.Errorf("%s: createdDateTime or lastModifiedDateTime missing", it.Source)
	}
	for _, h := range d.HistoryItems {
		if err := h.Validate(); err != nil {
			t.Errorf("%s: history item %s: Validate: %v", it.Source, h.ID, err)
		}
		if g, ok := activity.ParseGUID(h.ID); !ok || g != h.ID {
			t.Errorf("%s: history item id %q is not a canonical GUID", it.Source, h.ID)
		}
		if h.CreatedDateTime.IsZero() || h.LastModifiedDateTime.IsZero() {
			t.Errorf("%s: history item %s: createdDateTime or lastModifiedDateTime missing", it.Source, h.ID)
		}
	}
	line, err := json.Marshal(a)
	if err != nil {
		t.Fatalf("%s: Marshal: %v", it.Source, err)
	}
	if !utf8.Valid(line) || jsonDepth(line) > 32 {
		t.Errorf("%s: the JSON line is not valid UTF-8 or is nested deeper than 32", it.Source)
	}
}

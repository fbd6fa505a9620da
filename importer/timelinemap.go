package importer

import (
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/client"
)

// shellActivationURL is the activationUrl of a Timeline activity whose payload has neither an
// activationUri nor a contentUri: the URI Windows itself gives the activities its shell records
// ("activationUri":"ms-shellactivity:" in most rows of a real database).
const shellActivationURL = "ms-shellactivity:"

// timelineActivity maps a row of ActivityType 5 to an activity, without history items, or returns
// why it cannot:
//
//	App                  the AppId's application (timelineApp); appActivityId: the row's AppActivityId,
//	                     or "windows-timeline:" and the row's Id when it is empty (appActivityID)
//	activitySourceHost   https:// and the AppId's "host" entry, else sourceHost (DefaultTimelineSourceHost)
//	activationUrl        Payload activationUri, else contentUri, else "ms-shellactivity:"
//	contentUrl, fallbackUrl, appDisplayName, userTimezone, contentInfo: the Payload's contentUri,
//	                     fallbackUri, appDisplayName, userTimezone, contentInfo
//	visualElements       displayText (else appDisplayName, else the app), description,
//	                     backgroundColor (normalizeColor), content (adaptiveContent), attribution
//	createdDateTime      StartTime, else LastModifiedTime; lastModifiedDateTime: LastModifiedTime;
//	                     expirationDateTime: ExpirationTime (settleTimes then takes the sessions into
//	                     account). Times are Unix seconds, UTC.
func timelineActivity(r *timelineRow, sourceHostFallback string) (client.Activity, string) {
	app, host, err := timelineApp(r.appID)
	if err != nil {
		return client.Activity{}, err.Error()
	}
	p, err := parsePayload(r.payload)
	if err != nil {
		return client.Activity{}, err.Error()
	}
	derived := ""
	if len(r.id) == 16 {
		derived = "windows-timeline:" + guidString(r.id)
	}
	id := appActivityID(r.appActivityID, derived)
	if id == "" {
		return client.Activity{}, "its AppActivityId is empty and its Id is not a GUID to stand in for it"
	}
	a := client.Activity{App: app, AppActivityID: id, ActivitySourceHost: sourceHost(host, sourceHostFallback),
		ActivationURL: shellActivationURL}
	for _, u := range []string{p.ActivationURI, p.ContentURI} {
		if s, ok := address(u); ok {
			a.ActivationURL = s
			break
		}
	}
	if s, ok := address(p.ContentURI); ok {
		a.ContentURL = &s
	}
	if s, ok := address(p.FallbackURI); ok {
		a.FallbackURL = &s
	}
	a.AppDisplayName = optional(text(p.AppDisplayName))
	a.UserTimezone = timezone(p.UserTimezone)
	a.ContentInfo = p.ContentInfo
	a.VisualElements = client.VisualInfo{DisplayText: firstText(p.DisplayText, p.AppDisplayName, app),
		Description: optional(text(p.Description)), Content: p.Content, Attribution: p.Attribution}
	if c, ok := normalizeColor(p.BackgroundColor); ok {
		a.VisualElements.BackgroundColor = &c
	}
	a.CreatedDateTime = at(firstTime(r.start, r.lastModified))
	a.LastModifiedDateTime = at(r.lastModified)
	a.ExpirationDateTime = at(r.expiration)
	return a, ""
}

// timelineHistoryItem maps a row of ActivityType 6 to a history item, or returns why it cannot. Its
// id is the row's Id as a GUID: the 16 bytes in the order they are stored (see guidString), as
// kacos2000's queries and plaso show them (hex(Id)), not in the mixed-endian order of Windows' GUID
// structure; a text Id in GUID form is taken as it is.
//
//	startedDateTime       StartTime; lastActiveDateTime: EndTime (null when 0 or before StartTime)
//	activeDurationSeconds Payload activeDurationSeconds (null when absent: the server computes it)
//	userTimezone          Payload userTimezone
//	createdDateTime       StartTime; lastModifiedDateTime: LastModifiedTime, else EndTime, else
//	                      StartTime; expirationDateTime: ExpirationTime
func timelineHistoryItem(r *timelineRow) (client.HistoryItem, string) {
	var h client.HistoryItem
	switch g, ok := activity.ParseGUID(string(r.id)); {
	case len(r.id) == 16:
		h.ID = guidString(r.id)
	case ok:
		h.ID = g
	default:
		return h, "its Id is not a 16-byte GUID"
	}
	p, err := parsePayload(r.payload)
	if err != nil {
		return h, err.Error()
	}
	if r.start.IsZero() {
		return h, "it has no StartTime"
	}
	h.StartedDateTime = r.start
	if !r.end.Before(r.start) {
		h.LastActiveDateTime = at(r.end)
	}
	h.ActiveDurationSeconds = p.ActiveDurationSeconds
	h.UserTimezone = timezone(p.UserTimezone)
	h.CreatedDateTime = at(r.start)
	h.LastModifiedDateTime = at(firstTime(r.lastModified, r.end, r.start))
	h.ExpirationDateTime = at(r.expiration)
	return h, ""
}

// settleTimes completes an activity's times from its history items: lastModifiedDateTime is the
// latest of its own and theirs, createdDateTime the earliest of its own and their starts, and a
// missing time zone is the first session's. Every time is then set whenever one is known, so the server
// keeps them instead of taking the time of the import, and a second import compares equal.
func settleTimes(a *client.Activity) {
	s := newSessionTimes(*a)
	for _, h := range a.HistoryItems {
		s.add(h)
	}
	s.settle(a)
}

// sessionTimes gathers what settleTimes takes from an activity's history items, one at a time, so
// that the items the import leaves out (newestHistory) count too without being held.
type sessionTimes struct {
	lastModified, created *time.Time // the latest lastModifiedDateTime, the earliest creation or start
	timezone              *string    // the time zone of the first session that has one
	timezoneStart         time.Time  // its start
}

// newSessionTimes starts from the times of a itself.
func newSessionTimes(a client.Activity) sessionTimes {
	return sessionTimes{lastModified: a.LastModifiedDateTime, created: a.CreatedDateTime}
}

func (s *sessionTimes) add(h client.HistoryItem) {
	if h.LastModifiedDateTime != nil && (s.lastModified == nil || h.LastModifiedDateTime.After(*s.lastModified)) {
		s.lastModified = at(*h.LastModifiedDateTime)
	}
	if s.created == nil || h.StartedDateTime.Before(*s.created) {
		s.created = at(h.StartedDateTime)
	}
	if h.UserTimezone != nil && (s.timezone == nil || h.StartedDateTime.Before(s.timezoneStart)) {
		s.timezone, s.timezoneStart = h.UserTimezone, h.StartedDateTime
	}
}

// settle sets a's times from those gathered (see settleTimes).
func (s *sessionTimes) settle(a *client.Activity) {
	a.LastModifiedDateTime, a.CreatedDateTime = s.lastModified, s.created
	if a.UserTimezone == nil {
		a.UserTimezone = s.timezone
	}
	if a.LastModifiedDateTime == nil {
		a.LastModifiedDateTime = a.CreatedDateTime
	}
}

// timezone returns a time zone name the server keeps (at most 64 bytes of text), or nil.
func timezone(s string) *string {
	s = text(s)
	if len(s) > 64 {
		return nil
	}
	return optional(s)
}

// firstText returns the first of s that is not empty as text (see text): a value of only U+0000 is.
func firstText(s ...string) string {
	for _, v := range s {
		if t := text(v); t != "" {
			return t
		}
	}
	return ""
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

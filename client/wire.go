package client

import (
	"encoding/json"
	"time"
)

// Activity is a Graph userActivity as it travels on the wire (Graph v1.0 resource "userActivity";
// see graph-activities-spec.md §3). It is lenient: unknown properties are ignored when decoding, and
// optional strings are pointers so that null (nil) and "" stay apart, as the server keeps them.
// Times are RFC 3339 in UTC. In an export line, App is the app that wrote the activity
// ("@activityd.appId"); Graph's own responses do not carry it.
type Activity struct {
	ID                   string          `json:"id,omitempty"` // the server's id; ignored on writes
	AppActivityID        string          `json:"appActivityId"`
	ActivitySourceHost   string          `json:"activitySourceHost"`
	ActivationURL        string          `json:"activationUrl"`
	AppDisplayName       *string         `json:"appDisplayName,omitempty"`
	FallbackURL          *string         `json:"fallbackUrl,omitempty"`
	ContentURL           *string         `json:"contentUrl,omitempty"`
	ContentInfo          json.RawMessage `json:"contentInfo,omitempty"`
	VisualElements       VisualInfo      `json:"visualElements"`
	UserTimezone         *string         `json:"userTimezone,omitempty"`
	CreatedDateTime      *time.Time      `json:"createdDateTime,omitempty"`
	LastModifiedDateTime *time.Time      `json:"lastModifiedDateTime,omitempty"`
	ExpirationDateTime   *time.Time      `json:"expirationDateTime,omitempty"`
	Status               string          `json:"status,omitempty"`
	HistoryItems         []HistoryItem   `json:"historyItems,omitempty"`
	App                  string          `json:"@activityd.appId,omitempty"`
}

// VisualInfo is Graph's visualInfo: how an activity is drawn as a card.
type VisualInfo struct {
	DisplayText     string          `json:"displayText"`
	Description     *string         `json:"description,omitempty"`
	BackgroundColor *string         `json:"backgroundColor,omitempty"`
	Content         json.RawMessage `json:"content,omitempty"` // an Adaptive Card, or any JSON value
	Attribution     *ImageInfo      `json:"attribution,omitempty"`
}

// ImageInfo is Graph's imageInfo: the app icon and its texts.
type ImageInfo struct {
	IconURL         *string `json:"iconUrl,omitempty"`
	AlternateText   *string `json:"alternateText,omitempty"`
	AlternativeText *string `json:"alternativeText,omitempty"`
	AddImageQuery   *bool   `json:"addImageQuery,omitempty"`
}

// HistoryItem is a Graph activityHistoryItem: one session of use of an activity. ID is a GUID that
// the client may choose. ActiveDurationSeconds, when nil, is computed by the server from the
// session's bounds.
type HistoryItem struct {
	ID                    string     `json:"id,omitempty"`
	Status                string     `json:"status,omitempty"`
	UserTimezone          *string    `json:"userTimezone,omitempty"`
	CreatedDateTime       *time.Time `json:"createdDateTime,omitempty"`
	LastModifiedDateTime  *time.Time `json:"lastModifiedDateTime,omitempty"`
	ExpirationDateTime    *time.Time `json:"expirationDateTime,omitempty"`
	StartedDateTime       time.Time  `json:"startedDateTime"`
	LastActiveDateTime    *time.Time `json:"lastActiveDateTime,omitempty"`
	ActiveDurationSeconds *int       `json:"activeDurationSeconds,omitempty"`
}

package graph

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/odata"
)

// benchBody is a 1 KB activity as the load tool sends it.
var benchBody = []byte(`{"appActivityId":"bench","activitySourceHost":"https://www.contoso.com","userTimezone":"Africa/Casablanca",` +
	`"appDisplayName":"Contoso, Ltd.","activationUrl":"https://www.contoso.com/article?id=12345",` +
	`"contentUrl":"https://www.contoso.com/article?id=12345","fallbackUrl":"https://www.contoso.com/article?id=12345",` +
	`"contentInfo":{"@context":"https://schema.org","@type":"Article","author":"Jennifer Booth","name":"How to Tie a Reef Knot"},` +
	`"visualElements":{"attribution":{"iconUrl":"https://www.contoso.com/icon","alternateText":"Contoso, Ltd.","addImageQuery":false},` +
	`"description":"How to Tie a Reef Knot. A step-by-step visual guide to the art of nautical knot-tying. How to Tie a Reef Knot. A step-by-step visual guide to the art of nautical knot-tying. How to Tie a Reef Knot. A step-by-step visual guide to the art of nautical knot-tying.",` +
	`"backgroundColor":"#ff0000","displayText":"Contoso How-To: How to Tie a Reef Knot",` +
	`"content":{"$schema":"https://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Contoso MainPage"}]}}}`)

func BenchmarkDecodeActivity(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if _, err := decodeActivity(benchBody, DefaultMaxJSONDepth); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeActivity_EncodingJSON is the yardstick: encoding/json into a plain struct, without
// the strictness (case, duplicates, types) that decodeActivity adds.
func BenchmarkDecodeActivity_EncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		var v struct {
			AppActivityID, ActivitySourceHost, ActivationURL, AppDisplayName, UserTimezone string
			ContentURL, FallbackURL                                                        string
			ContentInfo                                                                    json.RawMessage
			VisualElements                                                                 struct {
				DisplayText, Description, BackgroundColor string
				Content                                   json.RawMessage
				Attribution                               *struct {
					IconURL, AlternateText string
					AddImageQuery          *bool
				}
			}
		}
		if err := json.Unmarshal(benchBody, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendActivityPage(b *testing.B) {
	body, err := decodeActivity(benchBody, DefaultMaxJSONDepth)
	if err != nil {
		b.Fatal(err)
	}
	a := &body.Activity
	a.ID, a.Status = 5347642601316252694, activity.StatusActive
	a.CreatedDateTime, a.LastModifiedDateTime, a.ExpirationDateTime = time.Now(), time.Now(), time.Now()
	b.ReportAllocs()
	buf := make([]byte, 0, 32<<10)
	for b.Loop() {
		buf = beginPage(buf[:0], "https://localhost/v1.0/$metadata#users('u')/activities", -1, "")
		for i := range 20 {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendActivity(buf, a, a.IDString(), nil, "", "")
		}
		buf = endPage(buf)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkParseFilter(b *testing.B) {
	const f = "lastModifiedDateTime gt 2018-01-22T21:45:00.347Z and lastModifiedDateTime lt 2018-01-22T22:00:00.347Z"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := odata.ParseFilter(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parsePath("PUT", "/v1.0/me/activities//article%3F12345&run=X"); err != nil {
			b.Fatal(err)
		}
	}
}

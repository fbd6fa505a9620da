package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// ceilingHandler is the yardstick: the same routes as activityd, decoding and encoding the same JSON
// with encoding/json, with no storage and no token check. Whatever activityd reaches is reported as a
// fraction of what this reaches on the same machine, seconds apart.
func ceilingHandler() http.Handler {
	stored := sampleActivity("ceiling", "1234567890123456789")
	page := make([]map[string]any, 20)
	for i := range page {
		page[i] = stored
	}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "PUT" || r.Method == "POST":
			var v map[string]any
			body, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(body, &v); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			v["id"], v["status"] = "1234567890123456789", "active"
			now := time.Now().UTC().Format(time.RFC3339Nano)
			v["createdDateTime"], v["lastModifiedDateTime"], v["expirationDateTime"] = now, now, now
			writeJSON(w, http.StatusCreated, v)
		case strings.Contains(r.URL.Path, "/activities/") && !strings.Contains(r.URL.Path, "recent"):
			writeJSON(w, http.StatusOK, stored)
		default:
			writeJSON(w, http.StatusOK, map[string]any{"@odata.context": "ceiling", "value": page})
		}
	})
}

// sampleActivity is a stored activity of about 1 KB as activityd answers it.
func sampleActivity(key, id string) map[string]any {
	var v map[string]any
	json.Unmarshal([]byte(activityJSON(key)), &v)
	v["id"], v["status"] = id, "active"
	v["createdDateTime"], v["lastModifiedDateTime"], v["expirationDateTime"] = "2026-11-27T10:00:00.123456Z", "2026-11-27T10:00:00.123456Z", "2026-12-27T10:00:00.123456Z"
	return v
}

// activityJSON is the 1 KB request body of every create: a realistic activity, padded in
// visualElements.description.
func activityJSON(key string) string {
	return `{"appActivityId":"` + key + `","activitySourceHost":"https://www.contoso.com",` +
		`"userTimezone":"Africa/Casablanca","appDisplayName":"Contoso, Ltd.",` +
		`"activationUrl":"https://www.contoso.com/article?id=` + key + `",` +
		`"contentUrl":"https://www.contoso.com/article?id=` + key + `",` +
		`"fallbackUrl":"https://www.contoso.com/article?id=` + key + `",` +
		`"contentInfo":{"@context":"https://schema.org","@type":"Article","author":"Jennifer Booth","name":"How to Tie a Reef Knot"},` +
		`"visualElements":{"attribution":{"iconUrl":"https://www.contoso.com/icon","alternateText":"Contoso, Ltd.","addImageQuery":false},` +
		`"description":"` + strings.Repeat("How to Tie a Reef Knot. A step-by-step visual guide to the art of nautical knot-tying. ", 4) + `",` +
		`"backgroundColor":"#ff0000","displayText":"Contoso How-To: How to Tie a Reef Knot",` +
		`"content":{"$schema":"https://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Contoso MainPage"}]}}}`
}

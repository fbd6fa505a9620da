package msgraph

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// timeline is the README's Go example, word for word (bearer and ptr are in sdk_test.go).
func timeline(ctx context.Context, baseURL, token string) error {
	adapter, err := msgraphsdk.NewGraphRequestAdapter(bearer(token))
	if err != nil {
		return err
	}
	adapter.SetBaseUrl(baseURL + "/v1.0") // e.g. http://127.0.0.1:8080/v1.0
	client := msgraphsdk.NewGraphServiceClient(adapter)

	a := models.NewUserActivity()
	a.SetAppActivityId(ptr("/article?12345"))
	a.SetActivitySourceHost(ptr("https://www.contoso.com"))
	a.SetActivationUrl(ptr("https://www.contoso.com/article?id=12345"))
	v := models.NewVisualInfo()
	v.SetDisplayText(ptr("How to Tie a Reef Knot"))
	a.SetVisualElements(v)

	// PUT /me/activities/{appActivityId}: build the PATCH request, send it as PUT.
	info, err := client.Me().Activities().ByUserActivityId("/article?12345").ToPatchRequestInformation(ctx, a, nil)
	if err != nil {
		return err
	}
	info.Method = abs.PUT
	res, err := adapter.Send(ctx, info, models.CreateUserActivityFromDiscriminatorValue,
		abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil {
		return err
	}
	id := *res.(models.UserActivityable).GetId()

	// A session of engagement; the server computes activeDurationSeconds.
	h := models.NewActivityHistoryItem()
	start := time.Now().Add(-time.Minute)
	h.SetStartedDateTime(&start)
	h.SetLastActiveDateTime(ptr(start.Add(20 * time.Second)))
	if _, err := client.Me().Activities().ByUserActivityId(id).HistoryItems().Post(ctx, h, nil); err != nil {
		return err
	}

	// Every activity, page by page.
	page, err := client.Me().Activities().Get(ctx, nil)
	if err != nil {
		return err
	}
	it, err := msgraphcore.NewPageIterator[models.UserActivityable](page, adapter,
		models.CreateUserActivityCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return err
	}
	return it.Iterate(ctx, func(a models.UserActivityable) bool {
		fmt.Println(*a.GetId(), *a.GetVisualElements().GetDisplayText())
		return true
	})
}

// TestReadme runs the README's example and checks that the README still holds it word for word.
func TestReadme(t *testing.T) {
	if err := timeline(t.Context(), baseURL, token(t, "readme", "notes")); err != nil {
		t.Fatalf("the README's example fails: %v", err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile("readme_test.go")
	body := string(src)
	start := strings.Index(body, "func timeline(")
	end := start + strings.Index(body[start:], "\n}\n") + 2
	if !strings.Contains(string(readme), body[start:end]) {
		t.Error("README.md no longer holds the timeline function of readme_test.go; keep the two the same")
	}
}

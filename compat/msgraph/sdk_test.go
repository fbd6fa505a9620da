package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// bearer is the simplest Kiota authentication provider: a fixed token, or none.
type bearer string

func (b bearer) AuthenticateRequest(_ context.Context, req *abs.RequestInformation, _ map[string]any) error {
	if b != "" {
		req.Headers.Add("Authorization", "Bearer "+string(b))
	}
	return nil
}

// sdk is a Graph client pointed at activityd: the only change an application makes.
type sdk struct {
	*msgraphsdk.GraphServiceClient
	adapter *msgraphsdk.GraphRequestAdapter
}

func newSDK(t *testing.T, tok string) *sdk {
	t.Helper()
	adapter, err := msgraphsdk.NewGraphRequestAdapter(bearer(tok))
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(baseURL + "/v1.0")
	return &sdk{GraphServiceClient: msgraphsdk.NewGraphServiceClient(adapter), adapter: adapter}
}

func ptr[T any](v T) *T { return &v }

var errorMapping = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// newActivity builds a userActivity as the Graph docs' example does.
func newActivity(appActivityID, title string) models.UserActivityable {
	a := models.NewUserActivity()
	a.SetAppActivityId(ptr(appActivityID))
	a.SetActivitySourceHost(ptr("https://www.contoso.com"))
	a.SetUserTimezone(ptr("Africa/Casablanca"))
	a.SetAppDisplayName(ptr("Contoso, Ltd."))
	a.SetActivationUrl(ptr("https://www.contoso.com/article?id=12345"))
	a.SetContentUrl(ptr("https://www.contoso.com/article?id=12345"))
	a.SetFallbackUrl(ptr("https://www.contoso.com/article?id=12345"))
	a.SetContentInfo(serialization.NewUntypedObject(map[string]serialization.UntypedNodeable{
		"@context": serialization.NewUntypedString("https://schema.org"),
		"@type":    serialization.NewUntypedString("Article"),
		"author":   serialization.NewUntypedString("Jennifer Booth"),
	}))
	v := models.NewVisualInfo()
	v.SetDisplayText(ptr(title))
	v.SetDescription(ptr("A step-by-step visual guide to the art of nautical knot-tying."))
	v.SetBackgroundColor(ptr("#ff0000"))
	at := models.NewImageInfo()
	at.SetIconUrl(ptr("https://www.contoso.com/icon"))
	at.SetAlternateText(ptr("Contoso, Ltd."))
	at.SetAddImageQuery(ptr(false))
	v.SetAttribution(at)
	a.SetVisualElements(v)
	return a
}

// put is Graph's documented upsert. The SDK has no typed PUT, so an application builds the PATCH
// request and changes its verb (graph-sdk-wire.md §1).
func (c *sdk) put(ctx context.Context, b *users.ItemActivitiesUserActivityItemRequestBuilder, a models.UserActivityable) (models.UserActivityable, error) {
	info, err := b.ToPatchRequestInformation(ctx, a, nil)
	if err != nil {
		return nil, err
	}
	info.Method = abs.PUT
	res, err := c.adapter.Send(ctx, info, models.CreateUserActivityFromDiscriminatorValue, errorMapping)
	if err != nil {
		return nil, err
	}
	return res.(models.UserActivityable), nil
}

// wantODataError fails the test unless err is an ODataError with the status and Graph code.
func wantODataError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		t.Fatalf("%s: error %v (%T), want an *odataerrors.ODataError", what, err, err)
	}
	main := oe.GetErrorEscaped()
	if oe.ResponseStatusCode != status || main == nil || *main.GetCode() != code || *main.GetMessage() == "" {
		t.Fatalf("%s: ODataError status %d, main error %v; want %d %s with a message", what, oe.ResponseStatusCode, main, status, code)
	}
	_ = oe.Error() // dereferences message: panics if the server left it out
}

func TestSDK(t *testing.T) {
	ctx := t.Context()
	alice := newSDK(t, token(t, "alice", "notes"))
	const key = "/article?12345&run=X"

	// PUT through Me(): the key goes out as /me/activities//article%3F12345&run=X.
	created, err := alice.put(ctx, alice.Me().Activities().ByUserActivityId(key), newActivity(key, "How to Tie a Reef Knot"))
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	id := *created.GetId()
	if *created.GetAppActivityId() != key || *created.GetStatus() != models.ACTIVE_STATUS || created.GetCreatedDateTime() == nil {
		t.Fatalf("PUT created %v %v %v", *created.GetAppActivityId(), created.GetStatus(), created.GetCreatedDateTime())
	}
	if ci, ok := created.GetContentInfo().(*serialization.UntypedObject); !ok || ci.GetValue()["author"] == nil {
		t.Errorf("contentInfo came back as %T", created.GetContentInfo())
	}

	t.Run("Me", func(t *testing.T) {
		// How the SDK's samples resolve the user: GET /me?$select=id,displayName.
		me, err := alice.Me().Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
		})
		if err != nil {
			t.Fatalf("GET /me?$select=id,displayName: %v", err)
		}
		if me.GetId() == nil || *me.GetId() == "" || me.GetDisplayName() == nil {
			t.Errorf("GET /me?$select=id,displayName: id %v, displayName %v", me.GetId(), me.GetDisplayName())
		}
		if me.GetUserPrincipalName() != nil {
			t.Errorf("GET /me?$select=id,displayName also gave userPrincipalName %q", *me.GetUserPrincipalName())
		}
	})

	t.Run("Replace", func(t *testing.T) {
		// The same key through Users().ByUserId(oid), which encodes it fully: one activity.
		me, err := alice.Me().Get(ctx, nil)
		if err != nil {
			t.Fatalf("GET /me: %v", err)
		}
		replaced, err := alice.put(ctx, alice.Users().ByUserId(*me.GetId()).Activities().ByUserActivityId(key), newActivity(key, "Reef Knot, revised"))
		if err != nil {
			t.Fatal(err)
		}
		if *replaced.GetId() != id || *replaced.GetStatus() != models.UPDATED_STATUS || !replaced.GetCreatedDateTime().Equal(*created.GetCreatedDateTime()) {
			t.Errorf("replace: id %s status %v", *replaced.GetId(), replaced.GetStatus())
		}
	})

	t.Run("GetAndPatch", func(t *testing.T) {
		got, err := alice.Me().Activities().ByUserActivityId(id).Get(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *got.GetVisualElements().GetDisplayText() != "Reef Knot, revised" || *got.GetVisualElements().GetAttribution().GetAddImageQuery() {
			t.Errorf("GET: %v", *got.GetVisualElements().GetDisplayText())
		}
		patch := models.NewUserActivity()
		v := models.NewVisualInfo()
		v.SetDisplayText(ptr("Patched"))
		patch.SetVisualElements(v)
		patched, err := alice.Me().Activities().ByUserActivityId(id).Patch(ctx, patch, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *patched.GetVisualElements().GetDisplayText() != "Patched" || *patched.GetActivationUrl() != "https://www.contoso.com/article?id=12345" {
			t.Errorf("PATCH: %v", *patched.GetVisualElements().GetDisplayText())
		}
	})

	t.Run("PostAndPaging", func(t *testing.T) {
		for i := range 7 {
			if _, err := alice.Me().Activities().Post(ctx, newActivity(fmt.Sprintf("post-%d", i), "Posted"), nil); err != nil {
				t.Fatalf("Post: %v", err)
			}
		}
		headers := abs.NewRequestHeaders()
		headers.Add("Prefer", "odata.maxpagesize=3")
		resp, err := alice.Me().Activities().Get(ctx, &users.ItemActivitiesRequestBuilderGetRequestConfiguration{Headers: headers})
		if err != nil {
			t.Fatal(err)
		}
		it, err := msgraphcore.NewPageIterator[models.UserActivityable](resp, alice.adapter, models.CreateUserActivityCollectionResponseFromDiscriminatorValue)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		if err := it.Iterate(ctx, func(a models.UserActivityable) bool { keys = append(keys, *a.GetAppActivityId()); return true }); err != nil {
			t.Fatalf("Iterate: %v", err)
		}
		if len(keys) != 8 || keys[0] != "post-6" || keys[7] != key {
			t.Errorf("paged through %v", keys)
		}
		top := int32(5)
		resp, err = alice.Me().Activities().Get(ctx, &users.ItemActivitiesRequestBuilderGetRequestConfiguration{
			Headers: headers, QueryParameters: &users.ItemActivitiesRequestBuilderGetQueryParameters{Top: &top}})
		if err != nil {
			t.Fatal(err)
		}
		it, _ = msgraphcore.NewPageIterator[models.UserActivityable](resp, alice.adapter, models.CreateUserActivityCollectionResponseFromDiscriminatorValue)
		n := 0
		it.Iterate(ctx, func(models.UserActivityable) bool { n++; return true })
		if n != 5 {
			t.Errorf("$top=5 across pages of 3 gave %d", n)
		}
		count, err := alice.Me().Activities().Count().Get(ctx, nil)
		if err != nil || *count != 8 {
			t.Errorf("Count().Get = %v, %v; want 8", count, err)
		}
	})

	t.Run("HistoryItems", func(t *testing.T) {
		start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
		h := models.NewActivityHistoryItem()
		h.SetStartedDateTime(ptr(start))
		h.SetLastActiveDateTime(ptr(start.Add(42 * time.Second)))
		h.SetUserTimezone(ptr("Africa/Casablanca"))
		item, err := alice.Me().Activities().ByUserActivityId(id).HistoryItems().Post(ctx, h, nil)
		if err != nil {
			t.Fatalf("history Post: %v", err)
		}
		if item.GetActiveDurationSeconds() == nil || *item.GetActiveDurationSeconds() != 42 {
			t.Errorf("computed duration = %v, want 42", item.GetActiveDurationSeconds())
		}
		hid := *item.GetId()
		b := alice.Me().Activities().ByUserActivityId(id).HistoryItems().ByActivityHistoryItemId(hid)
		patch := models.NewActivityHistoryItem()
		patch.SetLastActiveDateTime(ptr(start.Add(90 * time.Second)))
		patched, err := b.Patch(ctx, patch, nil)
		if err != nil || *patched.GetActiveDurationSeconds() != 90 {
			t.Errorf("history Patch = %v, %v; want duration 90", patched, err)
		}
		got, err := b.Get(ctx, nil)
		if err != nil || !got.GetStartedDateTime().Equal(start) {
			t.Errorf("history Get = %v, %v", got, err)
		}
		parent, err := b.Activity().Get(ctx, nil)
		if err != nil || *parent.GetId() != id {
			t.Errorf("history item's activity = %v, %v", parent, err)
		}
		list, err := alice.Me().Activities().ByUserActivityId(id).HistoryItems().Get(ctx, nil)
		if err != nil || len(list.GetValue()) != 1 {
			t.Errorf("history list = %v, %v", list, err)
		}
		n, err := alice.Me().Activities().ByUserActivityId(id).HistoryItems().Count().Get(ctx, nil)
		if err != nil || *n != 1 {
			t.Errorf("history Count = %v, %v", n, err)
		}

		recent, err := alice.Me().Activities().Recent().GetAsRecentGetResponse(ctx, nil)
		if err != nil {
			t.Fatalf("recent(): %v", err)
		}
		if len(recent.GetValue()) != 1 || *recent.GetValue()[0].GetId() != id {
			t.Errorf("recent() = %d activities, want only the one with a history item", len(recent.GetValue()))
		}
		expanded, err := alice.Me().Activities().ByUserActivityId(id).Get(ctx, &users.ItemActivitiesUserActivityItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemActivitiesUserActivityItemRequestBuilderGetQueryParameters{Expand: []string{"historyItems"}}})
		if err != nil || len(expanded.GetHistoryItems()) != 1 || *expanded.GetHistoryItems()[0].GetId() != hid {
			t.Errorf("$expand=historyItems = %v, %v", expanded, err)
		}
		if err := b.Delete(ctx, nil); err != nil {
			t.Errorf("history Delete: %v", err)
		}
		_, err = b.Get(ctx, nil)
		wantODataError(t, "history item after Delete", err, http.StatusNotFound, "itemNotFound")
	})

	t.Run("Isolation", func(t *testing.T) {
		for name, other := range map[string]*sdk{
			"another user":         newSDK(t, token(t, "bob", "notes")),
			"another app of alice": newSDK(t, token(t, "alice", "music")),
		} {
			_, err := other.Me().Activities().ByUserActivityId(id).Get(ctx, nil)
			wantODataError(t, name, err, http.StatusNotFound, "itemNotFound")
			list, err := other.Me().Activities().Get(ctx, nil)
			if err != nil || len(list.GetValue()) != 0 {
				t.Errorf("%s lists %v, %v", name, list, err)
			}
		}
	})

	t.Run("Unauthenticated", func(t *testing.T) {
		_, err := newSDK(t, "").Me().Activities().Get(ctx, nil)
		wantODataError(t, "no token", err, http.StatusUnauthorized, "InvalidAuthenticationToken")
	})

	t.Run("Delete", func(t *testing.T) {
		if err := alice.Me().Activities().ByUserActivityId(id).Delete(ctx, nil); err != nil {
			t.Fatal(err)
		}
		_, err := alice.Me().Activities().ByUserActivityId(id).Get(ctx, nil)
		wantODataError(t, "GET after Delete", err, http.StatusNotFound, "itemNotFound")
	})
}

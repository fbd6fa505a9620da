package msgraph

import (
	"errors"
	"testing"

	abs "github.com/microsoft/kiota-abstractions-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// TestSDK_Batch sends a $batch through the SDK's own batch support: a PUT, a GET that depends on it,
// and a GET that fails.
func TestSDK_Batch(t *testing.T) {
	ctx := t.Context()
	c := newSDK(t, token(t, "batcher", "notes"))
	const key = "/batch?X"

	put, err := c.Me().Activities().ByUserActivityId(key).ToPatchRequestInformation(ctx, newActivity(key, "Batched"), nil)
	if err != nil {
		t.Fatal(err)
	}
	put.Method = abs.PUT
	get, err := c.Me().Activities().ToGetRequestInformation(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := c.Me().Activities().ByUserActivityId("no-such-activity").ToGetRequestInformation(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	batch := msgraphcore.NewBatchRequest(c.adapter)
	putItem, err := batch.AddBatchRequestStep(*put)
	if err != nil {
		t.Fatal(err)
	}
	getItem, _ := batch.AddBatchRequestStep(*get)
	getItem.DependsOnItem(putItem)
	missingItem, _ := batch.AddBatchRequestStep(*missing)

	// The SDK turns failed steps into typed errors with the factories an application registers.
	msgraphcore.RegisterError(msgraphcore.BatchRequestErrorRegistryKey, abs.ErrorMappings{
		"4XX": odataerrors.CreateODataErrorFromDiscriminatorValue, "5XX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	resp, err := batch.Send(ctx, c.adapter)
	if err != nil {
		t.Fatalf("batch Send: %v", err)
	}
	codes := resp.GetStatusCodes()
	if codes[*putItem.GetId()] != 201 || codes[*getItem.GetId()] != 200 || codes[*missingItem.GetId()] != 404 {
		t.Errorf("step statuses %v, want 201, 200, 404", codes)
	}
	created, err := msgraphcore.GetBatchResponseById[models.UserActivityable](resp, *putItem.GetId(), models.CreateUserActivityFromDiscriminatorValue)
	if err != nil || *created.GetAppActivityId() != key {
		t.Errorf("the PUT step's activity: %v, %v", created, err)
	}
	list, err := msgraphcore.GetBatchResponseById[models.UserActivityCollectionResponseable](resp, *getItem.GetId(), models.CreateUserActivityCollectionResponseFromDiscriminatorValue)
	if err != nil || len(list.GetValue()) != 1 {
		t.Errorf("the GET step's list: %v, %v", list, err)
	}
	// The SDK's batch path builds the ODataError without ResponseStatusCode (its throwErrors never
	// sets it); the step's 404 is checked above, the error's code and message here.
	_, err = msgraphcore.GetBatchResponseById[models.UserActivityable](resp, *missingItem.GetId(), models.CreateUserActivityFromDiscriminatorValue)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.GetErrorEscaped() == nil || *oe.GetErrorEscaped().GetCode() != "itemNotFound" || *oe.GetErrorEscaped().GetMessage() == "" {
		t.Errorf("the failing GET step: %v (%T), want an ODataError itemNotFound with a message", err, err)
	}
}

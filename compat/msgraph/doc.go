// Package msgraph proves that the official Microsoft Graph Go SDK (github.com/microsoftgraph/msgraph-sdk-go)
// works against activityd unchanged, only pointed at its base URL. It is a module of its own so that
// activityd itself does not depend on the SDK; its tests build and start the real activityd binary.
package msgraph

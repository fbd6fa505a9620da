// Package client speaks the Microsoft Graph user-activities API, as activityd serves it, over HTTP:
// the wire types (lenient when decoding), paging, JSON batching, and the person's import and export.
// The CLI commands of activityd are built on it.
package client

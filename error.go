package activity

import (
	"errors"
	"fmt"
)

// Error codes. The set is closed: graph/error.go maps each one to an HTTP status and a Graph error code.
const (
	Invalid          = "invalid"           // the request is malformed or breaks a rule (400)
	NotFound         = "not_found"         // no such resource for this principal (404)
	Conflict         = "conflict"          // the request conflicts with stored state (409)
	Unauthenticated  = "unauthenticated"   // no valid bearer token (401)
	Forbidden        = "forbidden"         // a valid token that may not do this (403)
	NotAllowed       = "not_allowed"       // the method does not apply to this resource (405)
	TooLarge         = "too_large"         // the request body is over a limit (413)
	HeadersTooLarge  = "headers_too_large" // the request headers are over a limit (431)
	UnsupportedMedia = "unsupported_media" // the body's media type or encoding is not accepted (415)
	FailedDependency = "failed_dependency" // a $batch request whose dependency failed (424)
	TooManyRequests  = "too_many_requests" // the caller is over a rate limit (429)
	Internal         = "internal"          // anything else; never shown to clients in detail (500)
)

// Error is an error whose Message is safe to show to a client. Any other error is internal.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("activityd error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and Internal otherwise.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the client-safe message of err if it is (or wraps) an *Error,
// and a generic message otherwise.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred."
}

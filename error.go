package activity

import (
	"errors"
	"fmt"
)

// Error codes, in the domain's terms. The set is closed: graph/error.go maps each one to an HTTP
// status and a Graph error code. Errors of the HTTP exchange itself (a method, a media type, a size,
// throttling) are graph's own.
const (
	Invalid         = "invalid"         // the input is malformed or breaks a rule
	NotFound        = "not_found"       // no such resource for this principal
	Conflict        = "conflict"        // the request conflicts with stored state
	Unauthenticated = "unauthenticated" // the caller's credentials are missing or not valid
	Forbidden       = "forbidden"       // a known caller that may not do this
	Internal        = "internal"        // anything else; never shown to clients in detail
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

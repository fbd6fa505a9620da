package activity

import (
	"errors"
	"fmt"
	"log/slog"
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
	Unavailable     = "unavailable"     // the store cannot serve for now (unreachable, out of connections, busy): try again
	StorageFull     = "storage_full"    // the store is out of space: writes fail, reads go on
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

// ErrorClassifier is a Store that tells, of an error it returned, whether it means that the store
// cannot serve for now (Unavailable: unreachable, out of connections, busy) or is out of space
// (StorageFull), so that clients get 503 or 507 and try again rather than a 500. It answers "" for
// any other error.
type ErrorClassifier interface {
	ClassifyError(err error) string
}

// Classify returns err as an *Error with its class, Unavailable or StorageFull, when the store
// classifies it so (ErrorClassifier); otherwise err itself. The *Error wraps err, so that logs
// keep the cause.
func Classify(store Store, err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	c, ok := store.(ErrorClassifier)
	if !ok {
		return err
	}
	switch c.ClassifyError(err) {
	case Unavailable:
		return &classified{&Error{Unavailable, "The service is unavailable for a moment: its database cannot be reached or is busy. Try again after the time in Retry-After."}, err}
	case StorageFull:
		return &classified{&Error{StorageFull, "The server's storage is full: the write was not stored. Reads go on; try again once space is freed."}, err}
	}
	return err
}

// LogLevel is the level at which a background job logs err of store: WARN when the store classifies
// it as Unavailable (out of connections, unreachable, busy for now: the job runs again by itself,
// and the requests that meet the same condition are answered 503 and logged at WARN too), ERROR
// otherwise. store need not be a Store: any ErrorClassifier, or a value that is not one (ERROR).
func LogLevel(store any, err error) slog.Level {
	if c, ok := store.(ErrorClassifier); ok && c.ClassifyError(err) == Unavailable {
		return slog.LevelWarn
	}
	return slog.LevelError
}

// classified is an *Error that keeps the store's error behind it.
type classified struct {
	err   *Error
	cause error
}

func (c *classified) Error() string   { return c.err.Error() + ": " + c.cause.Error() }
func (c *classified) Unwrap() []error { return []error{c.err, c.cause} }

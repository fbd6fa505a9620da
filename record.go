package activity

import (
	"context"
	"errors"
	"time"
)

// Record is one item of the sign-in provider's state, kept in the store beside the activities so
// that every process on it shares it: an account, an app (OAuth client), an authorization request
// and its code, a device authorization, a grant (a signed-in device or app) and its refresh tokens.
// The provider owns the meaning of each kind and the JSON in Body; the store only keeps, finds and
// removes records.
type Record struct {
	Kind string // "account", "app", "grant", … (at most 32 bytes)
	ID   string // unique within Kind (at most 200 bytes)
	// Owner is the key ListRecords and DeleteRecords select by: the account of a grant, the grant of
	// a refresh token. Empty for none.
	Owner string
	// Expires is when the record stops existing; zero for never. An expired record is never
	// returned, and the store removes it some time later.
	Expires time.Time
	Body    []byte // the provider's JSON, at most 64 KiB
}

// Errors of a RecordStore.
var (
	ErrRecordNotFound = errors.New("record not found")
	ErrRecordExists   = errors.New("record exists")
	// ErrRecordChanged is a ReplaceRecord whose record changed since it was read.
	ErrRecordChanged = errors.New("record changed")
)

// RecordStore keeps Records. Both stores implement it; every method is one transaction.
type RecordStore interface {
	// CreateRecord adds r, or fails with ErrRecordExists when a live record has its Kind and ID.
	CreateRecord(ctx context.Context, r Record) error
	// PutRecord adds r or replaces the record with its Kind and ID.
	PutRecord(ctx context.Context, r Record) error
	// ReplaceRecord replaces the live record with r's Kind and ID by r only if its Body is still old
	// (compare and swap: a read, a change, a write that loses no other writer's change), or fails
	// with ErrRecordChanged when it is not, ErrRecordNotFound when there is no such record.
	ReplaceRecord(ctx context.Context, r Record, old []byte) error
	// FindRecord returns the live record kind/id, or ErrRecordNotFound.
	FindRecord(ctx context.Context, kind, id string) (Record, error)
	// TakeRecord removes the live record kind/id and returns it, or ErrRecordNotFound: of callers
	// racing for one record, exactly one gets it (a code that works once).
	TakeRecord(ctx context.Context, kind, id string) (Record, error)
	// ListRecords returns the live records of kind owned by owner (every live record of kind when
	// owner is empty), in no set order.
	ListRecords(ctx context.Context, kind, owner string) ([]Record, error)
	// DeleteRecords removes the records of kind owned by owner (not empty) and says how many it
	// removed.
	DeleteRecords(ctx context.Context, kind, owner string) (int, error)
}

// Bounds of a Record.
const (
	MaxRecordKind = 32
	MaxRecordID   = 200
	MaxRecordBody = 64 << 10
)

// Check reports a record a store must refuse: an empty or too long kind or id, a too long owner or
// body.
func (r Record) Check() error {
	switch {
	case r.Kind == "" || len(r.Kind) > MaxRecordKind:
		return Errorf(Invalid, "a record's kind must be 1 to %d bytes", MaxRecordKind)
	case r.ID == "" || len(r.ID) > MaxRecordID:
		return Errorf(Invalid, "a record's id must be 1 to %d bytes", MaxRecordID)
	case len(r.Owner) > MaxRecordID:
		return Errorf(Invalid, "a record's owner must be at most %d bytes", MaxRecordID)
	case len(r.Body) > MaxRecordBody:
		return Errorf(Invalid, "a record's body must be at most %d bytes", MaxRecordBody)
	}
	return nil
}

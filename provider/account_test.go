package provider

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/sqlite"
)

func testAccounts(t *testing.T) (*Accounts, context.Context) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return NewAccounts(st, auth.Username, auth.UserID), t.Context()
}

// TestAccounts_UpdateRaces puts another writer between an update's read and its write, each way:
// a change made meanwhile holds (no lost update), and an account removed meanwhile stays removed
// (an update does not write it back, which left an account that passed the admin check).
func TestAccounts_UpdateRaces(t *testing.T) {
	as, ctx := testAccounts(t)
	if _, err := as.Add(ctx, "gina", "gina password"); err != nil {
		t.Fatal(err)
	}
	first := true
	a, err := as.update(ctx, "gina", func(a *Account) {
		if first {
			first = false
			if _, err := as.SetDisabled(ctx, "gina", true); err != nil {
				t.Fatal(err)
			}
		}
		a.Admin = true
	})
	if err != nil || !a.Admin || !a.Disabled {
		t.Errorf("update with a disable in between: %+v %v, want both changes", a, err)
	}
	if a, _ := as.ByID(ctx, a.ID); !a.Admin || !a.Disabled {
		t.Errorf("stored: admin %v disabled %v, want both", a.Admin, a.Disabled)
	}

	if _, err := as.Add(ctx, "eve", "eve password"); err != nil {
		t.Fatal(err)
	}
	_, err = as.update(ctx, "eve", func(a *Account) {
		if _, err := as.Remove(ctx, "eve"); err != nil && activity.ErrorCode(err) != activity.NotFound {
			t.Fatal(err)
		}
		a.Admin = true
	})
	if activity.ErrorCode(err) != activity.NotFound {
		t.Errorf("update of an account removed meanwhile: %v, want NotFound", err)
	}
	if a, err := as.ByID(ctx, auth.UserID("eve")); activity.ErrorCode(err) != activity.NotFound {
		t.Errorf("the removed account is back: %+v %v", a, err)
	}
}

// TestRevocations: disabling or removing an account revokes the tokens issued until then (that
// second included), not those issued after; another process's revocation is seen once loaded.
func TestRevocations(t *testing.T) {
	as, ctx := testAccounts(t)
	a, err := as.Add(ctx, "hal", "hal password")
	if err != nil {
		t.Fatal(err)
	}
	rv := as.Revocations()
	now := as.now().Truncate(time.Second) // iat has whole seconds
	if rv.Revoked(a.ID, "notes", now) {
		t.Fatal("revoked before anything happened")
	}
	if _, err := as.SetDisabled(ctx, "hal", true); err != nil {
		t.Fatal(err)
	}
	if !rv.Revoked(a.ID, "notes", now) || !rv.Revoked(a.ID, "notes", now.Add(-time.Hour)) || !rv.Revoked(a.ID, "notes", time.Time{}) {
		t.Error("a token from before the disable (or without iat) is not revoked")
	}
	if rv.Revoked(a.ID, "notes", now.Truncate(time.Second).Add(2*time.Second)) {
		t.Error("a token issued after the disable is revoked")
	}
	// Another process (activityd user on the command line) reads the same store.
	other := NewRevocations(as.records)
	if other.Revoked(a.ID, "notes", now) {
		t.Fatal("revoked before loading")
	}
	if err := other.Load(ctx); err != nil || !other.Revoked(a.ID, "notes", now) {
		t.Errorf("after Load: %v, revoked %v", err, other.Revoked(a.ID, "notes", now))
	}
}

// TestRevocations_App: removing an app revokes its tokens of every account, not another app's.
func TestRevocations_App(t *testing.T) {
	as, ctx := testAccounts(t)
	rv := as.Revocations()
	now := time.Now().Truncate(time.Second)
	if err := rv.RevokeApp(ctx, "notes", now); err != nil {
		t.Fatal(err)
	}
	if !rv.Revoked("some-user", "notes", now) || rv.Revoked("some-user", "tasks", now) || rv.Revoked("some-user", "notes", now.Add(time.Second)) {
		t.Error("an app's revocation: want its tokens until now refused, another app's and later ones not")
	}
}

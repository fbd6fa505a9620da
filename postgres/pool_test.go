package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/postgres/pgtest"
)

// A pool whose connections are all busy makes the next query fail with ErrPoolTimeout, which is
// Unavailable (503), after pool_acquire_timeout, instead of waiting for as long as the caller would.
// The pool here has one connection; a write blocked on a table lock holds it.
func TestPool_AcquireTimeout(t *testing.T) {
	url := pgtest.URL(t)
	s, err := postgres.Open(t.Context(), url+"&pool_max_conns=1&pool_acquire_timeout=300ms")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := activity.NewService(s)
	p := activitytest.AliceNotes
	if _, err := svc.UpsertActivity(t.Context(), p, activitytest.NewActivity("first")); err != nil {
		t.Fatal(err)
	}

	lock := pgtest.Hold(t, url, "LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
	written := make(chan error, 1)
	go func() {
		_, err := svc.UpsertActivity(context.Background(), p, activitytest.NewActivity("blocked"))
		written <- err
	}()
	// The write holds the pool's one connection once PostgreSQL shows it waiting for the lock.
	for waiting := 0; waiting == 0; time.Sleep(10 * time.Millisecond) {
		if err := lock.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%activities%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}

	_, err = s.FindActivity(t.Context(), p, activity.Ref{AppActivityID: "first"})
	if !errors.Is(err, postgres.ErrPoolTimeout) {
		t.Fatalf("a read while the only connection is busy = %v, want ErrPoolTimeout", err)
	}
	if c := s.ClassifyError(err); c != activity.Unavailable {
		t.Errorf("ClassifyError(%v) = %q, want %q", err, c, activity.Unavailable)
	}
	for _, want := range []string{"300ms", "1 of 1 connections in use", "pool_max_conns"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say %q", err, want)
		}
	}
	// A caller whose own context ends first gets that context's error, not the pool's.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.FindActivity(ctx, p, activity.Ref{AppActivityID: "first"}); errors.Is(err, postgres.ErrPoolTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a read whose context ends before the acquire timeout = %v, want its context's deadline", err)
	}

	if err := lock.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-written; err != nil {
		t.Fatalf("the write that waited for the lock: %v", err)
	}
	for _, key := range []string{"first", "blocked"} {
		if _, err := s.FindActivity(t.Context(), p, activity.Ref{AppActivityID: key}); err != nil {
			t.Errorf("after the connection is free again, find %q: %v", key, err)
		}
	}
}

// The store works on a pool of one connection: every query gives its connection back (rows read
// to the end or closed, a row scanned, a transaction ended, a batch closed), and Listen holds a
// connection of its own, outside the pool. A connection kept would make every later query of the
// conformance suite fail with ErrPoolTimeout.
func TestStore_PoolOfOne(t *testing.T) {
	activitytest.TestStore(t, func(t *testing.T, now func() time.Time) activity.Store {
		s, err := postgres.Open(t.Context(), pgtest.URL(t)+"&pool_max_conns=1&pool_acquire_timeout=10s")
		if err != nil {
			t.Fatal(err)
		}
		s.Now = now
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Listen(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done; s.Close() })
		return s
	})
}

func TestOpen_AcquireTimeoutRefused(t *testing.T) {
	url := pgtest.URL(t)
	for _, v := range []string{"soon", "0s", "-1s"} {
		_, err := postgres.Open(t.Context(), url+"&pool_acquire_timeout="+v)
		if err == nil || !strings.Contains(err.Error(), "pool_acquire_timeout") {
			t.Errorf("Open with pool_acquire_timeout=%s = %v, want a refusal naming the parameter", v, err)
		}
	}
}

// TestOpen_ShortAcquireTimeout: opening the store (its migrations) is not bounded by the acquire
// timeout, so a timeout shorter than a connect to PostgreSQL still opens it; queries then get a
// connection or ErrPoolTimeout, never anything else, and never wait past it.
func TestOpen_ShortAcquireTimeout(t *testing.T) {
	s, err := postgres.Open(t.Context(), pgtest.URL(t)+"&pool_max_conns=4&pool_acquire_timeout=1ns")
	if err != nil {
		t.Fatalf("Open with a timeout shorter than a connect: %v", err)
	}
	defer s.Close()
	svc := activity.NewService(s)
	p := activitytest.AliceNotes
	done := make(chan error, 4)
	for i := range 4 {
		go func() {
			_, err := svc.UpsertActivity(t.Context(), p, activitytest.NewActivity(strconv.Itoa(i)))
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil && !errors.Is(err, postgres.ErrPoolTimeout) {
			t.Error(err)
		}
	}
}

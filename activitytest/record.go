package activitytest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// testRecords checks the store's activity.RecordStore: create once, put over, find, take once
// (under a race), list by owner, delete by owner, expiry, and the bounds.
func testRecords(t *testing.T, open Opener) {
	c := NewClock()
	st, ok := open(t, c.Now).(activity.RecordStore)
	if !ok {
		t.Skip("the store keeps no records")
	}
	ctx := t.Context()
	rec := func(kind, id, owner string, ttl time.Duration, body string) activity.Record {
		r := activity.Record{Kind: kind, ID: id, Owner: owner, Body: []byte(body)}
		if ttl > 0 {
			r.Expires = c.Now().Add(ttl)
		}
		return r
	}
	if err := st.CreateRecord(ctx, rec("account", "a1", "", 0, `{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRecord(ctx, rec("account", "a1", "", 0, `{"n":2}`)); !errors.Is(err, activity.ErrRecordExists) {
		t.Errorf("create over a live record: %v, want ErrRecordExists", err)
	}
	// The same id under another kind is another record.
	if err := st.CreateRecord(ctx, rec("app", "a1", "", 0, `{}`)); err != nil {
		t.Errorf("same id, other kind: %v", err)
	}
	if err := st.PutRecord(ctx, rec("account", "a1", "", 0, `{"n":3}`)); err != nil {
		t.Fatal(err)
	}
	if r, err := st.FindRecord(ctx, "account", "a1"); err != nil || string(r.Body) != `{"n":3}` || !r.Expires.IsZero() {
		t.Errorf("find after put: %+v %v", r, err)
	}
	if _, err := st.FindRecord(ctx, "account", "none"); !errors.Is(err, activity.ErrRecordNotFound) {
		t.Errorf("find a missing record: %v", err)
	}

	// Replace: only over the body it was read with; of writers racing from one read, one wins.
	if err := st.ReplaceRecord(ctx, rec("account", "a1", "", 0, `{"n":4}`), []byte(`{"n":2}`)); !errors.Is(err, activity.ErrRecordChanged) {
		t.Errorf("replace over another body: %v, want ErrRecordChanged", err)
	}
	if err := st.ReplaceRecord(ctx, rec("account", "none", "", 0, `{}`), []byte(`{}`)); !errors.Is(err, activity.ErrRecordNotFound) {
		t.Errorf("replace a missing record: %v, want ErrRecordNotFound", err)
	}
	var won sync.WaitGroup
	var wins, losses sync.Map
	for i := range 8 {
		won.Add(1)
		go func() {
			defer won.Done()
			err := st.ReplaceRecord(ctx, rec("account", "a1", "", 0, fmt.Sprintf(`{"n":3,"w":%d}`, i)), []byte(`{"n":3}`))
			switch {
			case err == nil:
				wins.Store(i, true)
			case errors.Is(err, activity.ErrRecordChanged):
				losses.Store(i, true)
			default:
				t.Errorf("racing replace: %v", err)
			}
		}()
	}
	won.Wait()
	n := 0
	var winner int
	wins.Range(func(k, _ any) bool { n, winner = n+1, k.(int); return true })
	if n != 1 {
		t.Fatalf("%d of 8 racing replaces won, want 1", n)
	}
	if r, err := st.FindRecord(ctx, "account", "a1"); err != nil || string(r.Body) != fmt.Sprintf(`{"n":3,"w":%d}`, winner) {
		t.Errorf("after the race: %s %v, want the winner's body", r.Body, err)
	}
	if err := st.PutRecord(ctx, rec("account", "a1", "", 0, `{"n":3}`)); err != nil {
		t.Fatal(err)
	}

	// Expiry: invisible once past, and a create may take its place.
	if err := st.PutRecord(ctx, rec("code", "c1", "", time.Minute, `x`)); err != nil {
		t.Fatal(err)
	}
	if r, err := st.FindRecord(ctx, "code", "c1"); err != nil || !r.Expires.Equal(c.Now().Add(time.Minute)) {
		t.Errorf("find a live code: %+v %v", r, err)
	}
	c.Add(time.Minute)
	if _, err := st.FindRecord(ctx, "code", "c1"); !errors.Is(err, activity.ErrRecordNotFound) {
		t.Errorf("find an expired record: %v", err)
	}
	if _, err := st.TakeRecord(ctx, "code", "c1"); !errors.Is(err, activity.ErrRecordNotFound) {
		t.Errorf("take an expired record: %v", err)
	}
	if err := st.PutRecord(ctx, rec("code", "c2", "", time.Minute, `x`)); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Minute)
	if err := st.CreateRecord(ctx, rec("code", "c2", "", time.Minute, `fresh`)); err != nil {
		t.Errorf("create over an expired record: %v", err)
	}
	if r, err := st.FindRecord(ctx, "code", "c2"); err != nil || string(r.Body) != "fresh" {
		t.Errorf("the new record: %+v %v", r, err)
	}

	// Take: of racing takers, one gets it.
	if err := st.PutRecord(ctx, rec("code", "race", "", time.Hour, `once`)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 8 {
		wg.Go(func() {
			r, err := st.TakeRecord(ctx, "code", "race")
			if err == nil && string(r.Body) == "once" {
				mu.Lock()
				got++
				mu.Unlock()
			} else if err != nil && !errors.Is(err, activity.ErrRecordNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got != 1 {
		t.Errorf("%d takers got the record, want 1", got)
	}

	// Owners: list and delete by owner; an empty owner lists every record of the kind.
	for i := range 3 {
		st.PutRecord(ctx, rec("refresh", fmt.Sprint("r", i), "g1", time.Hour, `{}`))
	}
	st.PutRecord(ctx, rec("refresh", "r9", "g2", time.Hour, `{}`))
	st.PutRecord(ctx, rec("refresh", "old", "g1", time.Second, `{}`))
	c.Add(time.Second)
	list, err := st.ListRecords(ctx, "refresh", "g1")
	var names []string
	for _, r := range list {
		names = append(names, r.ID)
	}
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"r0", "r1", "r2"}) {
		t.Errorf("list g1: %v %v", names, err)
	}
	if all, _ := st.ListRecords(ctx, "refresh", ""); len(all) != 4 {
		t.Errorf("list every refresh record: %d, want 4", len(all))
	}
	if n, err := st.DeleteRecords(ctx, "refresh", "g1"); err != nil || n < 3 {
		t.Errorf("delete g1: %d %v", n, err)
	}
	if list, _ := st.ListRecords(ctx, "refresh", "g1"); len(list) != 0 {
		t.Errorf("g1 after delete: %d", len(list))
	}
	if list, _ := st.ListRecords(ctx, "refresh", "g2"); len(list) != 1 {
		t.Errorf("g2 after deleting g1: %d, want 1", len(list))
	}
	if _, err := st.DeleteRecords(ctx, "refresh", ""); activity.ErrorCode(err) != activity.Invalid {
		t.Errorf("delete with no owner: %v, want invalid", err)
	}

	// Bounds.
	for name, r := range map[string]activity.Record{
		"no kind":   rec("", "x", "", 0, ``),
		"no id":     rec("k", "", "", 0, ``),
		"long id":   rec("k", string(make([]byte, activity.MaxRecordID+1)), "", 0, ``),
		"long body": rec("k", "x", "", 0, string(make([]byte, activity.MaxRecordBody+1))),
	} {
		if err := st.PutRecord(ctx, r); activity.ErrorCode(err) != activity.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}

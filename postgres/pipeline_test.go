package postgres

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// countingConn counts the writes a client makes to PostgreSQL: one a round trip, as pgx sends a
// query, or a pipeline of them, in one write.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// openCounting opens a store of one connection whose writes to the server writes counts.
func openCounting(t *testing.T) (*Store, *atomic.Int64) {
	t.Helper()
	writes := &atomic.Int64{}
	s, err := open(t.Context(), pgtest.URL(t)+"&pool_max_conns=1", func(c *pgxpool.Config) {
		dial := c.ConnConfig.DialFunc
		c.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{conn, writes}, nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, writes
}

// A Graph PUT of a history item takes one round trip (Store.PutHistoryItem), or, when the user has
// privacy settings, that one and then three more in a transaction; a PATCH of an activity takes
// three: BEGIN with the look-up of the activity and of the privacy settings, the write, COMMIT. (All
// took five or four before: BEGIN and the privacy read each had their own.) Each is run once first
// so that pgx has prepared its statements (a new statement costs one round trip more, once a
// connection).
func TestPipelined_RoundTrips(t *testing.T) {
	s, writes := openCounting(t)
	svc := activity.NewService(s)
	ctx := t.Context()
	p := activitytest.AliceNotes
	a := activitytest.NewActivity("a")
	if _, err := svc.UpsertActivity(ctx, p, a); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, c := range []struct {
		name string
		want int64
		do   func(i int) error
	}{
		{"PUT of a history item", 1, func(int) error {
			_, err := svc.PutHistoryItem(ctx, p, activity.Ref{ID: a.ID}, activitytest.NewHistoryItem("", now, time.Minute))
			return err
		}},
		{"PUT of a history item by appActivityId", 1, func(int) error {
			_, err := svc.PutHistoryItem(ctx, p, activity.Ref{AppActivityID: "a"}, activitytest.NewHistoryItem("", now, time.Minute))
			return err
		}},
		{"PATCH of an activity", 3, func(i int) error {
			_, err := svc.UpdateActivity(ctx, p, activity.Ref{ID: a.ID}, func(a *activity.Activity) {
				a.VisualElements.DisplayText = time.Duration(i).String()
			})
			return err
		}},
		{"PUT of a history item by a user with privacy settings", 4, func(i int) error {
			if i == 0 {
				if _, err := svc.SetPrivacy(ctx, p, &activity.Privacy{BlockedApps: []string{"another"}}); err != nil {
					return err
				}
			}
			_, err := svc.PutHistoryItem(ctx, p, activity.Ref{ID: a.ID}, activitytest.NewHistoryItem("", now, time.Minute))
			return err
		}},
	} {
		for i := range 2 {
			before := writes.Load()
			if err := c.do(i); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := writes.Load() - before; i == 1 && got != c.want {
				t.Errorf("%s: %d round trips, want %d", c.name, got, c.want)
			}
		}
	}
}

// A pipelined transaction is one transaction from its first statement, whichever kind that is; one
// that sent nothing commits without a round trip; a failed one is rolled back, by Rollback or by
// COMMIT (which reports it), and its connection goes back to the pool in use for the next.
func TestPipelinedTx(t *testing.T) {
	s, writes := openCounting(t)
	ctx := t.Context()
	xid := func(t *testing.T, q querier) (id int64) {
		t.Helper()
		if err := q.QueryRow(ctx, "SELECT txid_current()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	begin := func(t *testing.T) *pipelinedTx {
		t.Helper()
		tx, err := s.pool.BeginPipelined(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	// released checks that the pool's one connection is back and not in a transaction.
	released := func(t *testing.T) {
		t.Helper()
		if st := s.pool.Stat(); st.AcquiredConns() != 0 || st.TotalConns() != 1 {
			t.Fatalf("pool: %d acquired of %d, want 0 of 1 (the connection back, not closed)", st.AcquiredConns(), st.TotalConns())
		}
		if a, b := xid(t, s.pool), xid(t, s.pool); a == b {
			t.Fatalf("two statements on the released connection ran in one transaction (%d)", a)
		}
	}

	t.Run("first statement", func(t *testing.T) {
		for name, first := range map[string]func(tx *pipelinedTx) (int64, error){
			"QueryRow": func(tx *pipelinedTx) (id int64, err error) {
				return id, tx.QueryRow(ctx, "SELECT txid_current()").Scan(&id)
			},
			"Exec": func(tx *pipelinedTx) (int64, error) {
				_, err := tx.Exec(ctx, "SELECT txid_current()")
				return 0, err
			},
			"Query": func(tx *pipelinedTx) (id int64, err error) {
				rows, err := tx.Query(ctx, "SELECT txid_current()")
				if err != nil {
					return 0, err
				}
				return pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
			},
		} {
			tx := begin(t)
			id, err := first(tx)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if next := xid(t, tx); id != 0 && next != id {
				t.Errorf("%s: first statement in transaction %d, the next in %d", name, id, next)
			}
			var now1, now2 time.Time
			if err := tx.QueryRow(ctx, "SELECT transaction_timestamp()").Scan(&now1); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
			if err := tx.QueryRow(ctx, "SELECT transaction_timestamp()").Scan(&now2); err != nil {
				t.Fatal(err)
			}
			if !now1.Equal(now2) {
				t.Errorf("%s: the statements after the first are not in one transaction (%v, %v)", name, now1, now2)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatalf("%s: commit: %v", name, err)
			}
			released(t)
		}
	})

	t.Run("nothing sent", func(t *testing.T) {
		tx := begin(t)
		before := writes.Load()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if n := writes.Load() - before; n != 0 {
			t.Errorf("commit of an empty transaction made %d round trips, want 0", n)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Errorf("Rollback after Commit = %v, want nil", err)
		}
		released(t)
	})

	t.Run("rolled back", func(t *testing.T) {
		if _, err := s.pool.Exec(ctx, "CREATE TABLE pipelined (n int PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		tx := begin(t)
		if _, err := tx.Exec(ctx, "INSERT INTO pipelined VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		released(t)
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM pipelined").Scan(&n); err != nil || n != 0 {
			t.Fatalf("after Rollback the table holds %d rows (%v), want 0: the first statement ran outside the transaction", n, err)
		}
	})

	t.Run("failed first statement", func(t *testing.T) {
		tx := begin(t)
		var n int
		err := tx.QueryRow(ctx, "SELECT 1/0").Scan(&n)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "22012" {
			t.Fatalf("SELECT 1/0 = %v, want division_by_zero", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		released(t)
	})

	t.Run("failed then committed", func(t *testing.T) {
		tx := begin(t)
		if _, err := tx.Exec(ctx, "INSERT INTO pipelined VALUES (2)"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO pipelined VALUES (2)"); err == nil {
			t.Fatal("a duplicate key was inserted")
		}
		if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
			t.Fatalf("Commit of a failed transaction = %v, want pgx.ErrTxCommitRollback", err)
		}
		released(t)
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM pipelined").Scan(&n); err != nil || n != 0 {
			t.Fatalf("after a failed transaction's Commit the table holds %d rows (%v), want 0", n, err)
		}
	})
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/activityd/activityd"
)

// principalKey is what names a principal's row in the principals table (migration 0014).
type principalKey struct{ tenant, user, app string }

// principalIDs caches the ids of the principals table, which activities are indexed by. A row never
// changes; it is deleted only with the last of its activities when its person forgets its app or
// everything (Tx.dropPrincipals), and a new row for the same principal may get another id. So the
// cache holds ids of committed rows only (the writer adds the rows it inserted once their batch has
// committed), the writer removes a row's id as it deletes the row and again once the batch has
// ended, and every removal starts a new generation: a read adds what it found only if no removal
// came between its look-up and its add (a read of an older snapshot could find a row just deleted).
// A missing id is never wrong, only a look-up more. It grows with the principals read or written
// since the store opened (about 200 bytes each with GUID ids).
type principalIDs struct {
	mu  sync.RWMutex
	ids map[principalKey]int64
	gen uint64 // removals so far
}

// lookup returns k's cached id, if any, and the generation to give addRead.
func (c *principalIDs) lookup(k principalKey) (id int64, ok bool, gen uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok = c.ids[k]
	return id, ok, c.gen
}

// addRead caches k's id as a read found it, unless an id was removed since generation gen.
func (c *principalIDs) addRead(k principalKey, id int64, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.ids == nil {
		c.ids = map[principalKey]int64{}
	}
	c.ids[k] = id
}

// settle removes the ids of dropped (rows deleted by the batch's writes, committed or not: a row
// that is still there is only looked up again), then applies rows, the principals rows the batch's
// committed writes read, inserted (id) or deleted (id 0), in their order.
func (c *principalIDs) settle(dropped []principalKey, rows []principalRow) {
	if len(dropped) == 0 && len(rows) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil {
		c.ids = map[principalKey]int64{}
	}
	if len(dropped) > 0 {
		c.gen++
		for _, k := range dropped {
			delete(c.ids, k)
		}
	}
	for _, r := range rows {
		if r.id == 0 {
			delete(c.ids, r.key)
		} else {
			c.ids[r.key] = r.id
		}
	}
}

// principalRow is a row of the principals table; id 0 says a write deleted it.
type principalRow struct {
	key principalKey
	id  int64
}

// findPrincipal returns the id of k's row read through q, 0 when there is none (no activity has principal
// 0, so a statement given 0 finds nothing).
func findPrincipal(ctx context.Context, q querier, k principalKey) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM principals WHERE tenant_id = ? AND user_id = ? AND app_id = ?`,
		k.tenant, k.user, k.app).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("principal: %w", err)
	}
	return id, nil
}

// principal returns the id of the principal (p's tenant and user, with app) for a read of committed
// rows, 0 when it has never written an activity.
func (s *Store) principal(ctx context.Context, p activity.Principal, app string) (int64, error) {
	k := principalKey{p.TenantID, p.UserID, app}
	id, ok, gen := s.principals.lookup(k)
	if ok {
		return id, nil
	}
	id, err := findPrincipal(ctx, s.reads, k)
	if err == nil && id != 0 {
		s.principals.addRead(k, id, gen)
	}
	return id, err
}

// principal returns the id of the write's principal with app (0 when it has none), inserting its
// row when create is set. A row read or inserted here may not be committed yet (an earlier write
// of the batch may have inserted it): it goes to the cache only once the batch has committed
// (tx.resolved, Store.commit).
func (tx *Tx) principal(ctx context.Context, app string, create bool) (int64, error) {
	k := principalKey{tx.p.TenantID, tx.p.UserID, app}
	if id, ok, _ := tx.principals.lookup(k); ok {
		return id, nil
	}
	for i := len(tx.resolved) - 1; i >= 0; i-- { // an import's thousands of creates look it up once
		if r := tx.resolved[i]; r.key == k && r.id != 0 {
			return r.id, nil
		} else if r.key == k {
			break // this write deleted it
		}
	}
	id, err := findPrincipal(ctx, tx.tx, k)
	if err != nil || (id == 0 && !create) {
		return id, err
	}
	if id == 0 {
		if err := tx.tx.QueryRowContext(ctx, `INSERT INTO principals (tenant_id, user_id, app_id) VALUES (?, ?, ?) RETURNING id`,
			k.tenant, k.user, k.app).Scan(&id); err != nil {
			return 0, fmt.Errorf("principal: %w", err)
		}
	}
	tx.resolved = append(tx.resolved, principalRow{k, id})
	return id, nil
}

// dropPrincipals deletes the principals rows of the write's user that the conditions where (on
// principals; its arguments args) select and that no activity holds any more, so that a person who
// forgets an app, or everything, leaves no trace of having used it. Their ids leave the cache at
// once (a later write of the batch must not find them there) and again when the batch ends (settle).
func (tx *Tx) dropPrincipals(ctx context.Context, where string, args ...any) error {
	rows, err := tx.tx.QueryContext(ctx, `DELETE FROM principals WHERE `+where+`
		AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.principal = principals.id)
		RETURNING tenant_id, user_id, app_id`, args...)
	if err != nil {
		return fmt.Errorf("forget principals: %w", err)
	}
	var dropped []principalKey
	for rows.Next() {
		var k principalKey
		if err := rows.Scan(&k.tenant, &k.user, &k.app); err != nil {
			rows.Close()
			return fmt.Errorf("forget principals: %w", err)
		}
		dropped = append(dropped, k)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("forget principals: %w", err)
	}
	for _, k := range dropped {
		tx.resolved = append(tx.resolved, principalRow{k, 0})
	}
	tx.principals.settle(dropped, nil)
	return nil
}

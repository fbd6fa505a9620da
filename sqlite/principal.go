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

// principalIDs caches the ids of the principals table, which activities are indexed by. Rows are
// never deleted or changed, so an id read from a committed row stays right for good; the cache
// holds only those (the writer adds the rows it inserted once their transaction has committed). It
// grows with the principals that have been read or written since the store opened (about 200 bytes
// each with GUID ids).
type principalIDs struct {
	mu  sync.RWMutex
	ids map[principalKey]int64
}

func (c *principalIDs) cached(k principalKey) (int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.ids[k]
	return id, ok
}

func (c *principalIDs) add(rows []principalRow) {
	if len(rows) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil {
		c.ids = map[principalKey]int64{}
	}
	for _, r := range rows {
		c.ids[r.key] = r.id
	}
}

// principalRow is a row of the principals table.
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
	if id, ok := s.principals.cached(k); ok {
		return id, nil
	}
	id, err := findPrincipal(ctx, s.reads, k)
	if err == nil && id != 0 {
		s.principals.add([]principalRow{{k, id}})
	}
	return id, err
}

// principal returns the id of the write's principal with app (0 when it has none), inserting its
// row when create is set. A row read or inserted here may not be committed yet (an earlier write
// of the batch may have inserted it): it goes to the cache only once the batch has committed
// (tx.resolved, Store.commit).
func (tx *Tx) principal(ctx context.Context, app string, create bool) (int64, error) {
	k := principalKey{tx.p.TenantID, tx.p.UserID, app}
	if id, ok := tx.principals.cached(k); ok {
		return id, nil
	}
	for _, r := range tx.resolved { // an import's thousands of creates in one write look it up once
		if r.key == k {
			return r.id, nil
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

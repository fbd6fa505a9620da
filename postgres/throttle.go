package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/activityd/activityd"
)

var _ activity.RequestCounter = (*Store)(nil)

// CountRequest adds one to each named counter of p in one statement, so that every process on the
// database counts against the same limits. The counter names carry their window, so now is not
// needed here; expired counters are purged with the other expired rows.
func (s *Store) CountRequest(ctx context.Context, p activity.Principal, _ time.Time, names []string, expires []time.Time) ([]int64, error) {
	ex := make([]int64, len(expires))
	for i, t := range expires {
		ex[i] = micros(t)
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO request_counts AS c (tenant_id, user_id, app_id, counter, count, expires)
		SELECT $1, $2, $3, name, 1, exp FROM unnest($4::text[], $5::bigint[]) AS u(name, exp)
		ON CONFLICT (tenant_id, user_id, app_id, counter) DO UPDATE SET count = c.count + 1
		RETURNING counter, count`, p.TenantID, p.UserID, p.AppID, names, ex)
	if err != nil {
		return nil, fmt.Errorf("count request: %w", err)
	}
	defer rows.Close()
	counts := make(map[string]int64, len(names))
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("count request: %w", err)
		}
		counts[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count request: %w", err)
	}
	out := make([]int64, len(names))
	for i, name := range names {
		out[i] = counts[name]
	}
	return out, nil
}

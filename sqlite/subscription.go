package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/activityd/activityd"
)

var _ activity.SubscriptionStore = (*Store)(nil)

const subscriptionColumns = `id, tenant_id, user_id, app_id, resource, change_types, notification_url, lifecycle_url,
	client_state, expires, created, pos_tx, pos_seq, failing_from, next_attempt`

func scanSubscription(row scanner) (*activity.Subscription, error) {
	var s activity.Subscription
	var types string
	var expires, created, failing, next int64
	if err := row.Scan(&s.ID, &s.Principal.TenantID, &s.Principal.UserID, &s.Principal.AppID, &s.Resource, &types,
		&s.NotificationURL, &s.LifecycleNotificationURL, &s.ClientState, &expires, &created,
		&s.Position.Tx, &s.Position.Seq, &failing, &next); err != nil {
		return nil, err
	}
	s.ChangeTypes, _ = activity.ParseChangeTypes(types) // stored as validated
	s.ExpirationDateTime, s.CreatedDateTime = fromMicros(expires), fromMicros(created)
	s.FailingFrom, s.NextAttempt = fromMicros(failing), fromMicros(next)
	return &s, nil
}

// CreateSubscription stores s, its delivery starting at the change log's latest position.
func (s *Store) CreateSubscription(ctx context.Context, sub *activity.Subscription) error {
	log, err := s.ChangeLog(ctx)
	if err != nil {
		return err
	}
	sub.Position = log.Latest
	p := sub.Principal
	return s.submit(ctx, p, func(tx *Tx) error {
		var n int
		if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM subscriptions
			WHERE tenant_id = ? AND user_id = ? AND app_id = ? AND expires > ?`, p.TenantID, p.UserID, p.AppID, tx.now).Scan(&n); err != nil {
			return fmt.Errorf("create subscription: %w", err)
		}
		if n >= activity.MaxSubscriptionsPerPrincipal {
			return activity.Errorf(activity.Conflict, "This user and app have %d subscriptions, the most allowed; delete one first.", n)
		}
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)`,
			sub.ID, p.TenantID, p.UserID, p.AppID, sub.Resource, sub.ChangeType(), sub.NotificationURL,
			sub.LifecycleNotificationURL, sub.ClientState, micros(sub.ExpirationDateTime), micros(sub.CreatedDateTime),
			sub.Position.Tx, sub.Position.Seq)
		if err != nil {
			return fmt.Errorf("create subscription: %w", err)
		}
		return nil
	})
}

// FindSubscription returns one live subscription of p.
func (s *Store) FindSubscription(ctx context.Context, p activity.Principal, id string) (*activity.Subscription, error) {
	sub, err := scanSubscription(s.reads.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE id = ? AND tenant_id = ? AND user_id = ? AND app_id = ? AND expires > ?`, id, p.TenantID, p.UserID, p.AppID, s.now()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, activity.Errorf(activity.NotFound, "The subscription '%s' was not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find subscription: %w", err)
	}
	return sub, nil
}

// ListSubscriptions returns the live subscriptions of p, oldest first.
func (s *Store) ListSubscriptions(ctx context.Context, p activity.Principal) ([]*activity.Subscription, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE tenant_id = ? AND user_id = ? AND app_id = ? AND expires > ? ORDER BY created, id`, p.TenantID, p.UserID, p.AppID, s.now())
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*activity.Subscription
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("list subscriptions: %w", err)
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// RenewSubscription sets the expiration of one live subscription of p.
func (s *Store) RenewSubscription(ctx context.Context, p activity.Principal, id string, expires time.Time) error {
	return s.submit(ctx, p, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, `UPDATE subscriptions SET expires = ?
			WHERE id = ? AND tenant_id = ? AND user_id = ? AND app_id = ? AND expires > ?`, micros(expires), id, p.TenantID, p.UserID, p.AppID, tx.now)
		if err != nil {
			return fmt.Errorf("renew subscription: %w", err)
		}
		return mustAffect(res, "The subscription '%s' was not found.", id)
	})
}

// DeleteSubscription deletes one subscription of p.
func (s *Store) DeleteSubscription(ctx context.Context, p activity.Principal, id string) error {
	return s.submit(ctx, p, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, `DELETE FROM subscriptions
			WHERE id = ? AND tenant_id = ? AND user_id = ? AND app_id = ? AND expires > ?`, id, p.TenantID, p.UserID, p.AppID, tx.now)
		if err != nil {
			return fmt.Errorf("delete subscription: %w", err)
		}
		return mustAffect(res, "The subscription '%s' was not found.", id)
	})
}

// ClaimSubscription leases a due, live, unleased subscription to the caller.
func (s *Store) ClaimSubscription(ctx context.Context, now time.Time, lease time.Duration) (*activity.Subscription, error) {
	var sub *activity.Subscription
	err := s.submit(ctx, activity.Principal{}, func(tx *Tx) error {
		var err error
		sub, err = scanSubscription(tx.tx.QueryRowContext(ctx, `UPDATE subscriptions SET lease_until = ?
			WHERE id = (SELECT id FROM subscriptions WHERE next_attempt <= ? AND lease_until <= ? AND expires > ?
				ORDER BY next_attempt LIMIT 1)
			RETURNING `+subscriptionColumns, micros(now.Add(lease)), micros(now), micros(now), micros(now)))
		if errors.Is(err, sql.ErrNoRows) {
			sub, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim subscription: %w", err)
	}
	return sub, nil
}

// ReleaseSubscription records the delivery state of a claimed subscription and ends its lease.
func (s *Store) ReleaseSubscription(ctx context.Context, sub *activity.Subscription) error {
	return s.submit(ctx, sub.Principal, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `UPDATE subscriptions SET pos_tx = ?, pos_seq = ?, failing_from = ?,
			next_attempt = ?, lease_until = 0 WHERE id = ?`,
			sub.Position.Tx, sub.Position.Seq, micros(sub.FailingFrom), micros(sub.NextAttempt), sub.ID)
		if err != nil {
			return fmt.Errorf("release subscription: %w", err)
		}
		return nil
	})
}

// DeleteExpiredSubscriptions deletes the subscriptions that expired before now.
func (s *Store) DeleteExpiredSubscriptions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.submit(ctx, activity.Principal{}, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE expires <= ?`, micros(now))
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired subscriptions: %w", err)
	}
	return int(n), nil
}

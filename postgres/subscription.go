package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5"
)

var _ activity.SubscriptionStore = (*Store)(nil)

const subscriptionColumns = `id, tenant_id, user_id, app_id, resource, change_types, notification_url, lifecycle_url,
	client_state, expires, created, pos_tx, pos_seq, failing_from, next_attempt`

func scanSubscription(row pgx.Row) (*activity.Subscription, error) {
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

// CreateSubscription stores s, its delivery starting at the change log's latest position. The count
// of the principal's subscriptions and the insert run under a lock on the principal's key, so that
// concurrent creations cannot pass the limit together.
func (s *Store) CreateSubscription(ctx context.Context, sub *activity.Subscription) error {
	log, err := s.ChangeLog(ctx)
	if err != nil {
		return err
	}
	sub.Position = log.Latest
	p := sub.Principal
	return s.Update(ctx, p, func(atx activity.Tx) error {
		tx := atx.(*Tx)
		// The key joins the principal's claims with a control character, which claims never hold.
		key := p.TenantID + "\x1f" + p.UserID + "\x1f" + p.AppID
		if _, err := tx.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
			return fmt.Errorf("create subscription: %w", err)
		}
		var n int
		if err := tx.tx.QueryRow(ctx, `SELECT count(*) FROM subscriptions
			WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND expires > $4`, p.TenantID, p.UserID, p.AppID, tx.now).Scan(&n); err != nil {
			return fmt.Errorf("create subscription: %w", err)
		}
		if n >= activity.MaxSubscriptionsPerPrincipal {
			return activity.Errorf(activity.Conflict, "This user and app have %d subscriptions, the most allowed; delete one first.", n)
		}
		_, err := tx.tx.Exec(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0)`,
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
	sub, err := scanSubscription(s.pool.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND id = $4 AND expires > $5`, p.TenantID, p.UserID, p.AppID, id, s.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, activity.Errorf(activity.NotFound, "The subscription '%s' was not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find subscription: %w", err)
	}
	return sub, nil
}

// ListSubscriptions returns the live subscriptions of p, oldest first.
func (s *Store) ListSubscriptions(ctx context.Context, p activity.Principal) ([]*activity.Subscription, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND expires > $4 ORDER BY created, id`, p.TenantID, p.UserID, p.AppID, s.now())
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*activity.Subscription, error) { return scanSubscription(r) })
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return out, nil
}

// RenewSubscription sets the expiration of one live subscription of p.
func (s *Store) RenewSubscription(ctx context.Context, p activity.Principal, id string, expires time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE subscriptions SET expires = $1
		WHERE tenant_id = $2 AND user_id = $3 AND app_id = $4 AND id = $5 AND expires > $6`, micros(expires), p.TenantID, p.UserID, p.AppID, id, s.now())
	if err != nil {
		return fmt.Errorf("renew subscription: %w", err)
	}
	return mustAffect(tag, "The subscription '%s' was not found.", id)
}

// DeleteSubscription deletes one subscription of p.
func (s *Store) DeleteSubscription(ctx context.Context, p activity.Principal, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM subscriptions
		WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3 AND id = $4 AND expires > $5`, p.TenantID, p.UserID, p.AppID, id, s.now())
	if err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	return mustAffect(tag, "The subscription '%s' was not found.", id)
}

// ClaimSubscription leases a due, live subscription that no process holds to the caller: SKIP LOCKED
// lets processes claim different ones at once, and the lease keeps it theirs until they release it
// or it runs out (a process killed mid-delivery loses nothing: another claims it after the lease).
func (s *Store) ClaimSubscription(ctx context.Context, now time.Time, lease time.Duration) (*activity.Subscription, error) {
	sub, err := scanSubscription(s.pool.QueryRow(ctx, `UPDATE subscriptions SET lease_until = $1
		WHERE (tenant_id, user_id, app_id, id) = (
			SELECT tenant_id, user_id, app_id, id FROM subscriptions
			WHERE next_attempt <= $2 AND lease_until <= $2 AND expires > $2
			ORDER BY next_attempt LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+subscriptionColumns, micros(now.Add(lease)), micros(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("claim subscription: %w", err)
	}
	return sub, nil
}

// ReleaseSubscription records the delivery state of a claimed subscription and ends its lease.
func (s *Store) ReleaseSubscription(ctx context.Context, sub *activity.Subscription) error {
	p := sub.Principal
	_, err := s.pool.Exec(ctx, `UPDATE subscriptions SET pos_tx = $1, pos_seq = $2, failing_from = $3,
		next_attempt = $4, lease_until = 0 WHERE tenant_id = $5 AND user_id = $6 AND app_id = $7 AND id = $8`,
		sub.Position.Tx, sub.Position.Seq, micros(sub.FailingFrom), micros(sub.NextAttempt), p.TenantID, p.UserID, p.AppID, sub.ID)
	if err != nil {
		return fmt.Errorf("release subscription: %w", err)
	}
	return nil
}

// DeleteExpiredSubscriptions deletes the subscriptions that expired before now.
func (s *Store) DeleteExpiredSubscriptions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM subscriptions WHERE expires <= $1`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired subscriptions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

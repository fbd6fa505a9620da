package activity

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// Subscription is a Graph subscription to change notifications (webhooks) on a principal's
// activities: the changes of the change log are POSTed to NotificationURL, delivered from the log
// itself, so that nothing a write does waits for a receiver.
// https://learn.microsoft.com/graph/api/resources/subscription
type Subscription struct {
	ID                       string // a GUID
	Principal                Principal
	Resource                 string       // as the client gave it, e.g. "me/activities"
	ChangeTypes              []ChangeKind // of created, updated, deleted
	NotificationURL          string
	LifecycleNotificationURL string // "" for none
	ClientState              string // up to 128 characters, sent back with every notification
	ExpirationDateTime       time.Time
	CreatedDateTime          time.Time

	// Delivery state, kept by the store for the notifier.
	Position    Position  // every change up to it was delivered (or given up on)
	FailingFrom time.Time // when deliveries started failing; zero while they succeed
	NextAttempt time.Time // when the notifier may try again after a failure
}

// Limits of subscriptions.
const (
	MaxClientState = 128
	// MaxSubscriptionLifetime is the latest expiration a subscription may ask for, from now: Graph's
	// most common maximum (4,230 minutes, just under three days).
	MaxSubscriptionLifetime = 4230 * time.Minute
	// MaxSubscriptionsPerPrincipal bounds the subscriptions of one user and app.
	MaxSubscriptionsPerPrincipal = 20
)

// ParseChangeTypes reads Graph's changeType: a comma-separated list of created, updated and deleted.
// Errors: Invalid, naming the value.
func ParseChangeTypes(s string) ([]ChangeKind, error) {
	var out []ChangeKind
	for _, part := range strings.Split(s, ",") {
		k := ChangeKind(strings.TrimSpace(part))
		switch k {
		case ChangeCreated, ChangeUpdated, ChangeDeleted:
		default:
			return nil, Errorf(Invalid, "The changeType '%s' is not supported; use created, updated and deleted, comma-separated.", part)
		}
		for _, seen := range out {
			if seen == k {
				return nil, Errorf(Invalid, "The changeType '%s' appears more than once.", k)
			}
		}
		out = append(out, k)
	}
	return out, nil
}

// ChangeType is Graph's changeType of the subscription: its kinds, comma-separated.
func (s *Subscription) ChangeType() string {
	parts := make([]string, len(s.ChangeTypes))
	for i, t := range s.ChangeTypes {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}

// Wants reports whether the subscription asked for changes of kind k.
func (s *Subscription) Wants(k ChangeKind) bool {
	for _, t := range s.ChangeTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Validate checks what a client may set: the resource, the change types, the URLs (absolute https,
// or http when allowInsecure), the client state, and an expiration after now and within
// MaxSubscriptionLifetime. Errors: Invalid, naming the property.
func (s *Subscription) Validate(now time.Time, allowInsecure bool) error {
	if _, ok := s.ResourceUser(); !ok {
		return Errorf(Invalid, "The resource '%s' is not supported; subscribe to me/activities.", s.Resource)
	}
	if len(s.ChangeTypes) == 0 {
		return Errorf(Invalid, "The property 'changeType' is required: created, updated and deleted, comma-separated.")
	}
	if err := checkNotificationURL("notificationUrl", s.NotificationURL, allowInsecure); err != nil {
		return err
	}
	if s.LifecycleNotificationURL != "" {
		if err := checkNotificationURL("lifecycleNotificationUrl", s.LifecycleNotificationURL, allowInsecure); err != nil {
			return err
		}
	}
	if len([]rune(s.ClientState)) > MaxClientState {
		return Errorf(Invalid, "The property 'clientState' is longer than %d characters.", MaxClientState)
	}
	if !s.ExpirationDateTime.After(now) {
		return Errorf(Invalid, "The property 'expirationDateTime' must be in the future.")
	}
	if s.ExpirationDateTime.After(now.Add(MaxSubscriptionLifetime)) {
		return Errorf(Invalid, "The property 'expirationDateTime' is more than %d minutes from now; renew the subscription before it expires instead.", int(MaxSubscriptionLifetime/time.Minute))
	}
	return checkNUL("clientState", s.ClientState)
}

// ResourceUser reads the resource: "me/activities" (user "") or "users/{user}/activities", and
// reports false for any other. Whether {user} is the subscriber is the caller's to check.
func (s *Subscription) ResourceUser() (user string, ok bool) {
	resource := strings.Trim(s.Resource, "/")
	if strings.EqualFold(resource, "me/activities") {
		return "", true
	}
	if len(resource) < len("users//activities") || !strings.EqualFold(resource[:len("users/")], "users/") ||
		!strings.EqualFold(resource[len(resource)-len("/activities"):], "/activities") {
		return "", false
	}
	user = resource[len("users/") : len(resource)-len("/activities")]
	return user, user != "" && !strings.Contains(user, "/")
}

func checkNotificationURL(name, raw string, allowInsecure bool) error {
	if raw == "" {
		return Errorf(Invalid, "The property '%s' is required.", name)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || len(raw) > MaxStringLength {
		return Errorf(Invalid, "The property '%s' must be an absolute URL; '%s' is not.", name, raw)
	}
	if u.User != nil {
		return Errorf(Invalid, "The property '%s' may not hold a user name or password.", name)
	}
	if u.Scheme != "https" && !(allowInsecure && u.Scheme == "http") {
		return Errorf(Invalid, "The property '%s' must be an https URL; '%s' is not.", name, raw)
	}
	return nil
}

// SubscriptionStore keeps subscriptions and their delivery state. Methods taking a Principal see only
// its subscriptions; another's is NotFound.
type SubscriptionStore interface {
	// CreateSubscription stores s with its Position at the change log's latest position.
	// Errors: Conflict when the principal has MaxSubscriptionsPerPrincipal already.
	CreateSubscription(ctx context.Context, s *Subscription) error
	// FindSubscription returns one subscription of p. Errors: NotFound.
	FindSubscription(ctx context.Context, p Principal, id string) (*Subscription, error)
	// ListSubscriptions returns the live subscriptions of p.
	ListSubscriptions(ctx context.Context, p Principal) ([]*Subscription, error)
	// RenewSubscription sets the expiration of one subscription of p. Errors: NotFound.
	RenewSubscription(ctx context.Context, p Principal, id string, expires time.Time) error
	// DeleteSubscription deletes one subscription of p. Errors: NotFound.
	DeleteSubscription(ctx context.Context, p Principal, id string) error

	// ClaimSubscription leases to the caller, until now+lease, a live subscription whose next attempt
	// is due and that no one else holds, and returns it; nil when there is none. On PostgreSQL each
	// subscription is held by one process at a time.
	ClaimSubscription(ctx context.Context, now time.Time, lease time.Duration) (*Subscription, error)
	// ReleaseSubscription records the delivery state of a claimed subscription and ends its lease.
	ReleaseSubscription(ctx context.Context, s *Subscription) error
	// DeleteExpiredSubscriptions deletes the subscriptions that expired before now.
	DeleteExpiredSubscriptions(ctx context.Context, now time.Time) (int, error)
}

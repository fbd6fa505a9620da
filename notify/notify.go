// Package notify delivers Graph change notifications (webhooks) for the subscriptions a store keeps:
// the validation handshake when a subscription is made, then notifications read from the change log
// itself, so that no write waits for a receiver, with retries and a "missed" lifecycle notification
// when a receiver keeps failing. It dials only public addresses unless the operator allows others,
// checked when connecting. It must not import other adapters of activityd.
// https://learn.microsoft.com/graph/change-notifications-delivery-webhooks
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/activityd/activityd"
)

// Store is what the notifier needs of a store: its subscriptions and its change log.
type Store interface {
	activity.SubscriptionStore
	Changes(ctx context.Context, p activity.Principal, q activity.ChangeQuery) (*activity.ChangePage, error)
}

// Defaults of a Notifier.
const (
	DefaultMaxRetry = 4 * time.Hour    // how long deliveries to a failing receiver are retried
	handshakeWait   = 10 * time.Second // Graph's: a receiver answers the validation within 10 s
	deliveryWait    = 10 * time.Second
	maxAnswer       = 64 << 10 // bytes of a receiver's answer read
	lease           = time.Minute
	batchSize       = 100 // changes in one notification POST
	// DefaultWorkers is how many receivers a Notifier delivers to at once.
	DefaultWorkers = 16
)

// Notifier validates notification URLs and delivers notifications. Run delivers until its context
// ends; Validate is called when a subscription is made.
type Notifier struct {
	store  Store
	ids    *activity.PublicIDs
	logger *slog.Logger
	client *http.Client

	// Changes wakes the notifier when the change log grows; without it, it looks every Poll.
	Changes *activity.Wakeups
	// Poll is how often the notifier looks for work without a wake-up (default 2 s).
	Poll time.Duration
	// MaxRetry is how long a failing receiver is retried before its changes are given up on and a
	// "missed" lifecycle notification is sent (default DefaultMaxRetry).
	MaxRetry time.Duration
	// Observe, when set, is called after each POST to a notification URL with its outcome:
	// "delivered" (a 2xx), "failed" (to be retried), "given_up" (past MaxRetry: the pending changes
	// are dropped and a "missed" lifecycle notification is sent).
	Observe func(outcome string)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Workers is how many receivers are delivered to at once (default DefaultWorkers).
	Workers int
}

// Config is how a Notifier reaches receivers.
type Config struct {
	// Allow lists addresses a receiver may have although they are not public (loopback, private,
	// link-local and the like are refused otherwise, when connecting).
	Allow []netip.Prefix
	// TLS, when set, is the TLS configuration of deliveries (tests trust their receiver's CA with it).
	TLS *tls.Config
}

// New returns a Notifier over store; ids turns stored activity ids into the public ids that
// notifications carry.
func New(store Store, ids *activity.PublicIDs, logger *slog.Logger, cfg Config) *Notifier {
	return &Notifier{store: store, ids: ids, logger: logger, client: safeClient(cfg)}
}

// safeClient is an HTTP client that dials only allowed addresses (checked on the resolved address,
// when connecting, so that DNS cannot point a checked name elsewhere afterwards), follows no
// redirect, ignores proxies from the environment and gives up after deliveryWait.
func safeClient(cfg Config) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		if !allowed(ip.Unmap(), cfg.Allow) {
			return &refusedError{ip: ip}
		}
		return nil
	}}
	transport := &http.Transport{
		DialContext:            dialer.DialContext,
		TLSClientConfig:        cfg.TLS,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  deliveryWait,
		MaxResponseHeaderBytes: 16 << 10,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        time.Minute,
	}
	return &http.Client{Transport: transport, Timeout: deliveryWait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// refusedError is a dial to an address that is not public and not allowed.
type refusedError struct{ ip netip.Addr }

func (e *refusedError) Error() string {
	return fmt.Sprintf("the address %s is not public (loopback, private, link-local or reserved) and not allowed by --webhook-allow", e.ip)
}

// cgnat is the shared address space of RFC 6598, not public either.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// allowed reports whether a receiver may have the address ip: a public unicast address, or one the
// operator allowed.
func allowed(ip netip.Addr, allow []netip.Prefix) bool {
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// Validate runs Graph's validation handshake with a notification URL: a POST to it with a
// validationToken query parameter, which the receiver must answer within 10 seconds with 200 and the
// token as text/plain. Errors: Invalid, with Graph's message and the reason.
func (n *Notifier) Validate(ctx context.Context, notificationURL string) error {
	token := activity.NewGUID()
	u, err := url.Parse(notificationURL)
	if err != nil {
		return activity.Errorf(activity.Invalid, "The notificationUrl '%s' is not a URL.", notificationURL)
	}
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, handshakeWait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	failed := func(reason string) error {
		return activity.Errorf(activity.Invalid, "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request. (%s: %s)", notificationURL, reason)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return failed(reason(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode != http.StatusOK:
		return failed("it answered " + resp.Status)
	case mt != "text/plain":
		return failed("its answer is not text/plain")
	case strings.TrimSpace(string(body)) != token:
		return failed("its answer is not the validationToken")
	}
	return nil
}

// reason is why a request to a receiver failed, for a client's message: no internals.
func reason(err error) string {
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return "no answer within 10 seconds"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "its host name does not resolve"
	}
	return "it could not be reached"
}

// Run delivers notifications until ctx is done: in rounds, each visiting every due subscription once,
// started when the change log grows or every Poll. It returns nil when ctx is done.
func (n *Notifier) Run(ctx context.Context) error {
	poll := n.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		var wake <-chan struct{}
		if n.Changes != nil {
			wake = n.Changes.Any()
		}
		n.round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-t.C:
		}
	}
}

// round visits each subscription due at its start once, delivering to up to Workers receivers at a
// time (so that a slow receiver delays its own subscriptions, not everyone's), then deletes expired
// subscriptions.
func (n *Notifier) round(ctx context.Context) {
	start := n.now()
	workers := n.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for ctx.Err() == nil {
		sem <- struct{}{}
		sub, err := n.store.ClaimSubscription(ctx, start, lease)
		if err != nil || sub == nil {
			<-sem
			if err != nil && ctx.Err() == nil {
				n.logger.Log(ctx, activity.LogLevel(n.store, err), "claim a subscription", slog.String("error", err.Error()))
			}
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			n.deliver(ctx, sub)
			if err := n.store.ReleaseSubscription(context.WithoutCancel(ctx), sub); err != nil {
				n.logger.Log(ctx, activity.LogLevel(n.store, err), "release a subscription", slog.String("subscription", sub.ID), slog.String("error", err.Error()))
			}
		})
	}
	wg.Wait()
	if _, err := n.store.DeleteExpiredSubscriptions(ctx, n.now()); err != nil && ctx.Err() == nil {
		n.logger.Log(ctx, activity.LogLevel(n.store, err), "delete expired subscriptions", slog.String("error", err.Error()))
	}
}

// deliver sends what is pending for a claimed subscription, a batch at a time, and records in sub
// where delivery is up to and when to try again.
func (n *Notifier) deliver(ctx context.Context, sub *activity.Subscription) {
	for ctx.Err() == nil {
		page, err := n.store.Changes(ctx, sub.Principal, activity.ChangeQuery{After: sub.Position, Limit: batchSize})
		if err != nil {
			n.logger.Log(ctx, activity.LogLevel(n.store, err), "read the change log", slog.String("subscription", sub.ID), slog.String("error", err.Error()))
			sub.NextAttempt = n.now()
			return
		}
		var value []notification
		for _, c := range page.Changes {
			if sub.Wants(c.Kind) {
				value = append(value, n.notification(sub, c))
			}
		}
		if len(value) > 0 {
			if err := n.post(ctx, sub.NotificationURL, map[string]any{"value": value}); err != nil {
				n.failed(ctx, sub, page, err)
				return
			}
			n.observe("delivered")
		}
		sub.Position, sub.FailingFrom, sub.NextAttempt = page.Next, time.Time{}, n.now()
		if !page.More {
			return
		}
	}
}

// failed records a failed delivery: try again later, backing off, and after MaxRetry give the
// pending changes up, telling the lifecycle URL that notifications were missed (the client resyncs
// with a delta query).
func (n *Notifier) failed(ctx context.Context, sub *activity.Subscription, page *activity.ChangePage, err error) {
	now := n.now()
	if sub.FailingFrom.IsZero() {
		sub.FailingFrom = now
	}
	maxRetry := n.MaxRetry
	if maxRetry <= 0 {
		maxRetry = DefaultMaxRetry
	}
	n.logger.Warn("notification not delivered", slog.String("subscription", sub.ID), slog.String("error", err.Error()),
		slog.Time("failing_since", sub.FailingFrom))
	if now.Sub(sub.FailingFrom) < maxRetry {
		n.observe("failed")
		backoff := min(max(now.Sub(sub.FailingFrom), 5*time.Second), 10*time.Minute)
		sub.NextAttempt = now.Add(backoff)
		return
	}
	n.observe("given_up")
	if sub.LifecycleNotificationURL != "" {
		missed := map[string]any{"value": []map[string]any{{"lifecycleEvent": "missed", "subscriptionId": sub.ID,
			"subscriptionExpirationDateTime": sub.ExpirationDateTime.UTC().Format(time.RFC3339), "tenantId": sub.Principal.TenantID,
			"clientState": nullable(sub.ClientState)}}}
		if err := n.post(ctx, sub.LifecycleNotificationURL, missed); err != nil {
			n.logger.Warn("lifecycle notification not delivered", slog.String("subscription", sub.ID), slog.String("error", err.Error()))
		}
	}
	// Give up on what is pending now; what comes later is tried afresh.
	for page.More {
		next, err := n.store.Changes(ctx, sub.Principal, activity.ChangeQuery{After: page.Next, Limit: 1000})
		if err != nil {
			break
		}
		page = next
	}
	sub.Position, sub.FailingFrom, sub.NextAttempt = page.Next, time.Time{}, now
}

func (n *Notifier) observe(outcome string) {
	if n.Observe != nil {
		n.Observe(outcome)
	}
}

// notification is one entry of a notification's value: Graph's changeNotification.
type notification struct {
	ID                             string       `json:"id"`
	SubscriptionID                 string       `json:"subscriptionId"`
	SubscriptionExpirationDateTime string       `json:"subscriptionExpirationDateTime"`
	ChangeType                     string       `json:"changeType"`
	Resource                       string       `json:"resource"`
	ResourceData                   resourceData `json:"resourceData"`
	ClientState                    *string      `json:"clientState"`
	TenantID                       string       `json:"tenantId"`
}

type resourceData struct {
	Type string `json:"@odata.type"`
	OID  string `json:"@odata.id"`
	ID   string `json:"id"`
}

// notification makes the changeNotification of one change. Its id is the subscription's and the
// change's position, the same on every attempt, so that a receiver can drop a repeat.
func (n *Notifier) notification(sub *activity.Subscription, c activity.Change) notification {
	id := strconv.FormatInt(n.ids.Public(c.ActivityID), 10)
	resource := "Users/" + sub.Principal.UserID + "/Activities/" + id
	return notification{
		ID:                             sub.ID + ":" + strconv.FormatInt(c.Position.Tx, 10) + "." + strconv.FormatInt(c.Position.Seq, 10),
		SubscriptionID:                 sub.ID,
		SubscriptionExpirationDateTime: sub.ExpirationDateTime.UTC().Format(time.RFC3339),
		ChangeType:                     string(c.Kind),
		Resource:                       resource,
		ResourceData:                   resourceData{Type: "#Microsoft.Graph.UserActivity", OID: resource, ID: id},
		ClientState:                    nullable(sub.ClientState),
		TenantID:                       sub.Principal.TenantID,
	}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// post sends a JSON body to a receiver; any 2xx is done.
func (n *Notifier) post(ctx context.Context, target string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, deliveryWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return errors.New(reason(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return nil
}

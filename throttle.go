package activity

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is a limit of N requests per period.
type Rate struct {
	N   int
	Per time.Duration
}

func (r Rate) String() string { return strconv.Itoa(r.N) + "/" + shortDuration(r.Per) }

func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

// Limits are the request limits of one principal (a user through an app).
type Limits struct {
	Reads, Writes []Rate
}

// GraphLimits are Graph's Project Rome limits: reads 400 per 5 minutes and 12,000 per day, writes 100
// per 5 minutes and 8,000 per day, per user and app.
func GraphLimits() Limits {
	return Limits{
		Reads:  []Rate{{400, 5 * time.Minute}, {12000, 24 * time.Hour}},
		Writes: []Rate{{100, 5 * time.Minute}, {8000, 24 * time.Hour}},
	}
}

// RequestCounter keeps request counters per principal. Backends that serve several processes keep
// them in the shared database, so that the limits hold across processes.
type RequestCounter interface {
	// CountRequest adds one to each named counter of p, creating it to live until its expiry, and
	// returns the new values in the order of names. now is the throttle's clock: a counter whose
	// expiry is not after now counts from zero again.
	CountRequest(ctx context.Context, p Principal, now time.Time, names []string, expires []time.Time) ([]int64, error)
}

// Throttle enforces Limits with fixed windows: each rate counts the requests of the current window of
// its period, aligned to the Unix epoch.
type Throttle struct {
	Limits  Limits
	Counter RequestCounter
	Now     func() time.Time
}

// Check counts one request of p and returns zero, or, when a limit is reached, how long until the
// window that is over its limit ends (at least a second).
func (t *Throttle) Check(ctx context.Context, p Principal, write bool) (time.Duration, *Rate, error) {
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	rates, kind := t.Limits.Reads, "r"
	if write {
		rates, kind = t.Limits.Writes, "w"
	}
	if len(rates) == 0 {
		return 0, nil, nil
	}
	names := make([]string, len(rates))
	expires := make([]time.Time, len(rates))
	for i, r := range rates {
		start := now.Truncate(r.Per)
		names[i] = kind + r.String() + "@" + strconv.FormatInt(start.Unix(), 10)
		expires[i] = start.Add(r.Per)
	}
	counts, err := t.Counter.CountRequest(ctx, p, now, names, expires)
	if err != nil {
		return 0, nil, err
	}
	var wait time.Duration
	var over *Rate
	for i, r := range rates {
		if counts[i] > int64(r.N) && expires[i].Sub(now) > wait {
			wait, over = expires[i].Sub(now), &rates[i]
		}
	}
	if over != nil {
		wait = max(wait.Round(time.Second), time.Second)
	}
	return wait, over, nil
}

// MemoryCounter is a RequestCounter for one process.
type MemoryCounter struct {
	mu     sync.Mutex
	counts map[string]*memoryCount
	calls  int
}

type memoryCount struct {
	n       int64
	expires time.Time
}

// NewMemoryCounter returns an empty MemoryCounter.
func NewMemoryCounter() *MemoryCounter { return &MemoryCounter{counts: map[string]*memoryCount{}} }

// CountRequest adds one to each named counter of p.
func (m *MemoryCounter) CountRequest(_ context.Context, p Principal, now time.Time, names []string, expires []time.Time) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls++; m.calls%4096 == 0 {
		for k, c := range m.counts {
			if !c.expires.After(now) {
				delete(m.counts, k)
			}
		}
	}
	out := make([]int64, len(names))
	for i, name := range names {
		key := p.TenantID + "\x00" + p.UserID + "\x00" + p.AppID + "\x00" + name
		c := m.counts[key]
		if c == nil || !c.expires.After(now) {
			c = &memoryCount{expires: expires[i]}
			m.counts[key] = c
		}
		c.n++
		out[i] = c.n
	}
	return out, nil
}

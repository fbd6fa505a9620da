package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/alexedwards/argon2id"
	"golang.org/x/time/rate"
)

// Record kinds of accounts: one "account" per person, keyed by oid, and one "account-name" per
// name, keyed by the name's canonical form, that points at it (the name is unique).
const (
	kindAccount     = "account"
	kindAccountName = "account-name"
)

// Account is a person who can sign in. Its oid is the one the local issuer has always given its
// name (Config.UserID), so the activities of tokens minted before accounts existed are its own.
type Account struct {
	ID       string    `json:"oid"`
	Name     string    `json:"name"` // canonical (RFC 8265 UsernameCaseMapped)
	Password string    `json:"password,omitempty"`
	Disabled bool      `json:"disabled,omitempty"`
	Admin    bool      `json:"admin,omitempty"` // may manage accounts and apps (ScopeAdmin)
	Created  time.Time `json:"created"`
}

// Password bounds: NIST SP 800-63B §5.1.1.2 asks for at least 8 characters and allows at least 64.
const (
	MinPassword = 8
	MaxPassword = 1024
)

// argon2idParams are OWASP's recommended argon2id settings (Password Storage Cheat Sheet: m=19 MiB,
// t=2, p=1): a hash takes about 30 ms and 19 MiB here, so a few at once stay inside the server's
// memory budget.
var argon2idParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// hashing bounds concurrent password hashes (each takes argon2idParams.Memory).
var hashing = make(chan struct{}, 4)

// Sign-in attempts that fail are limited per account name and per client address (burst, then
// one more per interval), whatever the reason: a wrong name and a wrong password look alike.
const (
	nameBurst    = 5
	nameEvery    = time.Minute
	addressBurst = 20
	addressEvery = 6 * time.Second
)

// Accounts are the people who can sign in.
type Accounts struct {
	records  activity.RecordStore
	username func(string) (string, error)
	userID   func(string) string
	now      func() time.Time
	dummy    string // a hash to check a password against when the name is unknown

	mu       sync.Mutex
	limiters map[string]*rate.Limiter // "n:" + name or "a:" + address

	// revocations are told of each account disabled or removed, so that its tokens end at once.
	revocations *Revocations
}

// NewAccounts returns the accounts kept in records, for the activityd user command. username and
// userID are Config's.
func NewAccounts(records activity.RecordStore, username func(string) (string, error), userID func(string) string) *Accounts {
	return newAccounts(records, Config{Username: username, UserID: userID})
}

func newAccounts(records activity.RecordStore, cfg Config) *Accounts {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	dummy, _ := argon2id.CreateHash("activityd: no such account", argon2idParams)
	return &Accounts{records: records, username: cfg.Username, userID: cfg.UserID, now: now, dummy: dummy,
		limiters: map[string]*rate.Limiter{}, revocations: NewRevocations(records)}
}

// Errors of Accounts; their messages are safe to show.
var (
	// ErrSignIn is a sign-in refused: unknown name, wrong password or disabled account alike.
	ErrSignIn = activity.Errorf(activity.Unauthenticated, "The name or the password is not right.")
	// ErrTooManyAttempts is a sign-in refused before its password was checked.
	ErrTooManyAttempts = activity.Errorf(activity.Forbidden, "Too many failed sign-ins: wait a minute and try again.")
)

func checkPassword(password string) error {
	switch n := utf8.RuneCountInString(password); {
	case !utf8.ValidString(password):
		return activity.Errorf(activity.Invalid, "the password is not valid UTF-8")
	case n < MinPassword:
		return activity.Errorf(activity.Invalid, "the password must have at least %d characters", MinPassword)
	case len(password) > MaxPassword:
		return activity.Errorf(activity.Invalid, "the password must be at most %d bytes", MaxPassword)
	}
	return nil
}

func hash(password string) (string, error) {
	hashing <- struct{}{}
	defer func() { <-hashing }()
	return argon2id.CreateHash(password, argon2idParams)
}

func compare(password, hash string) bool {
	hashing <- struct{}{}
	defer func() { <-hashing }()
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// Add creates an account for name with password and returns it. A name already taken is
// activity.Conflict.
func (as *Accounts) Add(ctx context.Context, name, password string) (Account, error) {
	canon, err := as.username(name)
	if err != nil {
		return Account{}, activity.Errorf(activity.Invalid, "%s", err.Error())
	}
	if strings.Trim(canon, ".") == "" || strings.Contains(canon, "/") {
		// A name is a path segment of the admin API (/admin/v1/users/NAME): "." and ".." are
		// segments of their own, and "/" separates them.
		return Account{}, activity.Errorf(activity.Invalid, "the name %q cannot be an account's: it may not be only dots, nor hold a slash", canon)
	}
	if err := checkPassword(password); err != nil {
		return Account{}, err
	}
	h, err := hash(password)
	if err != nil {
		return Account{}, fmt.Errorf("hash password: %w", err)
	}
	a := Account{ID: as.userID(canon), Name: canon, Password: h, Created: as.now().UTC()}
	ref, _ := json.Marshal(map[string]string{"oid": a.ID})
	if err := as.records.CreateRecord(ctx, activity.Record{Kind: kindAccountName, ID: canon, Body: ref}); errors.Is(err, activity.ErrRecordExists) {
		return Account{}, activity.Errorf(activity.Conflict, "an account named %q exists", canon)
	} else if err != nil {
		return Account{}, err
	}
	if err := as.put(ctx, a); err != nil {
		return Account{}, err
	}
	return a, nil
}

func (as *Accounts) put(ctx context.Context, a Account) error {
	body, _ := json.Marshal(a)
	return as.records.PutRecord(ctx, activity.Record{Kind: kindAccount, ID: a.ID, Body: body})
}

// Find returns the account named name (in any form its canonical form matches), or
// activity.NotFound.
func (as *Accounts) Find(ctx context.Context, name string) (Account, error) {
	a, _, err := as.find(ctx, name)
	return a, err
}

// find is Find with the account's record as stored (update replaces it only over that body).
func (as *Accounts) find(ctx context.Context, name string) (Account, activity.Record, error) {
	canon, err := as.username(name)
	if err != nil {
		return Account{}, activity.Record{}, activity.Errorf(activity.NotFound, "no account is named %.100q", name)
	}
	if _, err := as.records.FindRecord(ctx, kindAccountName, canon); errors.Is(err, activity.ErrRecordNotFound) {
		return Account{}, activity.Record{}, activity.Errorf(activity.NotFound, "no account is named %q", canon)
	} else if err != nil {
		return Account{}, activity.Record{}, err
	}
	return as.byID(ctx, as.userID(canon))
}

// ByID returns the account with oid id, or activity.NotFound.
func (as *Accounts) ByID(ctx context.Context, id string) (Account, error) {
	a, _, err := as.byID(ctx, id)
	return a, err
}

func (as *Accounts) byID(ctx context.Context, id string) (Account, activity.Record, error) {
	r, err := as.records.FindRecord(ctx, kindAccount, id)
	if errors.Is(err, activity.ErrRecordNotFound) {
		return Account{}, r, activity.Errorf(activity.NotFound, "no account has the id %q", id)
	} else if err != nil {
		return Account{}, r, err
	}
	var a Account
	if err := json.Unmarshal(r.Body, &a); err != nil {
		return Account{}, r, fmt.Errorf("account %s: %w", id, err)
	}
	return a, r, nil
}

// List returns every account, by name, without their password hashes.
func (as *Accounts) List(ctx context.Context) ([]Account, error) {
	rs, err := as.records.ListRecords(ctx, kindAccount, "")
	if err != nil {
		return nil, err
	}
	out := make([]Account, 0, len(rs))
	for _, r := range rs {
		var a Account
		if err := json.Unmarshal(r.Body, &a); err != nil {
			return nil, fmt.Errorf("account %s: %w", r.ID, err)
		}
		a.Password = ""
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SetPassword replaces the password of the account named name.
func (as *Accounts) SetPassword(ctx context.Context, name, password string) error {
	if _, err := as.Find(ctx, name); err != nil {
		return err
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	h, err := hash(password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	_, err = as.update(ctx, name, func(a *Account) { a.Password = h })
	return err
}

// SetDisabled disables (or enables again) the account named name. A disabled account cannot sign
// in, and the access tokens it had are revoked (Revocations; enabling it again does not bring them
// back); the caller revokes its grants.
func (as *Accounts) SetDisabled(ctx context.Context, name string, disabled bool) (Account, error) {
	if disabled {
		a, err := as.Find(ctx, name)
		if err != nil {
			return a, err
		}
		// First: a token used between the two writes is refused rather than let through.
		if err := as.revocations.revoke(ctx, a.ID, as.now()); err != nil {
			return a, err
		}
	}
	return as.update(ctx, name, func(a *Account) { a.Disabled = disabled })
}

// RevokeTokens revokes the access tokens the account with oid id has now, at once on this server
// (and within RevocationRefresh on the others): before its activities are deleted, so that none of
// its devices writes on.
func (as *Accounts) RevokeTokens(ctx context.Context, id string) error {
	return as.revocations.revoke(ctx, id, as.now())
}

// Revocations returns the revocations the accounts record, for the token verifier.
func (as *Accounts) Revocations() *Revocations { return as.revocations }

// SetAdmin makes the account named name an administrator, or not. Its tokens with ScopeAdmin stop
// working at once (the admin API looks at the account on every request).
func (as *Accounts) SetAdmin(ctx context.Context, name string, admin bool) (Account, error) {
	return as.update(ctx, name, func(a *Account) { a.Admin = admin })
}

// update changes the account named name and returns it as stored. It reads, changes and writes
// back only over what it read (activity.RecordStore.ReplaceRecord), again when another writer came
// between: concurrent changes all hold, and an account removed meanwhile stays removed (NotFound).
func (as *Accounts) update(ctx context.Context, name string, change func(*Account)) (Account, error) {
	for attempt := 0; ; attempt++ {
		a, r, err := as.find(ctx, name)
		if err != nil {
			return a, err
		}
		change(&a)
		body, _ := json.Marshal(a)
		err = as.records.ReplaceRecord(ctx, activity.Record{Kind: kindAccount, ID: a.ID, Body: body}, r.Body)
		switch {
		case err == nil:
			return a, nil
		case errors.Is(err, activity.ErrRecordNotFound):
			return Account{}, activity.Errorf(activity.NotFound, "no account is named %q", a.Name)
		case errors.Is(err, activity.ErrRecordChanged) && attempt < 100:
			continue
		default:
			return Account{}, err
		}
	}
}

// Remove deletes the account named name and revokes its access tokens (Revocations; its grants
// are the caller's to revoke first).
func (as *Accounts) Remove(ctx context.Context, name string) (Account, error) {
	a, err := as.Find(ctx, name)
	if err != nil {
		return a, err
	}
	if err := as.revocations.revoke(ctx, a.ID, as.now()); err != nil {
		return a, err
	}
	if _, err := as.records.TakeRecord(ctx, kindAccount, a.ID); err != nil && !errors.Is(err, activity.ErrRecordNotFound) {
		return a, err
	}
	if _, err := as.records.TakeRecord(ctx, kindAccountName, a.Name); err != nil && !errors.Is(err, activity.ErrRecordNotFound) {
		return a, err
	}
	if _, err := as.records.DeleteRecords(ctx, kindAccountLink, a.ID); err != nil {
		return a, err
	}
	return a, nil
}

// Authenticate returns the account named name if password is its password and it is enabled;
// else ErrSignIn, after the same work whatever was wrong, or ErrTooManyAttempts when the name or
// the client address (addr) failed too often lately.
func (as *Accounts) Authenticate(ctx context.Context, name, password, addr string) (Account, error) {
	canon, nameErr := as.username(name)
	if nameErr != nil {
		canon = name
	}
	byName, byAddr := as.limiter("n:"+canon, nameBurst, nameEvery), as.limiter("a:"+addr, addressBurst, addressEvery)
	if byName.Tokens() < 1 || byAddr.Tokens() < 1 {
		return Account{}, ErrTooManyAttempts
	}
	var a Account
	var err error
	if nameErr == nil {
		a, err = as.Find(ctx, canon)
	}
	if err != nil && activity.ErrorCode(err) != activity.NotFound {
		return Account{}, err
	}
	stored := as.dummy
	if nameErr == nil && err == nil && a.Password != "" {
		stored = a.Password
	}
	ok := compare(password, stored) && nameErr == nil && err == nil && a.Password != "" && !a.Disabled
	if !ok {
		byName.Allow()
		byAddr.Allow()
		return Account{}, ErrSignIn
	}
	return a, nil
}

// limiter returns the limiter of key, making it on first use; the map forgets full limiters when it
// grows large.
func (as *Accounts) limiter(key string, burst int, every time.Duration) *rate.Limiter {
	as.mu.Lock()
	defer as.mu.Unlock()
	if l, ok := as.limiters[key]; ok {
		return l
	}
	if len(as.limiters) >= 100_000 {
		for k, l := range as.limiters {
			if l.Tokens() >= float64(l.Burst()) {
				delete(as.limiters, k)
			}
		}
	}
	l := rate.NewLimiter(rate.Every(every), burst)
	as.limiters[key] = l
	return l
}

// kindAccountLink links an account of an external OpenID provider (by the digest of its issuer and
// subject) to an account here.
const kindAccountLink = "account-link"

// External returns the account of the person an external OpenID provider signed in as subject at
// issuer: the account linked to them, or (on their first sign-in) the account named username,
// made without a password when there is none, then linked. Trusting a provider
// (--oidc-issuer) is trusting it to name accounts here.
func (as *Accounts) External(ctx context.Context, issuer, subject, username string) (Account, error) {
	if issuer == "" || subject == "" {
		return Account{}, activity.Errorf(activity.Unauthenticated, "The sign-in provider named nobody.")
	}
	link := digest(issuer + "\x00" + subject)
	if r, err := as.records.FindRecord(ctx, kindAccountLink, link); err == nil {
		a, err := as.ByID(ctx, string(r.Body))
		if err != nil {
			return Account{}, err
		}
		if a.Disabled {
			return Account{}, activity.Errorf(activity.Forbidden, "Your account is disabled.")
		}
		return a, nil
	} else if !errors.Is(err, activity.ErrRecordNotFound) {
		return Account{}, err
	}
	canon, err := as.username(username)
	if err != nil {
		return Account{}, activity.Errorf(activity.Forbidden, "The sign-in provider gave no usable user name (%v); ask whoever runs activityd to set --oidc-username-claim.", err)
	}
	a, err := as.Find(ctx, canon)
	if activity.ErrorCode(err) == activity.NotFound {
		a = Account{ID: as.userID(canon), Name: canon, Created: as.now().UTC()}
		ref, _ := json.Marshal(map[string]string{"oid": a.ID})
		if err := as.records.CreateRecord(ctx, activity.Record{Kind: kindAccountName, ID: canon, Body: ref}); err != nil && !errors.Is(err, activity.ErrRecordExists) {
			return Account{}, err
		} else if err == nil {
			if err := as.put(ctx, a); err != nil {
				return Account{}, err
			}
		} else if a, err = as.Find(ctx, canon); err != nil {
			return Account{}, err
		}
	} else if err != nil {
		return Account{}, err
	}
	if a.Disabled {
		return Account{}, activity.Errorf(activity.Forbidden, "Your account is disabled.")
	}
	if err := as.records.PutRecord(ctx, activity.Record{Kind: kindAccountLink, ID: link, Owner: a.ID, Body: []byte(a.ID)}); err != nil {
		return Account{}, err
	}
	return a, nil
}

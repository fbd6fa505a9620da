package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/oauth2"
)

// savedLogin is the token file activityd login writes: the server, the OAuth client and the token
// (oauth2.Token's JSON: access_token, token_type, refresh_token, expiry). The commands that call a
// server read it with --token-file and renew the access token with the refresh token when it is
// about to expire, writing the rotated refresh token back (RFC 6749 §6; the provider rotates them
// and treats a reused one as stolen).
type savedLogin struct {
	Server   string `json:"server"`
	TokenURL string `json:"token_url"`
	ClientID string `json:"client_id"`
	oauth2.Token
}

// renewBefore is how long before its expiry an access token is renewed: a request sent with it
// must still be in time when it arrives (servers also allow a minute of clock skew past exp).
const renewBefore = 10 * time.Second

// writeLogin writes l to path, readable by its owner only, replacing the file at once (a rename)
// so that a reader never sees half of it. A symbolic link at path is followed: its target is what
// is replaced.
func writeLogin(path string, l savedLogin) error {
	f, err := prepareLogin(path)
	if err != nil {
		return err
	}
	return commitLogin(f, path, l)
}

// prepareLogin makes the temporary file that commitLogin turns into the token file at path: made
// first, so that a directory where it cannot be written fails before anything is spent (a sign-in
// approved, a refresh token rotated).
func prepareLogin(path string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(loginTarget(path)), ".activityd-token-*")
	if err != nil {
		return nil, fmt.Errorf("the token file %s cannot be written: %w", path, unwrapPath(err))
	}
	return f, nil
}

// commitLogin writes l into f and renames it onto path's target.
func commitLogin(f *os.File, path string, l savedLogin) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err == nil {
		_, err = f.Write(append(b, '\n'))
	}
	if err = errors.Join(err, f.Chmod(0o600), f.Sync(), f.Close()); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write the token file %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), loginTarget(path)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write the token file %s: %w", path, unwrapPath(err))
	}
	return nil
}

// loginTarget is the file a token file path names: the target of a symbolic link, else path.
func loginTarget(path string) string {
	if t, err := filepath.EvalSymlinks(path); err == nil {
		return t
	}
	return path
}

// unwrapPath drops the *PathError around err, whose path (a temporary file's) would only confuse.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readLogin reads the token file at path: activityd login's JSON, or else (ok false) a bare token.
func readLogin(path string) (l savedLogin, raw string, ok bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return l, "", false, err
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		// A bare token (activityd token's, Entra's): one line of URL-safe base64 and dots (RFC 7519).
		if bytes.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r > '~' || r == '[' || r == ']' }) {
			return l, "", false, fmt.Errorf("%s holds neither a token nor a token file of activityd login: sign in again", path)
		}
		return l, string(b), false, nil
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, "", false, fmt.Errorf("%s is not a token file of activityd login (%v): sign in again", path, err)
	} else if l.AccessToken == "" {
		return l, "", false, fmt.Errorf("%s is not a token file of activityd login (it holds no access token): sign in again", path)
	}
	return l, "", true, nil
}

// loginTokens is the oauth2.TokenSource of a token file: its access token while it is fresh, then
// a renewed one. Commands running at once on the same file renew once: the renewal holds an
// exclusive lock on the file's directory and reads the file again under it. Waiting for the lock
// and the renewal itself each take at most timeout.
type loginTokens struct {
	ctx     context.Context
	path    string
	timeout time.Duration

	mu  sync.Mutex
	cur savedLogin
}

func (s *loginTokens) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Until(s.cur.Expiry) > renewBefore || s.cur.Expiry.IsZero() {
		return &s.cur.Token, nil
	}
	if s.cur.RefreshToken == "" {
		return nil, fmt.Errorf("the token in %s expired at %s and holds no refresh token: sign in again (activityd login)", s.path, s.cur.Expiry.Local().Format("15:04"))
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	target := loginTarget(s.path)
	unlock, err := lockDir(ctx, filepath.Dir(target))
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another command may have renewed it meanwhile: its refresh token is the live one.
	if l, _, ok, err := readLogin(target); err == nil && ok {
		s.cur = l
		if time.Until(s.cur.Expiry) > renewBefore {
			return &s.cur.Token, nil
		}
	}
	// The new file first: a directory that takes none must fail before the refresh token is spent.
	f, err := prepareLogin(s.path)
	if err != nil {
		return nil, fmt.Errorf("%w: the token was not renewed", err)
	}
	cfg := &oauth2.Config{ClientID: s.cur.ClientID, Endpoint: oauth2.Endpoint{TokenURL: s.cur.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: s.cur.RefreshToken}).Token()
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return nil, fmt.Errorf("the sign-in in %s has ended (signed out on the devices page, or expired): sign in again (activityd login)", s.path)
		}
		return nil, fmt.Errorf("renew the token of %s: %w", s.path, err)
	}
	next := s.cur
	next.Token = *tok
	if err := commitLogin(f, s.path, next); err != nil {
		return nil, err
	}
	s.cur = next
	return &s.cur.Token, nil
}

// lockDir takes an exclusive lock (flock) on the directory dir, waiting for it until ctx ends.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s to renew the token: %w", dir, unwrapPath(err))
	}
	for {
		err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(d.Fd()), syscall.LOCK_UN); d.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			d.Close()
			return nil, fmt.Errorf("lock %s to renew the token: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			d.Close()
			return nil, fmt.Errorf("another command has been renewing the token in %s too long: %w", dir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

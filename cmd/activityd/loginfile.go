package main

import (
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
// must still be in time when it arrives.
const renewBefore = time.Minute

// writeLogin writes l to path, readable by its owner only, replacing the file at once (a rename)
// so that a reader never sees half of it.
func writeLogin(path string, l savedLogin) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".activityd-token-*")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err = errors.Join(err, f.Chmod(0o600), f.Sync(), f.Close()); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// readLogin reads the token file at path: activityd login's JSON, or else (ok false) a bare token.
func readLogin(path string) (l savedLogin, raw string, ok bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return l, "", false, err
	}
	if len(b) == 0 || b[0] != '{' {
		return l, string(b), false, nil
	}
	if err := json.Unmarshal(b, &l); err != nil || l.AccessToken == "" {
		return l, "", false, fmt.Errorf("%s is not a token file of activityd login (%v): sign in again", path, err)
	}
	return l, "", true, nil
}

// loginTokens is the oauth2.TokenSource of a token file: its access token while it is fresh, then
// a renewed one. Commands running at once on the same file renew once: the renewal holds an
// exclusive lock on the file's directory and reads the file again under it.
type loginTokens struct {
	ctx  context.Context
	path string

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
	dir, err := os.Open(filepath.Dir(s.path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	if err := syscall.Flock(int(dir.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", filepath.Dir(s.path), err)
	}
	defer syscall.Flock(int(dir.Fd()), syscall.LOCK_UN)
	// Another command may have renewed it meanwhile: its refresh token is the live one.
	if l, _, ok, err := readLogin(s.path); err == nil && ok {
		s.cur = l
		if time.Until(s.cur.Expiry) > renewBefore {
			return &s.cur.Token, nil
		}
	}
	cfg := &oauth2.Config{ClientID: s.cur.ClientID, Endpoint: oauth2.Endpoint{TokenURL: s.cur.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := cfg.TokenSource(s.ctx, &oauth2.Token{RefreshToken: s.cur.RefreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return nil, fmt.Errorf("the sign-in in %s has ended (signed out on the devices page, or expired): sign in again (activityd login)", s.path)
		}
		return nil, fmt.Errorf("renew the token of %s: %w", s.path, err)
	}
	next := s.cur
	next.Token = *tok
	if err := writeLogin(s.path, next); err != nil {
		return nil, fmt.Errorf("keep the renewed token in %s: %w", s.path, err)
	}
	s.cur = next
	return &s.cur.Token, nil
}

package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/activityd/activityd/auth"
)

// served is an activityd process that a measurement started.
type served struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
}

// startServe starts "activityd serve" on a free loopback port with data in dataDir and the local
// issuer's key in keyFile, on PostgreSQL at dbURL when it is not "", without throttling, and waits
// until it answers.
func startServe(bin, dataDir, keyFile, dbURL string, extra []string, stderr io.Writer) (*served, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data", dataDir, "--issuer-key", keyFile, "--log-level", "warn", "--throttle=false"}
	if dbURL != "" {
		args = append(args, "--db", dbURL)
	}
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &served{cmd: cmd, base: "http://" + addr}
	if err := waitHealthy(s.base); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop ends the process gracefully and waits for it.
func (s *served) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

func waitHealthy(base string) error {
	start := time.Now()
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Since(start) > 30*time.Second {
			return errors.New("activityd did not answer within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scratch makes a temporary directory for a run (the caller removes it) holding a new local
// issuer's key, which the run's servers share (--issuer-key) and its tokens are signed with.
func scratch(prefix string) (dir, keyFile string, issuer *auth.LocalIssuer, err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", nil, err
	}
	keyFile = filepath.Join(dir, "issuer-key.pem")
	if issuer, err = auth.OpenLocalIssuer(keyFile, ""); err != nil {
		os.RemoveAll(dir)
		return "", "", nil, err
	}
	return dir, keyFile, issuer, nil
}

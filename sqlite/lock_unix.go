//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockDatabase takes an exclusive lock (flock) on path + ".lock" for the life of a Store: one
// process writes a SQLite database of activityd, since its writer hands out search keys and batches
// commits in memory. A second process is refused at once, with the first one's pid; the lock goes
// with the process, however it ends. Several processes need PostgreSQL.
func lockDatabase(path string) (*os.File, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil {
				holder = "process " + strconv.Itoa(pid)
			}
			return nil, fmt.Errorf("%s is in use by %s: one process serves a SQLite database (several processes need PostgreSQL, --db): %w", path, holder, ErrInUse)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// dataNeeds says what of cfg's goes into the data directory, or "" when nothing does (PostgreSQL,
// with the issuer's key elsewhere or no local issuer, and no self-signed TLS): then the directory is
// neither created nor used.
func dataNeeds(cfg Config) string {
	var needs []string
	if cfg.DB == "" {
		needs = append(needs, "the SQLite database")
	}
	if cfg.LocalIssuer && cfg.IssuerKey == "" {
		needs = append(needs, "the local issuer's key")
	}
	if cfg.TLS == "self-signed" {
		needs = append(needs, "the self-signed TLS files")
	}
	return strings.Join(needs, " and ")
}

// openDataDir makes sure that dir is a directory this process can write, creating it readable by
// its owner only (0700, whatever the umask) when it does not exist. It returns a warning when an
// existing directory is open to other users: it holds the database and private keys.
func openDataDir(dir string) (warning string, err error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("data directory %s cannot be created: %s", dir, reason(err))
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("data directory %s: %s", dir, reason(err))
		}
	case err != nil:
		return "", fmt.Errorf("data directory %s: %s", dir, reason(err))
	case !info.IsDir():
		return "", fmt.Errorf("data directory %s is not a directory", dir)
	case info.Mode().Perm()&0o077 != 0:
		warning = fmt.Sprintf("data directory %s is open to other users (mode %04o); it holds the database and private keys: chmod 700 %s",
			dir, info.Mode().Perm(), dir)
	}
	// A directory that takes no file now would fail every write request later.
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return "", fmt.Errorf("data directory %s is not writable: %s", dir, reason(err))
	}
	_, err = f.WriteString("activityd")
	err = errors.Join(err, f.Close(), os.Remove(f.Name()))
	if err != nil {
		return "", fmt.Errorf("data directory %s is not writable: %s", dir, reason(err))
	}
	return warning, nil
}

// sqliteFile is the SQLite database of a data directory.
func sqliteFile(dir string) string { return filepath.Join(dir, "activityd.db") }

// prepareSQLite makes sure that the database file at path can be written, creating it empty and
// readable by its owner only (0600, whatever the umask) when it does not exist: the SQLite driver
// would create it readable by everyone, and its -wal and -shm files take the database's mode.
func prepareSQLite(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return errors.Join(f.Chmod(0o600), f.Close())
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("database file %s cannot be created: %s", path, reason(err))
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("database file %s is not writable: %s", p, reason(err))
		}
		f.Close()
	}
	return nil
}

// protectSQLite narrows the -wal and -shm files the driver made beside the database at path to
// their owner, should they be open to others.
func protectSQLite(path string) error {
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if info, err := os.Stat(p); err == nil && info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return fmt.Errorf("database file %s: %s", p, reason(err))
			}
		}
	}
	return nil
}

// reason is what went wrong with a file, without the operation and path the message names already:
// "permission denied", "read-only file system".
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

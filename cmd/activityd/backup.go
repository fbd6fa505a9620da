package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/activityd/activityd/sqlite"
	"github.com/dustin/go-humanize"
)

const backupSynopsis = `Usage: activityd backup [--data DIR] FILE

Writes a backup of the SQLite store in DIR to FILE (a new .tar.gz), while the server goes on
serving: the database as of one commit (SQLite's VACUUM INTO), with the local issuer's key, so that
tokens and ids stay valid after a restore. 'activityd restore FILE --data NEWDIR' puts it back.
For PostgreSQL, use pg_dump and pg_restore (see the README).
`

const restoreSynopsis = `Usage: activityd restore --data DIR FILE

Restores a backup made by 'activityd backup' into DIR, which must not hold a database yet. The
database is checked (SQLite's integrity check, activityd's tables) before it is put in place; then
'activityd serve --data DIR' serves it.
`

// backupNames are the files of a data directory that a backup holds.
var backupNames = []string{"activityd.db", "issuer-key.pem"}

// backup writes a .tar.gz of the data directory's database (as of one commit) and issuer key.
func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	data := "./activityd-data"
	fset := flag.NewFlagSet("activityd backup", flag.ContinueOnError)
	fset.StringVar(&data, "data", data, "the server's data `directory`")
	rest, err := parseFlagsArgs(fset, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fset, backupSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("backup", "want one FILE to write")
	}
	out := rest[0]
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists; a backup never overwrites a file", out)
	}
	db := sqliteFile(data)
	if _, err := os.Stat(db); err != nil {
		return fmt.Errorf("no SQLite store in --data %s: %w", data, err)
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".activityd-backup-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	copyDB := filepath.Join(tmp, "activityd.db")
	size, err := sqlite.Backup(ctx, db, copyDB)
	if err != nil {
		return err
	}
	files := map[string]string{"activityd.db": copyDB}
	if key := issuerKeyFile(data, ""); fileExists(key) {
		files["issuer-key.pem"] = key
	}
	part := filepath.Join(tmp, "backup.tar.gz")
	if err := writeArchive(part, files); err != nil {
		return err
	}
	if err := os.Link(part, out); err != nil { // never over a file that appeared meanwhile
		return err
	}
	fmt.Fprintf(stderr, "backed up %s (%s as of one commit) and %d other %s to %s in %s\n", db, humanize.IBytes(uint64(size)),
		len(files)-1, plural(len(files)-1, "file", "files"), out, time.Since(start).Round(time.Millisecond))
	return nil
}

func fileExists(name string) bool {
	st, err := os.Stat(name)
	return err == nil && st.Mode().IsRegular()
}

// writeArchive writes a .tar.gz holding files (name in the archive → path), and syncs it.
func writeArchive(path string, files map[string]string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, name := range backupNames {
		src, ok := files[name]
		if !ok {
			continue
		}
		if err := addFile(tw, name, src); err != nil {
			return err
		}
	}
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

func addFile(tw *tar.Writer, name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// restore unpacks a backup into an empty data directory, checking the database first.
func restore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	data := "./activityd-data"
	fset := flag.NewFlagSet("activityd restore", flag.ContinueOnError)
	fset.StringVar(&data, "data", data, "the data `directory` to restore into (new, or without a database)")
	rest, err := parseFlagsArgs(fset, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fset, restoreSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("restore", "want one FILE: a backup made by activityd backup")
	}
	for _, name := range backupNames {
		if _, err := os.Stat(filepath.Join(data, name)); err == nil {
			return fmt.Errorf("--data %s already holds %s: restore into a new directory (nothing was changed)", data, name)
		}
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	// The journal files of a database that is gone (removed after a crash, say) would be replayed
	// into the restored one and corrupt it: they belong to no database now.
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		stale := filepath.Join(data, "activityd.db"+suffix)
		if _, err := os.Stat(stale); err == nil {
			if err := os.Remove(stale); err != nil {
				return fmt.Errorf("--data %s holds %s of a database that is gone, which would corrupt the restored one: %w", data, filepath.Base(stale), err)
			}
			fmt.Fprintf(stderr, "removed %s: the journal of a database that is gone, which would corrupt the restored one\n", stale)
		}
	}
	tmp, err := os.MkdirTemp(data, ".restore-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	got, err := readArchive(rest[0], tmp)
	if err != nil {
		return fmt.Errorf("%s: %w", rest[0], err)
	}
	if !got["activityd.db"] {
		return fmt.Errorf("%s holds no activityd.db: not a backup of activityd", rest[0])
	}
	if err := sqlite.Check(ctx, filepath.Join(tmp, "activityd.db")); err != nil {
		return fmt.Errorf("%s: %w", rest[0], err)
	}
	for _, name := range backupNames {
		if got[name] {
			if err := os.Link(filepath.Join(tmp, name), filepath.Join(data, name)); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stderr, "restored %s into %s; start it with: activityd serve --data %s\n", rest[0], data, data)
	return nil
}

// readArchive unpacks the files of a backup (only the names a backup holds, regular files) into dir.
func readArchive(path, dir string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("not a backup of activityd (not gzip): %w", err)
	}
	tr := tar.NewReader(zr)
	got := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got, nil
		} else if err != nil {
			return nil, fmt.Errorf("the archive is damaged: %w", err)
		}
		known := false
		for _, n := range backupNames {
			known = known || h.Name == n
		}
		if !known || h.Typeflag != tar.TypeReg || got[h.Name] {
			return nil, fmt.Errorf("the archive holds %q, which no backup of activityd holds", h.Name)
		}
		out, err := os.OpenFile(filepath.Join(dir, h.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(out, tr)
		if err == nil {
			err = out.Sync()
		}
		if err := errors.Join(err, out.Close()); err != nil {
			return nil, fmt.Errorf("the archive is damaged: %w", err)
		}
		got[h.Name] = true
	}
}

package sqlite

import (
	"fmt"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// statementJournalSpill is the size, in bytes, past which SQLite moves a statement journal from
// memory to a temporary file (SQLITE_CONFIG_STMTJRNL_SPILL, https://sqlite.org/c3ref/c_config_covering_index_scan.html).
//
// The writer wraps each write of a group commit in a SAVEPOINT, whose sub-journal is a statement
// journal: it holds the original of every page the write changes (4 + 4,096 bytes a page: the
// activity's table and index pages, the change log's, the full-text index's). SQLite's default of
// 64 KiB holds 15 pages, fewer than many creates change, and a spilled journal stays a file for the
// rest of its transaction: four group commits in ten made, wrote, read back and dropped a temporary
// file, and a create cost 44 write calls and 114 KB written where it costs 32 and 83 KB now
// (BENCHMARKS.md §17).
//
// It must stay below 128 KiB. SQLite keeps an in-memory journal in one chunk of this size and, when
// it spills, writes what the chunk holds in one call, and its Unix VFS writes at most 128 KiB - 1
// bytes a call (seekAndWriteFd masks the length with 0x1ffff): past that, a journal that spills
// fails its statement with SQLITE_FULL ("database or disk is full"), as TestStatementJournal_Spills
// shows at 256 KiB. 124 KiB holds 30 pages; a larger journal (a Forget of a whole history, say)
// still spills, so memory stays bounded: one chunk for each open transaction that writes.
const statementJournalSpill = 128<<10 - 4096

// statementJournalErr is why SQLite refused statementJournalSpill, nil when it took it.
// sqlite3_config works only before SQLite is initialised, that is before the process opens its
// first database: this package's init runs before any code that imports it can open one, but not
// necessarily before the init of a package that opens one without importing it.
var statementJournalErr = configureStatementJournal(statementJournalSpill)

// ConfigError says why a process-wide SQLite setting of this package did not take effect (today the
// statement journals' threshold, statementJournalSpill), nil when all did. Nothing is less durable
// or correct without them, only slower: a server logs it and goes on.
func ConfigError() error { return statementJournalErr }

func configureStatementJournal(bytes int32) error {
	tls := libc.NewTLS()
	defer tls.Close()
	args := libc.NewVaList(bytes)
	if args == 0 {
		return fmt.Errorf("sqlite: configure statement journals: out of memory")
	}
	defer libc.Xfree(tls, args)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_STMTJRNL_SPILL, args); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite: configure statement journals (SQLITE_CONFIG_STMTJRNL_SPILL): result code %d", rc)
	}
	return nil
}

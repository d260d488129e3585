package sqlstore

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Dialect is what differs between databases: the SQL text of the statements
// that are not portable, and a few behaviours. Like goose's Querier, a
// dialect returns strings; the store runs them with parameters, never with
// values spliced in. Table names come from the store (prefix + fixed name)
// and are validated before they reach a dialect.
//
// The package provides [SQLite]; PostgreSQL and MySQL will be added as
// further values. The method set may grow until v1: a dialect written
// outside this package should embed one of the package's dialects.
type Dialect interface {
	// Name is a short lower-case name: "sqlite".
	Name() string
	// Migrations returns the migration files, named NNNN_name.sql (a
	// version number of at least one digit, an underscore, a name), at the
	// root of the returned file system. In the files, {prefix} stands for
	// the table prefix; "--" starts a comment that runs to the end of the
	// line; statements end with ";".
	Migrations() fs.FS
	// Placeholder returns the parameter marker for the n-th argument of a
	// statement, counting from 1: "?" or "$n".
	Placeholder(n int) string
	// BeginWrite is the statement that opens a transaction that will write:
	// it should take the write lock at once ("BEGIN IMMEDIATE" on SQLite),
	// so that two transactions never both read and then fail to upgrade.
	BeginWrite() string
	// ForUpdate is appended to the SELECT that reads the rows of a batch
	// of ops (WHERE bucket_key IN (...)) inside a write transaction: "" or
	// " FOR UPDATE". A database that locks rows should lock them in key
	// order (for example " ORDER BY bucket_key FOR UPDATE"); the store
	// writes them in key order.
	//
	// Whatever the dialect, two transactions that read the same absent key
	// must not both proceed: row locks such as FOR UPDATE do not cover rows
	// that do not exist yet, so a dialect for a database with row locking
	// must also serialise the first insert of a key (for example by
	// inserting empty rows with ON CONFLICT DO NOTHING before the locking
	// read, by an advisory lock per key, or by SERIALIZABLE with retry).
	// SQLite's BEGIN IMMEDIATE serialises every writer, so it needs none.
	ForUpdate() string
	// Upsert returns an INSERT of one row into table with cols (in that
	// order, one placeholder each) that replaces the other columns of an
	// existing row with the same key column. Do writes a new bucket with
	// it (and an existing one with a plain UPDATE of its state columns);
	// PutRule writes a rule.
	Upsert(table string, cols []string, key string) string
	// TableExists returns a query with one parameter, a table name, that
	// yields one row whose single column is non-zero if the table exists.
	TableExists() string
	// Retryable reports whether err means that a transaction lost a race
	// for a lock (busy, deadlock, serialization failure) and may be run
	// again from the start.
	Retryable(err error) bool
	// MaxWriters limits how many write transactions one Store runs at once
	// (0: no limit). SQLite has a single writer; queueing in the process is
	// cheaper and fairer than the busy handler.
	MaxWriters() int
}

//go:embed migrations
var migrationFiles embed.FS

// SQLite is the dialect for SQLite 3.24 or later (for upserts), written for
// and tested with the pure-Go driver modernc.org/sqlite. Open the database
// with the DSN from [SQLiteDSN] so that a busy database waits instead of
// failing, and readers do not block the writer.
var SQLite Dialect = sqliteDialect{}

type sqliteDialect struct{}

func (sqliteDialect) Name() string { return "sqlite" }

func (sqliteDialect) Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations/sqlite")
	if err != nil {
		panic(err) // the path is a constant
	}
	return sub
}

func (sqliteDialect) Placeholder(int) string { return "?" }
func (sqliteDialect) BeginWrite() string     { return "BEGIN IMMEDIATE" }
func (sqliteDialect) ForUpdate() string      { return "" }
func (sqliteDialect) MaxWriters() int        { return 1 }

func (sqliteDialect) TableExists() string {
	return "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
}

func (sqliteDialect) Upsert(table string, cols []string, key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET ",
		table, strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "), key)
	first := true
	for _, c := range cols {
		if c == key {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		fmt.Fprintf(&b, "%s = excluded.%s", c, c)
	}
	return b.String()
}

// SQLite result codes (the low byte of an extended code).
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

func (sqliteDialect) Retryable(err error) bool {
	if err == nil {
		return false
	}
	// modernc.org/sqlite (and mattn/go-sqlite3 through ExtendedCode) errors
	// carry the result code; the package imports no driver, so it asks for
	// the method.
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		c := coded.Code() & 0xff
		return c == sqliteBusy || c == sqliteLocked
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "database table is locked")
}

// SQLiteDSN returns the data source name to open the SQLite database file at
// path with modernc.org/sqlite (driver name "sqlite"):
//
//	file:PATH?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate
//
// busy_timeout makes a connection wait up to 10 s for a lock held by another
// connection or process instead of failing with SQLITE_BUSY; WAL lets
// readers (including an application's own transactions on the same file)
// run beside the writer; synchronous(NORMAL) syncs the WAL at checkpoints
// rather than at every commit, which in WAL mode cannot corrupt the database
// but may lose the last commits on a power cut or OS crash (not on a process
// crash): a few counted failures, in exchange for about twice faster
// logins (measured like BenchmarkDo/shared, an admission and a release on
// two buckets, in one run: 0.28-0.35 ms against 0.65-0.79 ms with
// synchronous(FULL)); _txlock=immediate makes the application's own
// BeginTx take the write lock at once. The store does not depend on the last
// one (it issues BEGIN IMMEDIATE itself), but it avoids lock upgrade
// failures in the application's code on the same file.
//
// Keep the pool small (db.SetMaxOpenConns(8), as the axes command does): a
// burst of logins otherwise opens a connection each, every one opening the
// file and running these pragmas, which starves the single writer.
func SQLiteDSN(path string) string {
	return "file:" + escapePath(path) + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// escapePath escapes the characters that would end or change the path part
// of a file: URI ("?" and "#" and "%").
func escapePath(p string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return r.Replace(p)
}

// Package sqlstore is a [storage.Store] in an SQL database through
// database/sql, with the audit log (logins, logouts, failures) and the
// operators' rules in the same database. It imports no driver: the
// application opens the *sql.DB with the driver it already uses and passes
// it in, with the [Dialect] of that database. This build has [SQLite];
// PostgreSQL and MySQL dialects will follow.
//
// # SQLite
//
// The store is written for and tested with the pure-Go driver
// modernc.org/sqlite. Open the file with the DSN that [SQLiteDSN] builds,
//
//	file:PATH?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate
//
// so that a writer waits for the lock instead of failing with SQLITE_BUSY,
// so that readers (the application's own transactions on the same file
// among them) do not block it, and so that a commit does not wait for a
// sync of the disk (see [SQLiteDSN] for what that trades). Several
// processes may share the file.
//
// # Schema
//
// The schema is versioned by embedded migrations (migrations/DIALECT/
// NNNN_name.sql) and a version table. Apply them with "axes migrate" or
// [Store.Migrate]; until then the store's operations return a
// *[SchemaError], unless the store was made with [AutoMigrate]. The tables,
// named with a prefix ([TablePrefix], default "axes_"), are:
//
//   - axes_attempt: one row per bucket, its [storage.State] beside the
//     values its key was made from (django-axes AccessAttempt);
//   - axes_access_log: successful logins and their logout time (AccessLog);
//   - axes_access_failure_log: failed attempts (AccessFailureLog);
//   - axes_rule: the operators' allow and deny rules;
//   - axes_schema_version: the migrations applied.
//
// In axes_attempt every integer of the state is stored as it is, times as
// INTEGER Unix microseconds (0 for none) as the state carries them. The
// users' shares of a bucket's failures (kept on buckets whose key has no
// username, so that one user's reset takes back only that user's part) are
// in the row itself: the column shares holds the JSON array that
// encoding/json writes for [][storage.Share], such as
// [{"user":"alice","failures":2}], or the empty string when there are
// none. The audit log and the rules store times as INTEGER Unix
// nanoseconds (0 for the zero time), so that a time.Time round-trips
// exactly.
//
// Every query of [Store.Do] searches the primary key, and [Store.Purge]
// and [Store.List] by address or username search an index; the migration
// files say which query uses which index. [Store.List] with ShareOf alone
// (a reset of one username across every address) reads the whole table and
// decodes the rows that have shares.
//
// # Transactions
//
// Every operation runs on a connection taken from the store's *sql.DB, in a
// transaction of its own: never inside a transaction of the application, so
// a request that rolls back cannot take a recorded failure with it.
//
// [Store.Do] runs a batch in one write transaction, whose write lock it
// takes first (BEGIN IMMEDIATE on SQLite): one SELECT reads the rows of all
// the keys of the batch, [storage.Apply] computes each op on the current
// state of its key, in order, and one statement per key whose state changed
// writes it back (INSERT of a new bucket, UPDATE of the state columns of
// an existing one, DELETE of a bucket left empty); unchanged rows are not
// written. Concurrent steps on one bucket, in one process or several, are
// thus serialised, and a batch commits whole or not at all. An admission of
// an identity counted in N buckets (one per lockout parameter group) is
// one Do of N Admit ops: BEGIN, one SELECT, N writes, COMMIT. Its
// settlement (N Fail, Release, Clear or Take ops) is the same again. A
// batch of Peeks (a status check) is one SELECT, without a write
// transaction.
//
// A statement or transaction that loses a race for a lock (SQLITE_BUSY,
// which even a reader can meet while another process creates the schema)
// is run again from the start after a short randomised pause, growing up
// to 250 ms, until its context ends; the schema check of the first
// operation included.
package sqlstore

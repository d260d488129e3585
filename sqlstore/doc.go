// Package sqlstore is an [axes.Store] in an SQL database through
// database/sql, with the audit log (logins, logouts, failures) in the same
// database. It imports no driver: the application opens the *sql.DB with
// the driver it already uses and passes it in, with the [Dialect] of that
// database. This build has [SQLite]; PostgreSQL and MySQL dialects will
// follow.
//
// # SQLite
//
// The store is written for and tested with the pure-Go driver
// modernc.org/sqlite. Open the file with the DSN that [SQLiteDSN] builds,
//
//	file:PATH?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate
//
// so that a writer waits for the lock instead of failing with SQLITE_BUSY,
// and so that readers (the application's own transactions on the same file
// among them) do not block it. Several processes may share the file.
//
// # Schema
//
// The schema is versioned by embedded migrations (migrations/DIALECT/
// NNNN_name.sql) and a version table. Apply them with "axes migrate" or
// [Store.Migrate]; until then the store's operations return a
// *[SchemaError], unless the store was made with [AutoMigrate]. The tables,
// named with a prefix ([TablePrefix], default "axes_"), are:
//
//   - axes_attempt: one row per bucket (django-axes AccessAttempt);
//   - axes_access_log: successful logins and their logout time (AccessLog);
//   - axes_access_failure_log: failed attempts (AccessFailureLog);
//   - axes_schema_version: the migrations applied.
//
// Times are INTEGER Unix nanoseconds in UTC (0 for the zero time), so they
// round-trip exactly. Every query on the hot path searches an index; the
// migration file says which query uses which index.
//
// # Transactions
//
// Every operation runs on a connection taken from the store's *sql.DB, in a
// transaction of its own: never inside a transaction of the application, so
// a request that rolls back cannot take a recorded failure with it. [Store.Do]
// takes the write lock first (BEGIN IMMEDIATE on SQLite), reads the op's
// records, calls [axes.Op.Apply] and writes back what changed, so that
// concurrent admissions on one bucket, in one process or several, are
// serialised. A transaction that loses a race for a lock is run again after
// a short randomised pause until its context ends.
package sqlstore

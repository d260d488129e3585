package axes

import (
	"context"
	"errors"
	"time"
)

// ErrClosed is returned by a store that has been closed.
var ErrClosed = errors.New("axes: store closed")

// Store keeps the failure counters of buckets. It has one required operation,
// [Store.Do], which applies an [Op] atomically: the store reads the records the
// op names, calls [Op.Apply], and writes back what it returns, with no other
// writer to those records in between. Every decision (is the bucket locked,
// does the attempt count) is made by Apply, so every store answers exactly as
// the core does; a store that cannot run Go code next to its data (Redis with
// Lua) must reproduce Apply and pass the axestest property tests.
//
// The store never reads the clock: the op carries the time. Implementations
// must be safe for concurrent use, and Do must be atomic across every process
// that shares the store. Optional capabilities are separate interfaces
// ([Lister], [Deleter], [Purger], [Migrator], [Pinger], [AuditLog]) found by a
// type assertion.
type Store interface {
	// Do applies op to the records of op.Keys() as one atomic step and returns
	// the outcome computed by op.Apply. Records that Apply returns with
	// nothing (Record.Empty) are deleted; the others are stored (inserted or
	// replaced).
	// A store may forget a record at or after its ExpiresAt; it must treat an
	// expired record it still holds exactly as Apply does (Apply ignores it).
	Do(ctx context.Context, op *Op) (Outcome, error)
	// Close releases what the store opened itself; it does not close a
	// connection pool the caller passed in. After Close, Do returns ErrClosed.
	Close() error
}

// Filter selects records for [Lister] and [Deleter]. Empty fields match
// everything; set fields are joined with AND. IP is matched against the
// bucket's IP value (an address, or a prefix such as 2001:db8::/64 for
// grouped IPv6 clients); Username is matched after normalisation.
type Filter struct {
	IP         string
	Username   string
	LockedOnly bool      // only records locked at Now
	Now        time.Time // the time LockedOnly is judged at
}

// Lister lists lockout records (never attribution records), newest failure
// first. It is optional: the CLI and admin pages use it when present.
type Lister interface {
	List(ctx context.Context, f Filter) ([]Record, error)
}

// Deleter removes lockout records matching f and the attribution records
// that belong to them. An attribution record that matches f itself (a
// username's share of an IP-only bucket, when f names the username) is
// taken off its lockout record and removed, so that resetting a user forgets
// the failures that user caused from an address, as django-axes'
// axes_reset_username does. It returns how many lockout records it removed
// or reduced. Unless f.LockedOnly, attribution shares are not touched by an
// IP-only filter beyond those of removed records.
type Deleter interface {
	Delete(ctx context.Context, f Filter) (int, error)
}

// Purger removes records that expired at or before now. Stores that expire
// records by themselves may implement it as a no-op that returns 0.
type Purger interface {
	Purge(ctx context.Context, now time.Time) (int, error)
}

// Migrator is implemented by stores with a schema.
type Migrator interface {
	// Migrate applies every migration not yet applied and returns the names of
	// those it applied, in order. It is idempotent: a second call applies none.
	Migrate(ctx context.Context) ([]string, error)
	// SchemaVersion reports the schema version in the database and the latest
	// version this build knows.
	SchemaVersion(ctx context.Context) (current, latest int, err error)
}

// Pinger is implemented by stores that talk to a server.
type Pinger interface {
	Ping(ctx context.Context) error
}

// AuditLog records successful logins, logouts and failures: the counterpart
// of django-axes' AccessLog and AccessFailureLog. It may live in another store
// than the counters. Implementations must never be given a password, and
// store only what the entries carry.
type AuditLog interface {
	// LogLogin records a successful login.
	LogLogin(ctx context.Context, e AccessEntry) error
	// LogLogout sets the logout time on the open login entries of username
	// with the same session hash. It returns how many entries it closed.
	LogLogout(ctx context.Context, username, sessionHash string, at time.Time) (int, error)
	// LogFailure records one failed attempt and then keeps at most perUser
	// failure entries for that username, dropping the oldest (0: no cap).
	LogFailure(ctx context.Context, e FailureEntry, perUser int) error
}

// LogReader reads the audit log back, newest first; limit 0 means all, and
// username "" means every user.
type LogReader interface {
	AccessLog(ctx context.Context, username string, limit int) ([]AccessEntry, error)
	FailureLog(ctx context.Context, username string, limit int) ([]FailureEntry, error)
}

// LogPruner deletes audit entries older than before (attempt time < before).
// A zero before deletes every entry.
type LogPruner interface {
	PruneAccessLog(ctx context.Context, before time.Time) (int, error)
	PruneFailureLog(ctx context.Context, before time.Time) (int, error)
}

// AccessEntry is one successful login (django-axes AccessLog).
type AccessEntry struct {
	Time        time.Time
	Username    string
	IP          string
	UserAgent   string
	Path        string
	SessionHash string    // hex SHA-256 of the session identifier, or ""
	LogoutTime  time.Time // zero while the session is open
}

// FailureEntry is one failed attempt (django-axes AccessFailureLog).
type FailureEntry struct {
	Time      time.Time
	Username  string
	IP        string
	UserAgent string
	Path      string
	LockedOut bool // the attempt was answered with the lockout response
}

package storage

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// ErrClosed is returned by a store that has been closed.
var ErrClosed = errors.New("axes: store closed")

// Store keeps the state of buckets. It has one required operation,
// [Store.Do], which runs steps: each [Op] names one bucket and one [Step],
// and the store applies the step to that bucket's state atomically — read
// the state (absent: the zero State), compute [Apply], write the state it
// returns (delete it when [State.Empty]) with no other writer to that key in
// between — and returns the answer. The ops of one call need not be atomic
// together: each bucket stands alone, so a store may spread buckets over
// shards, Redis Cluster slots or memcached servers.
//
// Every decision is made by Apply, so every store answers as the core does;
// a store that cannot run Go next to its data (Redis with Lua, SQL) must
// reproduce Apply exactly and pass the golden vectors and the property test
// of the axestest package.
//
// The store never reads the clock: the step carries the time. Implementations
// must be safe for concurrent use, and each step must be atomic across every
// process that shares the store. Optional capabilities ([Lister], [Purger],
// [Migrator], [Pinger], [AuditLog], [LogReader], [LogPruner], [RuleStore],
// [ProcessLocal]) are separate interfaces, found with [Find] so that they
// survive wrapping.
type Store interface {
	// Do applies each op to its bucket, each atomically on its own, in
	// order, and returns one answer per op. Ops of kind Peek write nothing.
	//
	// When Do returns an error, any subset of the ops may have been
	// applied: the caller must not compensate (a reservation whose fate is
	// unknown lapses into a failure after the lease, which errs on the safe
	// side). A store that locks rows should lock them in key order.
	Do(ctx context.Context, ops []Op) ([]Answer, error)
	// Close releases what the store opened itself; it does not close a
	// connection pool the caller passed in. After Close, Do returns ErrClosed.
	Close() error
}

// Op is one step on one bucket.
type Op struct {
	// Bucket names the key and carries the values it was made from, which a
	// store keeps beside the state for [Lister].
	Bucket Bucket
	Step   Step
}

// Bucket describes what a bucket counts: Key is the store key, valid UTF-8
// of at most about 800 bytes (the core cuts usernames and user agents to
// 255 bytes; a store with a shorter key limit, such as memcached's 250,
// hashes keys); the other fields are the values the key was made from,
// kept for listing and resets.
// A store must store them when it creates the bucket and may ignore them
// afterwards (they never change for a key).
type Bucket struct {
	Key       string
	Params    string // the lockout parameter group, e.g. "ip_address" or "username+ip_address"
	IP        string // canonical address or IPv6 prefix; "" if not in the group
	Username  string // normalised; "" if not in the group
	UserAgent string // "" if not in the group
}

// Wrapper is implemented by a store that wraps another (metrics, tracing,
// caching): Unwrap returns the wrapped store, so that [Find] can reach the
// optional capabilities a decorator does not implement itself.
type Wrapper interface {
	Unwrap() Store
}

// Find returns the first store in the chain s, s.Unwrap(), ... that
// implements T. A decorator that does not forward a capability does not
// hide it: the guard finds it on the store underneath.
func Find[T any](s Store) (T, bool) {
	for range 64 { // a bound, in case a wrapper unwraps to itself
		if s == nil {
			break
		}
		if t, ok := s.(T); ok {
			return t, true
		}
		w, ok := s.(Wrapper)
		if !ok {
			break
		}
		s = w.Unwrap()
	}
	var zero T
	return zero, false
}

// Entry is a bucket and its stored state, as [Lister] returns it. The state
// is as stored: the caller judges it at a time with [Apply] and a Peek step.
type Entry struct {
	Bucket Bucket
	State  State
}

// Filter selects buckets for [Lister]. Empty fields match everything; set
// fields are joined with AND.
type Filter struct {
	// IP matches the bucket's IP value: an address, or a prefix such as
	// 2001:db8::/64 for grouped IPv6 clients.
	IP string
	// Username matches the bucket's username (normalised).
	Username string
	// ShareOf selects the buckets that hold a share of this username
	// (buckets whose key has no username). A store may return more buckets
	// than match (a loose index); the caller's steps decide.
	ShareOf string
}

// Lister lists buckets. It is optional: resets, the CLI and admin pages
// need it.
type Lister interface {
	// List returns the buckets that f matches, in no particular order,
	// including expired ones that the store still holds.
	List(ctx context.Context, f Filter) ([]Entry, error)
}

// Purger removes buckets that expired at or before now (State.ExpiresAt),
// and returns how many it removed. Stores that expire keys by themselves may
// implement it as a no-op that returns 0.
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

// ProcessLocal is implemented by stores whose state lives in one process
// only (memstore): `axes check` reports them as axes.W001, since several
// instances of an application would each count on their own.
type ProcessLocal interface {
	ProcessLocal() bool
}

// AuditLog records successful logins, logouts and failures: the counterpart
// of django-axes' AccessLog and AccessFailureLog. It may live in another store
// than the buckets. Implementations are never given a password, and store
// only what the entries carry.
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

// Action is what an operator's [Rule] does to matching clients.
type Action string

// The rule actions.
const (
	// ActionAllow: never locked, never counted (like an allow list entry
	// with NeverLockoutAllowlist).
	ActionAllow Action = "allow"
	// ActionDeny: refused at once, nothing counted (like the deny list).
	ActionDeny Action = "deny"
)

// Rule is an allow or deny entry that operators add at run time (`axes
// allow add`, `axes deny add`). Rules live in the store, so every instance
// sharing it sees them. Deny wins over allow, as with the configured lists.
type Rule struct {
	Prefix  netip.Prefix `json:"prefix"`
	Action  Action       `json:"action"`
	Reason  string       `json:"reason,omitempty"`
	Created time.Time    `json:"created"`
	Expires time.Time    `json:"expires,omitzero"` // zero: until removed
}

// ActiveAt reports whether the rule is in force at now.
func (r Rule) ActiveAt(now time.Time) bool { return r.Expires.IsZero() || now.Before(r.Expires) }

// RuleStore is implemented by stores that keep operators' rules.
type RuleStore interface {
	// PutRule adds the rule, replacing one with the same prefix and action.
	PutRule(ctx context.Context, r Rule) error
	// DeleteRule removes the rule with this prefix and action, and reports
	// whether there was one.
	DeleteRule(ctx context.Context, p netip.Prefix, a Action) (bool, error)
	// Rules returns the rules in force at now, in no particular order.
	Rules(ctx context.Context, now time.Time) ([]Rule, error)
}

// Micros returns t as the integer Unix microseconds that steps and states
// carry; the zero time is 0.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Time returns the time of integer Unix microseconds us, in UTC; 0 is the
// zero time.
func Time(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// Duration converts d to whole microseconds, rounding up so that a positive
// duration never becomes zero.
func Duration(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Microsecond - 1) / time.Microsecond)
}

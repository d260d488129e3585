package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goaxes/axes"
)

// Compile-time checks of the capabilities the store implements.
var (
	_ axes.Store     = (*Store)(nil)
	_ axes.Lister    = (*Store)(nil)
	_ axes.Deleter   = (*Store)(nil)
	_ axes.Purger    = (*Store)(nil)
	_ axes.Migrator  = (*Store)(nil)
	_ axes.Pinger    = (*Store)(nil)
	_ axes.AuditLog  = (*Store)(nil)
	_ axes.LogReader = (*Store)(nil)
	_ axes.LogPruner = (*Store)(nil)
)

// DefaultTablePrefix is the prefix of the store's table names.
const DefaultTablePrefix = "axes_"

// SchemaError is returned by the store's operations when the database schema
// is older than this build needs and [AutoMigrate] is off. Run "axes migrate"
// (or [Store.Migrate]) to bring it up to date.
type SchemaError struct {
	Current int // the version in the database; 0 when there is no schema
	Latest  int // the version this build needs
}

// Error names both versions and the command that fixes the schema.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("axes: schema version %d, binary needs %d: run axes migrate", e.Current, e.Latest)
}

// Option configures a [Store].
type Option func(*config) error

type config struct {
	prefix      string
	autoMigrate bool
}

var prefixRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,39}$`)

// TablePrefix sets the prefix of the table names (default "axes_"): the
// tables are PREFIXattempt, PREFIXaccess_log, PREFIXaccess_failure_log and
// PREFIXschema_version. The prefix must be a plain SQL identifier of at most
// 40 characters (letters, digits, underscores; not starting with a digit).
func TablePrefix(prefix string) Option {
	return func(c *config) error {
		if !prefixRE.MatchString(prefix) {
			return fmt.Errorf("sqlstore: table prefix %q is not a plain SQL identifier (letters, digits, _; at most 40)", prefix)
		}
		c.prefix = prefix
		return nil
	}
}

// AutoMigrate makes the store apply missing migrations by itself, the first
// time an operation finds the schema behind. Without it (the default) the
// operations return a *[SchemaError] until the schema is migrated with
// "axes migrate" or [Store.Migrate].
func AutoMigrate() Option {
	return func(c *config) error { c.autoMigrate = true; return nil }
}

// Store is an [axes.Store] in an SQL database, with the optional
// capabilities of [axes.Lister], [axes.Deleter], [axes.Purger],
// [axes.Migrator], [axes.Pinger], [axes.AuditLog], [axes.LogReader] and
// [axes.LogPruner]. It is safe for concurrent use, and its operations are
// atomic across every process that uses the same database.
//
// Every operation runs on the store's own *sql.DB, in its own transaction:
// never inside a transaction of the application, so a request that rolls
// back cannot take a recorded failure with it.
type Store struct {
	db          *sql.DB
	d           Dialect
	autoMigrate bool
	migrations  []migration
	latest      int

	prefix                                       string
	attempt, accessLog, failureLog, versionTable string
	rule                                         string
	// Prebuilt statements.
	upsertSQL, deleteKeySQL string

	writers   chan struct{} // nil: no limit
	migrateMu sync.Mutex
	schemaOK  atomic.Bool
	closed    atomic.Bool
}

// New returns a store that keeps its tables in db, written in dialect d.
// The caller opens db (with a driver for d; for SQLite see [SQLiteDSN]) and
// closes it after [Store.Close]. New does not touch the database: the schema
// is checked by the first operation (see [AutoMigrate] and [Store.Migrate]).
func New(db *sql.DB, d Dialect, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New: nil *sql.DB")
	}
	if d == nil {
		return nil, errors.New("sqlstore: New: nil Dialect")
	}
	c := config{prefix: DefaultTablePrefix}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	ms, err := loadMigrations(d.Migrations())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: dialect %s: %w", d.Name(), err)
	}
	s := &Store{
		db:           db,
		d:            d,
		autoMigrate:  c.autoMigrate,
		migrations:   ms,
		latest:       ms[len(ms)-1].version,
		prefix:       c.prefix,
		attempt:      c.prefix + "attempt",
		accessLog:    c.prefix + "access_log",
		failureLog:   c.prefix + "access_failure_log",
		versionTable: c.prefix + "schema_version",
		rule:         c.prefix + "rule",
	}
	s.upsertSQL = d.Upsert(s.attempt, recordCols, "bucket_key")
	s.deleteKeySQL = fmt.Sprintf("DELETE FROM %s WHERE bucket_key = %s", s.attempt, d.Placeholder(1))
	if n := d.MaxWriters(); n > 0 {
		s.writers = make(chan struct{}, n)
	}
	return s, nil
}

// Close marks the store closed: later operations return [axes.ErrClosed].
// It does not close the *sql.DB, which belongs to the caller.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.db.PingContext(ctx)
}

// usable checks ctx and Close.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return axes.ErrClosed
	}
	return nil
}

// ready checks ctx, Close and the schema version (migrating with
// AutoMigrate). Once the schema is found current it is not checked again.
func (s *Store) ready(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if s.schemaOK.Load() {
		return nil
	}
	cur, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	// A newer schema is accepted: migrations are additive, so an older
	// binary keeps working during a rolling upgrade.
	if cur >= latest {
		s.schemaOK.Store(true)
		return nil
	}
	if !s.autoMigrate {
		return &SchemaError{Current: cur, Latest: latest}
	}
	_, err = s.Migrate(ctx)
	return err
}

// The columns of the attempt table, in the order of row's fields.
var recordCols = []string{
	"bucket_key", "kind", "params", "ip", "username", "user_agent", "parent",
	"failures", "last_failure", "locked", "locked_until", "expires_at",
	"reserved", "reserved_at", "lapsed_at",
}

var recordColList = strings.Join(recordCols, ", ")

// row is a record as stored.
type row struct {
	key, params, ip, username, userAgent, parent string
	kind, failures, lastFailure, locked          int64
	lockedUntil, expiresAt, reserved, reservedAt int64
	lapsedAt                                     int64
}

func (r *row) args() []any {
	return []any{r.key, r.kind, r.params, r.ip, r.username, r.userAgent, r.parent,
		r.failures, r.lastFailure, r.locked, r.lockedUntil, r.expiresAt, r.reserved, r.reservedAt, r.lapsedAt}
}

func (r *row) dest() []any {
	return []any{&r.key, &r.kind, &r.params, &r.ip, &r.username, &r.userAgent, &r.parent,
		&r.failures, &r.lastFailure, &r.locked, &r.lockedUntil, &r.expiresAt, &r.reserved, &r.reservedAt, &r.lapsedAt}
}

func toRow(rec axes.Record) row {
	return row{
		key: rec.Key, kind: int64(rec.Kind), params: rec.Params, ip: rec.IP,
		username: rec.Username, userAgent: rec.UserAgent, parent: rec.Parent,
		failures: int64(rec.Failures), lastFailure: encTime(rec.LastFailure),
		locked: encBool(rec.Locked), lockedUntil: encTime(rec.LockedUntil),
		expiresAt: encTime(rec.ExpiresAt),
		reserved:  int64(rec.Reserved), reservedAt: encTime(rec.ReservedAt),
		lapsedAt: encTime(rec.LapsedAt),
	}
}

func (r *row) record() axes.Record {
	return axes.Record{
		Bucket: axes.Bucket{
			Key: r.key, Kind: axes.BucketKind(r.kind), Params: r.params, IP: r.ip,
			Username: r.username, UserAgent: r.userAgent, Parent: r.parent,
		},
		Failures:    int(r.failures),
		LastFailure: decTime(r.lastFailure),
		Locked:      r.locked != 0,
		LockedUntil: decTime(r.lockedUntil),
		ExpiresAt:   decTime(r.expiresAt),
		Reserved:    int(r.reserved),
		ReservedAt:  decTime(r.reservedAt),
		LapsedAt:    decTime(r.lapsedAt),
	}
}

// expired reports whether the row is logically absent at now.
func (r *row) expired(now int64) bool { return r.expiresAt != 0 && r.expiresAt <= now }

// Times are stored as Unix nanoseconds; 0 is the zero time (so the Unix
// epoch itself is stored as 1ns after it). Times outside
// the range of int64 nanoseconds (years 1678 to 2262) are clamped.
var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

func encTime(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.UnixNano() == 0:
		return 1 // the epoch itself is stored 1ns later: 0 means no time
	case t.Before(minTime):
		return math.MinInt64 + 1
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func decTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func encBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// querier is a *sql.DB or a *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Do applies op atomically; see [axes.Store]. Admissions, releases and
// resets run in one write transaction (BEGIN IMMEDIATE on SQLite) that
// reads the op's records, calls op.Apply and writes back the records that
// changed. A peek only reads: it writes nothing, since the records it would
// write back are either unchanged or expired, and every later op treats an
// expired record as absent.
func (s *Store) Do(ctx context.Context, op *axes.Op) (axes.Outcome, error) {
	if op == nil {
		return axes.Outcome{}, errors.New("sqlstore: Do: nil op")
	}
	if err := s.ready(ctx); err != nil {
		return axes.Outcome{}, err
	}
	keys := op.Keys()
	now := encTime(op.Now)
	if op.Kind == axes.OpPeek {
		recs, _, err := s.readRecords(ctx, s.db, keys, now, "")
		if err != nil {
			return axes.Outcome{}, fmt.Errorf("sqlstore: read records: %w", err)
		}
		_, o := op.Apply(recs)
		return o, nil
	}
	var o axes.Outcome
	err := s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		recs, stored, err := s.readRecords(ctx, c, keys, now, s.d.ForUpdate())
		if err != nil {
			return err
		}
		out, oc := op.Apply(recs)
		for _, rec := range out {
			old, had := stored[rec.Key]
			if rec.Empty() {
				if had {
					if _, err := c.ExecContext(ctx, s.deleteKeySQL, rec.Key); err != nil {
						return err
					}
					delete(stored, rec.Key)
				}
				continue
			}
			r := toRow(rec)
			if had && old == r {
				continue
			}
			if _, err := c.ExecContext(ctx, s.upsertSQL, r.args()...); err != nil {
				return err
			}
			stored[rec.Key] = r
		}
		o = oc
		return nil
	})
	if err != nil {
		return axes.Outcome{}, fmt.Errorf("sqlstore: do: %w", err)
	}
	return o, nil
}

// readRecords reads the records of keys. recs[i] is the record of keys[i],
// or a zero Record when it is missing or expired at now; stored holds every
// row found, expired or not.
func (s *Store) readRecords(ctx context.Context, q querier, keys []string, now int64, suffix string) (recs []axes.Record, stored map[string]row, err error) {
	recs = make([]axes.Record, len(keys))
	stored = make(map[string]row, len(keys))
	if len(keys) == 0 {
		return recs, stored, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := q.QueryContext(ctx, s.selectSQL(len(keys))+suffix, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r row
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, nil, err
		}
		stored[r.key] = r
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for i, k := range keys {
		if r, ok := stored[k]; ok && !r.expired(now) {
			recs[i] = r.record()
		}
	}
	return recs, stored, nil
}

// selectSQL reads the records of n keys.
func (s *Store) selectSQL(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s FROM %s WHERE bucket_key IN (", recordColList, s.attempt)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.d.Placeholder(i + 1))
	}
	b.WriteString(")")
	return b.String()
}

// write runs fn in a write transaction on a connection of its own, and runs
// it again from the start while the dialect reports that the transaction
// lost a race for a lock, with a growing randomised pause, until ctx ends.
func (s *Store) write(ctx context.Context, fn func(context.Context, *sql.Conn) error) error {
	if s.writers != nil {
		select {
		case s.writers <- struct{}{}:
			defer func() { <-s.writers }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	pause := time.Millisecond
	for {
		err := s.writeOnce(ctx, fn)
		if err == nil || !s.d.Retryable(err) {
			return err
		}
		t := time.NewTimer(pause/2 + rand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while retrying after: %v)", ctx.Err(), err)
		case <-t.C:
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

func (s *Store) writeOnce(ctx context.Context, fn func(context.Context, *sql.Conn) error) (err error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, s.d.BeginWrite()); err != nil {
		return err
	}
	// database/sql does not know about a transaction begun by hand: if fn
	// panics, end it before the connection goes back to the pool, where it
	// would hold the write lock for every process.
	defer func() {
		if p := recover(); p != nil {
			s.rollback(ctx, c)
			panic(p)
		}
	}()
	if err := fn(ctx, c); err != nil {
		s.rollback(ctx, c)
		return err
	}
	// The commit is not cut short by ctx: a commit whose outcome is unknown
	// would leave the caller unsure whether the failure was counted.
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		s.rollback(ctx, c)
		return err
	}
	return nil
}

// rollback ends the transaction on c. If that fails, the connection is
// discarded rather than returned to the pool inside a transaction.
func (s *Store) rollback(ctx context.Context, c *sql.Conn) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := c.ExecContext(rctx, "ROLLBACK"); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// exec runs one writing statement in a write transaction of its own and
// returns the number of rows it affected.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

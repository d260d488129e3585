package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goaxes/axes/storage"
)

// Compile-time checks of the capabilities the store implements.
var (
	_ storage.Store     = (*Store)(nil)
	_ storage.Lister    = (*Store)(nil)
	_ storage.Purger    = (*Store)(nil)
	_ storage.Migrator  = (*Store)(nil)
	_ storage.Pinger    = (*Store)(nil)
	_ storage.AuditLog  = (*Store)(nil)
	_ storage.LogReader = (*Store)(nil)
	_ storage.LogPruner = (*Store)(nil)
	_ storage.RuleStore = (*Store)(nil)
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
// tables are PREFIXattempt, PREFIXaccess_log, PREFIXaccess_failure_log,
// PREFIXrule and PREFIXschema_version. The prefix must be a plain SQL
// identifier of at most 40 characters (letters, digits, underscores; not
// starting with a digit).
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

// Store is a [storage.Store] in an SQL database, with the optional
// capabilities [storage.Lister], [storage.Purger], [storage.Migrator],
// [storage.Pinger], [storage.AuditLog], [storage.LogReader],
// [storage.LogPruner] and [storage.RuleStore]. It is safe for concurrent
// use, and its operations are atomic across every process that uses the
// same database.
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
	// Prebuilt statements of Do.
	insertSQL, updateSQL, deleteKeySQL string

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
	p := d.Placeholder
	s.insertSQL = d.Upsert(s.attempt, bucketCols, "bucket_key")
	var set strings.Builder
	for i, c := range stateCols[1:] {
		if i > 0 {
			set.WriteString(", ")
		}
		fmt.Fprintf(&set, "%s = %s", c, p(i+1))
	}
	s.updateSQL = fmt.Sprintf("UPDATE %s SET %s WHERE bucket_key = %s", s.attempt, set.String(), p(len(stateCols)))
	s.deleteKeySQL = fmt.Sprintf("DELETE FROM %s WHERE bucket_key = %s", s.attempt, p(1))
	if n := d.MaxWriters(); n > 0 {
		s.writers = make(chan struct{}, n)
	}
	return s, nil
}

// Close marks the store closed: later operations return [storage.ErrClosed].
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
	return s.retry(ctx, func() error { return s.db.PingContext(ctx) })
}

// usable checks ctx and Close.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return storage.ErrClosed
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
	// A newer schema is accepted, so that an older binary keeps working
	// while a rolling upgrade migrates under it, as long as the newer
	// migrations are additive.
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

// The columns of the attempt table. stateCols are those Do reads and
// updates: the key and the state; bucketCols add the bucket's description,
// written when the row is created and never changed.
var (
	stateCols = []string{
		"bucket_key", "failures", "last_failure", "reserved", "older", "slot", "shares", "expires_at",
	}
	bucketCols = []string{
		"bucket_key", "params", "ip", "username", "user_agent",
		"failures", "last_failure", "reserved", "older", "slot", "shares", "expires_at",
	}
)

// row is a state as stored: the integers as they are, the shares as the
// JSON text that [encodeShares] writes.
type row struct {
	failures, lastFailure, reserved, older, slot, expiresAt int64
	shares                                                  string
}

func (r *row) dest() []any {
	return []any{&r.failures, &r.lastFailure, &r.reserved, &r.older, &r.slot, &r.shares, &r.expiresAt}
}

func (r *row) state() storage.State {
	return storage.State{
		Failures:    clampInt(r.failures),
		LastFailure: r.lastFailure,
		Reserved:    clampInt(r.reserved),
		Older:       clampInt(r.older),
		Slot:        r.slot,
		Shares:      decodeShares(r.shares),
		ExpiresAt:   r.expiresAt,
	}
}

// stateArgs are the values of stateCols[1:] for st.
func stateArgs(st *storage.State) ([]any, error) {
	shares, err := encodeShares(st.Shares)
	if err != nil {
		return nil, err
	}
	return []any{int64(st.Failures), st.LastFailure, int64(st.Reserved), int64(st.Older), st.Slot, shares, st.ExpiresAt}, nil
}

func clampInt(n int64) int {
	return int(max(min(n, math.MaxInt), math.MinInt))
}

// encodeShares writes the users' shares as a JSON array of
// {"user":...,"failures":...} objects, or "" when there are none, so that
// a query can tell the rows with shares by a non-empty column.
func encodeShares(shares []storage.Share) (string, error) {
	if len(shares) == 0 {
		return "", nil
	}
	b, err := json.Marshal(shares)
	if err != nil {
		return "", fmt.Errorf("encode shares: %w", err)
	}
	return string(b), nil
}

// decodeShares reads what encodeShares (or migration 0004) wrote. Text
// that does not decode is read as no shares: the failures stay counted and
// only a reset of one user can no longer take that user's part back, which
// errs on the safe side, as [storage.MaxShares] does.
func decodeShares(text string) []storage.Share {
	if text == "" {
		return nil
	}
	var shares []storage.Share
	if err := json.Unmarshal([]byte(text), &shares); err != nil || len(shares) == 0 {
		return nil
	}
	return shares
}

// sameState reports whether a and b would be stored as the same row.
func sameState(a, b *storage.State) bool {
	return a.Failures == b.Failures && a.LastFailure == b.LastFailure &&
		a.Reserved == b.Reserved && a.Older == b.Older && a.Slot == b.Slot &&
		a.ExpiresAt == b.ExpiresAt && slices.Equal(a.Shares, b.Shares)
}

// querier is a *sql.DB or a *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// maxKeysPerQuery bounds the placeholders of one read of Do: a batch with
// more distinct keys (an operator's reset of many buckets) is read in
// several queries, within the same transaction.
const maxKeysPerQuery = 500

// Do applies the ops in order and returns their answers; see
// [storage.Store].
//
// A batch with at least one op that writes runs in one write transaction
// (BEGIN IMMEDIATE on SQLite): one SELECT reads the rows of all the keys
// of the batch, each op is applied with [storage.Apply] to the current
// state of its key (so that two ops on one key see each other), and at the
// end one statement per key whose state changed writes it: an INSERT for a
// new bucket, an UPDATE of the state columns for an existing one, a DELETE
// for a bucket left empty. The whole batch commits or none of it does. A
// batch of Peeks only reads, in one SELECT outside any write transaction.
func (s *Store) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	answers := make([]storage.Answer, len(ops))
	if len(ops) == 0 {
		return answers, nil
	}
	keys := make([]string, 0, len(ops))
	writes := false
	for i := range ops {
		keys = append(keys, ops[i].Bucket.Key)
		writes = writes || ops[i].Step.Kind != storage.Peek
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)

	if !writes || onlyAdmits(ops) {
		// A batch of peeks only reads. So does a batch of admissions that
		// all leave their buckets as they are (refusals while checks in
		// flight hold every place, or while locked with FixedCoolOff): the
		// answers then hold at the moment of the read, with no write lock
		// taken, so a burst of refused attempts does not queue up on the
		// database's one writer ahead of the settlements that matter.
		var stored map[string]storage.State
		err := s.retry(ctx, func() error {
			var err error
			stored, err = s.readStates(ctx, s.db, keys, "")
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("sqlstore: do: %w", err)
		}
		cur := maps.Clone(stored)
		for i := range ops {
			k := ops[i].Bucket.Key
			var st storage.State
			st, answers[i] = storage.Apply(&ops[i].Step, cur[k])
			if ops[i].Step.Kind != storage.Peek {
				cur[k] = st
			}
		}
		if !writes || unchanged(keys, stored, cur) {
			return answers, nil
		}
	}

	err := s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		stored, err := s.readStates(ctx, c, keys, s.d.ForUpdate())
		if err != nil {
			return err
		}
		cur := maps.Clone(stored)
		first := make(map[string]*storage.Bucket, len(keys)) // the bucket of each key's first op
		for i := range ops {
			op := &ops[i]
			k := op.Bucket.Key
			if _, ok := first[k]; !ok {
				first[k] = &op.Bucket
			}
			st, a := storage.Apply(&op.Step, cur[k])
			answers[i] = a
			if op.Step.Kind != storage.Peek {
				cur[k] = st
			}
		}
		for _, k := range keys { // in key order, as a row-locking database wants
			st := cur[k]
			old, had := stored[k]
			switch {
			case st.Empty():
				if had {
					if _, err := c.ExecContext(ctx, s.deleteKeySQL, k); err != nil {
						return err
					}
				}
			case had:
				if sameState(&old, &st) {
					continue
				}
				args, err := stateArgs(&st)
				if err != nil {
					return err
				}
				if _, err := c.ExecContext(ctx, s.updateSQL, append(args, k)...); err != nil {
					return err
				}
			default:
				args, err := stateArgs(&st)
				if err != nil {
					return err
				}
				b := first[k]
				args = append([]any{k, b.Params, b.IP, b.Username, b.UserAgent}, args...)
				if _, err := c.ExecContext(ctx, s.insertSQL, args...); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: do: %w", err)
	}
	return answers, nil
}

// onlyAdmits reports whether every op of a batch is an admission.
func onlyAdmits(ops []storage.Op) bool {
	for i := range ops {
		if ops[i].Step.Kind != storage.Admit {
			return false
		}
	}
	return true
}

// unchanged reports whether the states in cur are those stored (a missing
// state and an empty one are the same).
func unchanged(keys []string, stored, cur map[string]storage.State) bool {
	for _, k := range keys {
		old, st := stored[k], cur[k]
		if (old.Empty() && st.Empty()) || sameState(&old, &st) {
			continue
		}
		return false
	}
	return true
}

// queryAll runs a query under the store's read retries and scans each row
// into a value with scan; keep drops the values it says no to (nil keeps
// all).
func queryAll[T any](ctx context.Context, s *Store, q string, args []any, scan func(*sql.Rows) (T, error), keep func(*T) bool) ([]T, error) {
	var out []T
	err := s.read(ctx, func(ctx context.Context, db querier) error {
		out = out[:0]
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			if keep == nil || keep(&v) {
				out = append(out, v)
			}
		}
		return rows.Err()
	})
	return out, err
}

// readStates reads the stored states of keys (distinct), expired or not;
// a key without a row is missing from the map.
func (s *Store) readStates(ctx context.Context, q querier, keys []string, suffix string) (map[string]storage.State, error) {
	out := make(map[string]storage.State, len(keys))
	for chunk := range slices.Chunk(keys, maxKeysPerQuery) {
		args := make([]any, len(chunk))
		for i, k := range chunk {
			args[i] = k
		}
		rows, err := q.QueryContext(ctx, s.selectSQL(len(chunk))+suffix, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			var r row
			if err := rows.Scan(append([]any{&k}, r.dest()...)...); err != nil {
				rows.Close()
				return nil, err
			}
			out[k] = r.state()
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// selectSQL reads the states of n keys.
func (s *Store) selectSQL(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s FROM %s WHERE bucket_key IN (", strings.Join(stateCols, ", "), s.attempt)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.d.Placeholder(i + 1))
	}
	b.WriteString(")")
	return b.String()
}

// retry runs fn, and runs it again while the dialect reports that it lost
// a race for a lock (SQLite: SQLITE_BUSY, which a reader can meet too, for
// example while another process creates the schema or switches a fresh
// file to WAL), with a growing randomised pause, until ctx ends.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	pause := time.Millisecond
	for {
		err := fn()
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

// read runs a reading fn with [Store.retry]; fn must start afresh each
// time it is called.
func (s *Store) read(ctx context.Context, fn func(context.Context, querier) error) error {
	return s.retry(ctx, func() error { return fn(ctx, s.db) })
}

// write runs fn in a write transaction on a connection of its own, and runs
// it again from the start (see [Store.retry]) while the transaction loses
// a race for a lock.
func (s *Store) write(ctx context.Context, fn func(context.Context, *sql.Conn) error) error {
	if s.writers != nil {
		select {
		case s.writers <- struct{}{}:
			defer func() { <-s.writers }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.retry(ctx, func() error { return s.writeOnce(ctx, fn) })
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

// The audit log and the rules keep their times as Unix nanoseconds (0 for
// the zero time, so the Unix epoch itself is stored as 1ns after it), as
// they were before the attempt table moved to microseconds: a time.Time
// round-trips exactly. Times outside the range of int64 nanoseconds (years
// 1678 to 2262) are clamped.
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

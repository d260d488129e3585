package sqlstore

import (
	"context"
	"database/sql"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goaxes/axes/storage"
	_ "modernc.org/sqlite"
)

// openDB opens the SQLite file at path with the recommended DSN and pool.
func openDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(8)
	t.Cleanup(func() { db.Close() })
	return db
}

// newStore returns a migrated store on a fresh database file.
func newStore(t testing.TB, opts ...Option) (*Store, *sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "axes.db")
	db := openDB(t, path)
	s, err := New(db, SQLite, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db, path
}

// t0 is a time with microseconds, and us0 the same in Unix microseconds.
var (
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)
	us0 = storage.Micros(t0)
)

const (
	second = int64(time.Second / time.Microsecond)
	minute = 60 * second
	hour   = 60 * minute
)

// ipBucket is a bucket counted by IP.
func ipBucket(ip string) storage.Bucket {
	return storage.Bucket{Key: "b|ip_address=" + ip, Params: "ip_address", IP: ip}
}

// userBucket is a bucket counted by username.
func userBucket(user string) storage.Bucket {
	return storage.Bucket{Key: "b|username=" + user, Params: "username", Username: user}
}

// policy locks at limit failures for cool (also the window), with a lease
// of a minute.
func policy(limit int, cool time.Duration) storage.Policy {
	c := storage.Duration(cool)
	return storage.Policy{Limit: limit, Tiers: []storage.Tier{{Failures: limit, CoolOff: c}}, Window: c, Lease: minute}
}

func op(b storage.Bucket, kind storage.Kind, now int64, p storage.Policy) storage.Op {
	return storage.Op{Bucket: b, Step: storage.Step{Kind: kind, Now: now, Policy: p}}
}

// held is op for a step that settles the ticket of cohort slot.
func held(b storage.Bucket, kind storage.Kind, now int64, p storage.Policy, slot int64, user string) storage.Op {
	o := op(b, kind, now, p)
	o.Step.Held, o.Step.Slot, o.Step.User = true, slot, user
	return o
}

// do runs ops in one call of Do.
func do(t testing.TB, s *Store, ops ...storage.Op) []storage.Answer {
	t.Helper()
	as, err := s.Do(context.Background(), ops)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != len(ops) {
		t.Fatalf("Do returned %d answers for %d ops", len(as), len(ops))
	}
	return as
}

// do1 runs one op.
func do1(t testing.TB, s *Store, o storage.Op) storage.Answer {
	t.Helper()
	return do(t, s, o)[0]
}

// model is the reference store: a map, changed by Apply as the contract
// says.
type model struct {
	states  map[string]storage.State
	buckets map[string]storage.Bucket
}

func newModel() *model {
	return &model{states: map[string]storage.State{}, buckets: map[string]storage.Bucket{}}
}

func (m *model) do(ops ...storage.Op) []storage.Answer {
	out := make([]storage.Answer, len(ops))
	for i, o := range ops {
		st, a := storage.Apply(&o.Step, m.states[o.Bucket.Key])
		out[i] = a
		if o.Step.Kind == storage.Peek {
			continue
		}
		if st.Empty() {
			delete(m.states, o.Bucket.Key)
			delete(m.buckets, o.Bucket.Key)
			continue
		}
		if len(st.Shares) == 0 {
			st.Shares = nil // stored as none
		}
		if _, ok := m.buckets[o.Bucket.Key]; !ok {
			m.buckets[o.Bucket.Key] = o.Bucket
		}
		m.states[o.Bucket.Key] = st
	}
	return out
}

// entries returns what List(Filter{}) should return, ordered by key.
func (m *model) entries() []storage.Entry {
	var out []storage.Entry
	for _, k := range slices.Sorted(maps.Keys(m.states)) {
		out = append(out, storage.Entry{Bucket: m.buckets[k], State: m.states[k]})
	}
	return out
}

// list returns every entry of s.
func list(t testing.TB, s *Store, f storage.Filter) []storage.Entry {
	t.Helper()
	es, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// sameEntries compares entries by value, nil and empty share lists alike.
func sameEntries(got, want []storage.Entry) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

// keys returns the keys of entries.
func keys(es []storage.Entry) string {
	var ks []string
	for _, e := range es {
		ks = append(ks, e.Bucket.Key)
	}
	return strings.Join(ks, ",")
}

// rowCount counts the rows of the attempt table.
func rowCount(t testing.TB, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM axes_attempt").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes/storage"
)

func TestMigrateIdempotentAndSchemaVersion(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "axes.db"))
	s, err := New(db, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	cur, latest, err := s.SchemaVersion(ctx)
	if err != nil || cur != 0 || latest != 4 {
		t.Fatalf("before: SchemaVersion = %d, %d, %v; want 0, 4, nil", cur, latest, err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const all = "0001_init,0002_rules,0003_reservations,0004_buckets"
	if strings.Join(applied, ",") != all {
		t.Fatalf("first Migrate applied %q, want %s", applied, all)
	}
	cur, latest, err = s.SchemaVersion(ctx)
	if err != nil || cur != 4 || latest != 4 {
		t.Fatalf("after: SchemaVersion = %d, %d, %v; want 4, 4, nil", cur, latest, err)
	}
	applied, err = s.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate applied %q, %v; want nothing", applied, err)
	}
	// A second store (another process) finds everything applied too.
	s2, _ := New(db, SQLite)
	if applied, err := s2.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Fatalf("Migrate on a second store applied %q, %v; want nothing", applied, err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM axes_schema_version").Scan(&n); err != nil || n != 4 {
		t.Fatalf("version rows = %d, %v; want 4 (one per migration)", n, err)
	}
}

func TestConcurrentMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "axes.db")
	var wg sync.WaitGroup
	var applied atomic.Int32
	for range 4 {
		db := openDB(t, path)
		s, err := New(db, SQLite)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			names, err := s.Migrate(context.Background())
			if err != nil {
				t.Error(err)
			}
			applied.Add(int32(len(names)))
		})
	}
	wg.Wait()
	if got := applied.Load(); got != 4 {
		t.Fatalf("four concurrent Migrates applied %d migrations in total, want 4 (each once)", got)
	}
}

func TestMissingSchema(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "axes.db"))
	s, err := New(db, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	ops := []storage.Op{op(ipBucket("192.0.2.1"), storage.Admit, us0, policy(3, 0))}
	_, err = s.Do(ctx, ops)
	const want = "axes: schema version 0, binary needs 4: run axes migrate"
	if err == nil || err.Error() != want {
		t.Fatalf("Do without schema: err = %v, want %q", err, want)
	}
	var se *SchemaError
	if !errors.As(err, &se) || se.Current != 0 || se.Latest != 4 {
		t.Fatalf("err = %#v, want *SchemaError{0, 4}", err)
	}
	if _, err := s.List(ctx, storage.Filter{}); !errors.As(err, &se) {
		t.Fatalf("List without schema: err = %v, want *SchemaError", err)
	}
	// Migrating from elsewhere (the CLI) makes the same store work.
	other, _ := New(db, SQLite)
	if _, err := other.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if as, err := s.Do(ctx, ops); err != nil || !as[0].Admitted {
		t.Fatalf("Do after migrate = %+v, %v; want admitted", as, err)
	}
}

func TestAutoMigrate(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "axes.db"))
	s, err := New(db, SQLite, AutoMigrate())
	if err != nil {
		t.Fatal(err)
	}
	as, err := s.Do(ctx, []storage.Op{op(ipBucket("192.0.2.1"), storage.Admit, us0, policy(3, 0))})
	if err != nil || !as[0].Admitted || as[0].Failures != 0 {
		t.Fatalf("Do = %+v, %v; want admitted", as, err)
	}
	if cur, latest, err := s.SchemaVersion(ctx); err != nil || cur != latest {
		t.Fatalf("SchemaVersion = %d, %d, %v; want current", cur, latest, err)
	}
}

func TestTablePrefix(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "axes.db"))
	for _, bad := range []string{"", "1x", "a-b", "a b", "x;drop", strings.Repeat("a", 41)} {
		if _, err := New(db, SQLite, TablePrefix(bad)); err == nil {
			t.Errorf("TablePrefix(%q) accepted", bad)
		}
	}
	a, err := New(db, SQLite, AutoMigrate(), TablePrefix("a_"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(db, SQLite, AutoMigrate(), TablePrefix("b_"))
	if err != nil {
		t.Fatal(err)
	}
	p := policy(3, 0)
	bk := ipBucket("192.0.2.1")
	for range 2 {
		do1(t, a, op(bk, storage.Fail, us0, p))
	}
	if got := do1(t, b, op(bk, storage.Peek, us0, p)); got.Failures != 0 {
		t.Fatalf("store b sees %d failures of store a", got.Failures)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT failures FROM a_attempt").Scan(&n); err != nil || n != 2 {
		t.Fatalf("a_attempt failures = %d, %v; want 2", n, err)
	}
}

func TestCloseAndContext(t *testing.T) {
	s, db, _ := newStore(t)
	ops := []storage.Op{op(ipBucket("192.0.2.1"), storage.Admit, us0, policy(3, 0))}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Do(ctx, ops); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a cancelled context: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if _, err := s.Do(bg, ops); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Do after Close: %v, want ErrClosed", err)
	}
	if _, err := s.List(bg, storage.Filter{}); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("List after Close: %v, want ErrClosed", err)
	}
	if err := s.LogLogin(bg, storage.AccessEntry{}); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("LogLogin after Close: %v, want ErrClosed", err)
	}
	// Close leaves the caller's pool open.
	if err := db.Ping(); err != nil {
		t.Fatalf("db after Close: %v", err)
	}
}

// checked runs ops on the store and on the model and compares the answers
// and then every stored entry.
func checked(t *testing.T, s *Store, m *model, ops ...storage.Op) []storage.Answer {
	t.Helper()
	got := do(t, s, ops...)
	want := m.do(ops...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("answers of %+v\n got %+v\nwant %+v", ops, got, want)
	}
	if es, want := list(t, s, storage.Filter{}), m.entries(); !sameEntries(es, want) {
		t.Fatalf("stored after %+v\n got %+v\nwant %+v", ops, es, want)
	}
	return got
}

func TestDoLifecycle(t *testing.T) {
	s, db, _ := newStore(t)
	m := newModel()
	b := ipBucket("192.0.2.1")
	p := policy(3, 10*time.Minute)
	// Three attempts, each admitted (a ticket) and failed (a failure); the
	// third failure locks.
	for i := 1; i <= 3; i++ {
		a := checked(t, s, m, op(b, storage.Admit, us0, p))[0]
		if !a.Admitted || a.Slot != us0/minute || a.Failures != i-1 {
			t.Fatalf("admit %d = %+v", i, a)
		}
		a = checked(t, s, m, held(b, storage.Fail, us0, p, a.Slot, ""))[0]
		if !a.Counted || a.Failures != i || a.Locked != (i == 3) {
			t.Fatalf("fail %d = %+v", i, a)
		}
	}
	last := us0 + minute
	a := checked(t, s, m, op(b, storage.Admit, last, p))[0]
	if a.Admitted || !a.Locked || !a.Counted || a.Until != last+10*minute {
		t.Fatalf("admit 4 = %+v, want refused (counted) until +11m", a)
	}
	es := list(t, s, storage.Filter{})
	if len(es) != 1 || es[0].Bucket != b || es[0].State.Failures != 4 || es[0].State.LastFailure != last ||
		es[0].State.ExpiresAt < last+10*minute {
		t.Fatalf("stored = %+v", es)
	}
	if a := checked(t, s, m, op(b, storage.Peek, last+minute, p))[0]; !a.Locked || a.Failures != 4 {
		t.Fatalf("peek = %+v", a)
	}
	// At the expiry the bucket is absent: the next admission starts afresh.
	at := es[0].State.ExpiresAt
	a = checked(t, s, m, op(b, storage.Admit, at, p))[0]
	if !a.Admitted || a.Failures != 0 || a.InFlight != 1 {
		t.Fatalf("admit after expiry = %+v, want admitted with no failures", a)
	}
	// Releasing the only ticket deletes the row.
	checked(t, s, m, held(b, storage.Release, at, p, a.Slot, ""))
	if n := rowCount(t, db); n != 0 {
		t.Fatalf("rows after the last release = %d, want 0", n)
	}
	// A ticket that lapses counts once, and its late settlement adds
	// nothing.
	a = checked(t, s, m, op(b, storage.Admit, at, p))[0]
	late := (a.Slot + 2) * p.Lease
	if got := checked(t, s, m, held(b, storage.Fail, late, p, a.Slot, ""))[0]; got.Counted || got.Failures != 1 {
		t.Fatalf("fail after the lapse = %+v, want 1 failure (the lapsed ticket), not counted again", got)
	}
}

// TestStateRoundTrip stores a state in which every field is set, reads it
// back with List and through Do (a Peek, and the write path), and compares
// the whole state: a column that was not written or read would show.
func TestStateRoundTrip(t *testing.T) {
	s, db, path := newStore(t)
	m := newModel()
	b := ipBucket("192.0.2.1")
	p := policy(100, time.Hour)
	slot := us0 / p.Lease
	// Failures credited to three users, one with a name that JSON escapes.
	odd := "o\"dd <&> \u00e9\u2028\\"
	for _, u := range []string{"carol", odd, "alice", "carol"} {
		a := checked(t, s, m, op(b, storage.Admit, us0, p))[0]
		checked(t, s, m, held(b, storage.Fail, us0+1, p, a.Slot, u))
	}
	// A ticket of cohort slot, then one of the next cohort: Older and
	// Reserved, with Slot the next cohort.
	checked(t, s, m, op(b, storage.Admit, us0+2, p))
	checked(t, s, m, op(b, storage.Admit, (slot+1)*p.Lease+3, p))
	es := list(t, s, storage.Filter{})
	if len(es) != 1 {
		t.Fatalf("List = %+v", es)
	}
	st := es[0].State
	want := storage.State{
		Failures: 4, LastFailure: us0 + 1, Reserved: 1, Older: 1, Slot: slot + 1,
		Shares:    []storage.Share{{User: "alice", Failures: 1}, {User: "carol", Failures: 2}, {User: odd, Failures: 1}},
		ExpiresAt: m.states[b.Key].ExpiresAt,
	}
	if !reflect.DeepEqual(st, want) || st.ExpiresAt == 0 {
		t.Fatalf("stored state\n got %+v\nwant %+v", st, want)
	}
	// A store on another handle (another process) reads the same.
	other, err := New(openDB(t, path), SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if es2 := list(t, other, storage.Filter{}); !reflect.DeepEqual(es2, es) {
		t.Fatalf("other handle lists %+v, want %+v", es2, es)
	}
	// Do reads every column back: a Peek, and a Take that must find the
	// share and the tickets, answer as the model does.
	checked(t, other, m, op(b, storage.Peek, (slot+1)*p.Lease+4, p))
	tk := op(b, storage.Take, (slot+1)*p.Lease+5, p)
	tk.Step.User = "carol"
	if a := checked(t, other, m, tk)[0]; a.Taken != 2 || a.Failures != 2 || a.InFlight != 2 {
		t.Fatalf("take carol = %+v, want 2 taken, 2 left, 2 in flight", a)
	}
	// The shares column holds what encoding/json writes.
	var shares string
	if err := db.QueryRow("SELECT shares FROM axes_attempt").Scan(&shares); err != nil {
		t.Fatal(err)
	}
	if want := `[{"user":"alice","failures":1},{"user":"o\"dd \u003c\u0026\u003e é\u2028\\","failures":1}]`; shares != want {
		t.Fatalf("shares column = %s, want %s", shares, want)
	}
}

// TestBatch checks that the ops of one call apply in order, each on the
// state the earlier ones left, and that only the rows that changed are
// written.
func TestBatch(t *testing.T) {
	s, db, _ := newStore(t)
	m := newModel()
	// Count the statements that reach the table.
	for _, stmt := range []string{
		"CREATE TABLE writes (what TEXT)",
		"CREATE TRIGGER w_ins AFTER INSERT ON axes_attempt BEGIN INSERT INTO writes VALUES ('insert ' || new.bucket_key); END",
		"CREATE TRIGGER w_upd AFTER UPDATE ON axes_attempt BEGIN INSERT INTO writes VALUES ('update ' || new.bucket_key); END",
		"CREATE TRIGGER w_del AFTER DELETE ON axes_attempt BEGIN INSERT INTO writes VALUES ('delete ' || old.bucket_key); END",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	writes := func() string {
		t.Helper()
		rows, err := db.Query("SELECT what FROM writes ORDER BY rowid")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var w string
			rows.Scan(&w)
			out = append(out, w)
		}
		if _, err := db.Exec("DELETE FROM writes"); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, "; ")
	}
	ip, user := ipBucket("192.0.2.1"), userBucket("alice")
	p := policy(1, time.Hour)

	// Two admissions of one bucket in one batch: the second finds the
	// place taken. One row is inserted, once.
	as := checked(t, s, m, op(user, storage.Admit, us0, p), op(ip, storage.Admit, us0, p), op(user, storage.Admit, us0, p))
	if !as[0].Admitted || !as[1].Admitted || as[2].Admitted || !as[2].Full {
		t.Fatalf("answers = %+v, want admitted, admitted, full", as)
	}
	if w := writes(); w != "insert b|ip_address=192.0.2.1; insert b|username=alice" {
		t.Fatalf("writes = %q", w)
	}
	// A Peek in a write batch sees the ops before it; a Release without a
	// ticket and a Peek change nothing and write nothing.
	slot := as[0].Slot
	as = checked(t, s, m,
		held(user, storage.Fail, us0+1, p, slot, ""),
		op(user, storage.Peek, us0+1, p),
		op(ip, storage.Release, us0+1, p),
		op(ip, storage.Peek, us0+1, p))
	if !as[1].Locked || as[1].Failures != 1 || as[3].InFlight != 1 {
		t.Fatalf("answers = %+v", as)
	}
	if w := writes(); w != "update b|username=alice" {
		t.Fatalf("writes = %q, want one update", w)
	}
	// A batch that leaves a bucket empty deletes it, and one that creates
	// and empties a bucket writes nothing for it.
	other := ipBucket("192.0.2.2")
	checked(t, s, m,
		held(ip, storage.Release, us0+2, p, slot, ""),
		op(other, storage.Admit, us0+2, p),
		held(other, storage.Release, us0+2, p, slot, ""))
	if w := writes(); w != "delete b|ip_address=192.0.2.1" {
		t.Fatalf("writes = %q, want one delete", w)
	}
	// A batch of Peeks writes nothing, even on an expired row.
	checked(t, s, m, op(user, storage.Peek, us0+2*hour, p), op(ip, storage.Peek, us0+2*hour, p))
	if w := writes(); w != "" {
		t.Fatalf("writes = %q, want none", w)
	}
	// An empty batch.
	if as, err := s.Do(context.Background(), nil); err != nil || len(as) != 0 {
		t.Fatalf("Do(nil) = %+v, %v", as, err)
	}
}

// TestBatchManyKeys runs a batch with more keys than one read takes.
func TestBatchManyKeys(t *testing.T) {
	s, _, _ := newStore(t)
	m := newModel()
	p := policy(3, time.Hour)
	var ops []storage.Op
	for i := range maxKeysPerQuery + 20 {
		b := ipBucket(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String())
		ops = append(ops, op(b, storage.Fail, us0, p))
	}
	checked(t, s, m, ops...)
	for i := range ops {
		ops[i].Step.Kind = storage.Clear
	}
	as := checked(t, s, m, ops...)
	if as[len(as)-1].Taken != 1 {
		t.Fatalf("last clear = %+v", as[len(as)-1])
	}
}

// TestRandomSteps runs random batches on a few buckets against the model.
func TestRandomSteps(t *testing.T) {
	s, _, _ := newStore(t)
	m := newModel()
	r := rand.New(rand.NewPCG(1, 2))
	bs := []storage.Bucket{ipBucket("192.0.2.1"), ipBucket("192.0.2.2"), userBucket("alice")}
	users := []string{"", "alice", "bob", "carol"}
	p := policy(3, 10*time.Minute)
	p.Tiers = append(p.Tiers, storage.Tier{Failures: 5, CoolOff: hour})
	now := us0
	var slots []int64
	for range 300 {
		now += r.Int64N(2 * minute)
		var ops []storage.Op
		for range 1 + r.IntN(4) {
			o := op(bs[r.IntN(len(bs))], storage.Kind(1+r.IntN(int(storage.Take))), now, p)
			if o.Step.Kind != storage.Admit && o.Step.Kind != storage.Peek && len(slots) > 0 && r.IntN(3) > 0 {
				o.Step.Held, o.Step.Slot = true, slots[r.IntN(len(slots))]
			}
			o.Step.User = users[r.IntN(len(users))]
			ops = append(ops, o)
		}
		for _, a := range checked(t, s, m, ops...) {
			if a.Admitted {
				slots = append(slots, a.Slot)
			}
		}
	}
}

// TestPeekWithoutWriteLock checks that a batch of Peeks does not wait for
// the write lock, which another process holds here.
func TestPeekWithoutWriteLock(t *testing.T) {
	s, _, path := newStore(t)
	b := ipBucket("192.0.2.1")
	p := policy(1, time.Hour)
	do1(t, s, op(b, storage.Fail, us0, p))
	other := openDB(t, path)
	c, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer c.ExecContext(context.Background(), "ROLLBACK")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	as, err := s.Do(ctx, []storage.Op{op(b, storage.Peek, us0, p), op(b, storage.Peek, us0, p)})
	if err != nil || !as[0].Locked || !as[1].Locked {
		t.Fatalf("peek while another process writes = %+v, %v; want locked", as, err)
	}
	// A write waits, and gives up when its context ends.
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.Do(ctx, []storage.Op{op(b, storage.Fail, us0, p)}); err == nil {
		t.Fatal("a write went through while another process held the write lock")
	}
}

func TestExpiredRowIsAbsent(t *testing.T) {
	s, db, _ := newStore(t)
	b := ipBucket("192.0.2.1")
	// A row that another policy stored with an expiry: it is gone at its
	// ExpiresAt, whatever the current policy says.
	if _, err := db.Exec("INSERT INTO axes_attempt (bucket_key, params, ip, failures, last_failure, expires_at) VALUES (?, 'ip_address', ?, 9, ?, ?)",
		b.Key, b.IP, us0, us0+hour); err != nil {
		t.Fatal(err)
	}
	p := policy(3, 0) // permanent locks, no window
	if a := do1(t, s, op(b, storage.Peek, us0+hour-1, p)); !a.Locked || a.Failures != 9 {
		t.Fatalf("peek before expiry = %+v, want locked with 9", a)
	}
	if a := do1(t, s, op(b, storage.Peek, us0+hour, p)); a.Locked || a.Failures != 0 {
		t.Fatalf("peek at expiry = %+v, want nothing", a)
	}
	// Listed as stored until something replaces or purges it.
	if es := list(t, s, storage.Filter{}); len(es) != 1 || es[0].State.Failures != 9 {
		t.Fatalf("List = %+v, want the expired row as stored", es)
	}
	if a := do1(t, s, op(b, storage.Admit, us0+hour, p)); !a.Admitted || a.Failures != 0 {
		t.Fatalf("admit at expiry = %+v, want admitted afresh", a)
	}
	if es := list(t, s, storage.Filter{}); len(es) != 1 || es[0].State.Failures != 0 || es[0].State.Reserved != 1 {
		t.Fatalf("List = %+v, want the new ticket only", es)
	}
}

func TestListAndPurge(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	p := policy(2, time.Hour)
	a, b, c := ipBucket("192.0.2.1"), ipBucket("192.0.2.2"), ipBucket("2001:db8::/64")
	both := storage.Bucket{Key: "b|ip_address=192.0.2.1,username=alice", Params: "username+ip_address", IP: "192.0.2.1", Username: "alice"}
	fail := func(at int64, b storage.Bucket, user string) {
		o := op(b, storage.Fail, at, p)
		o.Step.User = user
		do1(t, s, o)
	}
	fail(us0, a, "alice")
	fail(us0+second, a, "bob")
	fail(us0+2*second, b, "bob")
	fail(us0+3*second, c, "")
	fail(us0+4*second, both, "")
	fail(us0+5*second, userBucket("alice"), "")

	for _, tc := range []struct {
		f    storage.Filter
		want string
	}{
		{storage.Filter{}, "b|ip_address=192.0.2.1,b|ip_address=192.0.2.1,username=alice,b|ip_address=192.0.2.2,b|ip_address=2001:db8::/64,b|username=alice"},
		{storage.Filter{IP: "192.0.2.1"}, "b|ip_address=192.0.2.1,b|ip_address=192.0.2.1,username=alice"},
		{storage.Filter{IP: "2001:db8::/64"}, c.Key},
		{storage.Filter{Username: "alice"}, "b|ip_address=192.0.2.1,username=alice,b|username=alice"},
		{storage.Filter{Username: "alice", IP: "192.0.2.1"}, both.Key},
		{storage.Filter{ShareOf: "alice"}, a.Key},
		{storage.Filter{ShareOf: "bob"}, "b|ip_address=192.0.2.1,b|ip_address=192.0.2.2"},
		{storage.Filter{ShareOf: "bob", IP: "192.0.2.2"}, b.Key},
		{storage.Filter{ShareOf: "carol"}, ""},
		{storage.Filter{IP: "192.0.2.9"}, ""},
	} {
		if got := keys(list(t, s, tc.f)); got != tc.want {
			t.Errorf("List(%+v) = %s, want %s", tc.f, got, tc.want)
		}
	}
	// The entries carry their buckets as stored.
	if es := list(t, s, storage.Filter{Username: "alice", IP: "192.0.2.1"}); es[0].Bucket != both {
		t.Fatalf("bucket = %+v, want %+v", es[0].Bucket, both)
	}
	// Purge removes what expired at or before now: each bucket expires an
	// hour after its failure.
	n, err := s.Purge(ctx, storage.Time(us0+hour+2*second))
	if err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want 2 (a and b)", n, err)
	}
	if got := keys(list(t, s, storage.Filter{})); got != "b|ip_address=192.0.2.1,username=alice,b|ip_address=2001:db8::/64,b|username=alice" {
		t.Fatalf("left after Purge: %s", got)
	}
	if n, err := s.Purge(ctx, time.Time{}); err != nil || n != 0 {
		t.Fatalf("Purge(zero) = %d, %v; want 0", n, err)
	}
}

func TestRules(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	pfx := netip.MustParsePrefix("192.0.2.0/24")
	r := storage.Rule{Prefix: pfx, Action: storage.ActionDeny, Reason: "abuse", Created: t0, Expires: t0.Add(time.Hour)}
	if err := s.PutRule(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRule(ctx, storage.Rule{Prefix: pfx, Action: storage.ActionAllow, Created: t0}); err != nil {
		t.Fatal(err)
	}
	rules, err := s.Rules(ctx, t0)
	if err != nil || len(rules) != 2 || !reflect.DeepEqual(rules[1], r) {
		t.Fatalf("Rules = %+v, %v", rules, err)
	}
	if rules, _ := s.Rules(ctx, t0.Add(time.Hour)); len(rules) != 1 || rules[0].Action != storage.ActionAllow {
		t.Fatalf("Rules after the deny rule expired = %+v", rules)
	}
	if ok, err := s.DeleteRule(ctx, pfx, storage.ActionAllow); !ok || err != nil {
		t.Fatalf("DeleteRule = %v, %v", ok, err)
	}
	if ok, _ := s.DeleteRule(ctx, pfx, storage.ActionAllow); ok {
		t.Fatal("DeleteRule found the rule twice")
	}
}

func TestAuditLog(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	for i := range 3 {
		e := storage.AccessEntry{Time: t0.Add(time.Duration(i) * time.Second), Username: "alice", IP: "192.0.2.1", UserAgent: "ua", Path: "/login", SessionHash: "s1"}
		if i == 2 {
			e.SessionHash = "s2"
		}
		if err := s.LogLogin(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	s.LogLogin(ctx, storage.AccessEntry{Time: t0, Username: "bob", SessionHash: "s1"})
	n, err := s.LogLogout(ctx, "alice", "s1", t0.Add(time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("LogLogout = %d, %v; want 2", n, err)
	}
	if n, _ := s.LogLogout(ctx, "alice", "s1", t0.Add(2*time.Minute)); n != 0 {
		t.Fatalf("second LogLogout closed %d entries", n)
	}
	log, err := s.AccessLog(ctx, "alice", 0)
	if err != nil || len(log) != 3 {
		t.Fatalf("AccessLog = %+v, %v", log, err)
	}
	if !log[0].Time.Equal(t0.Add(2*time.Second)) || !log[0].LogoutTime.IsZero() || log[0].SessionHash != "s2" ||
		!log[1].LogoutTime.Equal(t0.Add(time.Minute)) || log[2].Path != "/login" || log[2].UserAgent != "ua" {
		t.Fatalf("AccessLog = %+v", log)
	}
	if log, _ := s.AccessLog(ctx, "", 2); len(log) != 2 {
		t.Fatalf("AccessLog(all, 2) has %d entries", len(log))
	}
	if all, _ := s.AccessLog(ctx, "", 0); len(all) != 4 {
		t.Fatalf("AccessLog(all) has %d entries, want 4", len(all))
	}

	// The per-user cap drops the oldest entries, by attempt time, of that
	// user only.
	times := []int{5, 1, 4, 2, 3} // seconds after t0, logged in this order
	for _, sec := range times {
		if err := s.LogFailure(ctx, storage.FailureEntry{Time: t0.Add(time.Duration(sec) * time.Second), Username: "alice", LockedOut: sec == 5}, 3); err != nil {
			t.Fatal(err)
		}
	}
	s.LogFailure(ctx, storage.FailureEntry{Time: t0, Username: "bob"}, 3)
	fl, err := s.FailureLog(ctx, "alice", 0)
	if err != nil || len(fl) != 3 {
		t.Fatalf("FailureLog = %+v, %v; want 3 entries", fl, err)
	}
	for i, want := range []int{5, 4, 3} {
		if !fl[i].Time.Equal(t0.Add(time.Duration(want) * time.Second)) {
			t.Fatalf("FailureLog[%d].Time = %v, want t0+%ds (the newest three)", i, fl[i].Time, want)
		}
	}
	if !fl[0].LockedOut || fl[1].LockedOut {
		t.Fatalf("LockedOut flags = %v, %v", fl[0].LockedOut, fl[1].LockedOut)
	}
	if bob, _ := s.FailureLog(ctx, "bob", 0); len(bob) != 1 {
		t.Fatalf("bob's failures = %d, want 1", len(bob))
	}
	// perUser 0 keeps everything.
	for range 5 {
		s.LogFailure(ctx, storage.FailureEntry{Time: t0, Username: "carol"}, 0)
	}
	if c, _ := s.FailureLog(ctx, "carol", 0); len(c) != 5 {
		t.Fatalf("carol's failures = %d, want 5", len(c))
	}

	// Pruning.
	n, err = s.PruneFailureLog(ctx, t0.Add(4*time.Second))
	if err != nil || n != 7 { // alice t0+3s, bob t0, carol 5 x t0
		t.Fatalf("PruneFailureLog = %d, %v; want 7", n, err)
	}
	n, err = s.PruneAccessLog(ctx, t0.Add(time.Second))
	if err != nil || n != 2 {
		t.Fatalf("PruneAccessLog = %d, %v; want 2", n, err)
	}
	n, err = s.PruneAccessLog(ctx, time.Time{})
	if err != nil || n != 2 {
		t.Fatalf("PruneAccessLog(zero) = %d, %v; want 2", n, err)
	}
}

func TestTimeEncoding(t *testing.T) {
	for _, tm := range []time.Time{
		t0, time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC),
		t0.In(time.FixedZone("x", 3600)), time.Unix(0, 0),
	} {
		if got := decTime(encTime(tm)); !got.Equal(tm) && !(tm.UnixNano() == 0 && got.UnixNano() == 1) {
			t.Errorf("round trip of %v = %v", tm, got)
		}
	}
	if encTime(time.Time{}) != 0 || !decTime(0).IsZero() {
		t.Error("the zero time is not 0")
	}
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := decTime(encTime(far)); !got.Equal(maxTime) {
		t.Errorf("far future = %v, want clamped to %v", got, maxTime)
	}
}

func TestSharesEncoding(t *testing.T) {
	if s, err := encodeShares(nil); s != "" || err != nil {
		t.Fatalf("encodeShares(nil) = %q, %v", s, err)
	}
	for _, bad := range []string{"", "[]", "null", "{", `{"user":"a"}`, "[1]"} {
		if got := decodeShares(bad); got != nil {
			t.Errorf("decodeShares(%q) = %+v, want none", bad, got)
		}
	}
	// SQLite's json functions (migration 0004) escape less than
	// encoding/json: both read back alike.
	if got := decodeShares(`[{"user":"a<b","failures":2}]`); !reflect.DeepEqual(got, []storage.Share{{User: "a<b", Failures: 2}}) {
		t.Fatalf("decodeShares = %+v", got)
	}
}

func TestPing(t *testing.T) {
	s, _, _ := newStore(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestPanicRollsBack checks that a write transaction whose function panics
// is rolled back before its connection returns to the pool: the next write
// gets the lock.
func TestPanicRollsBack(t *testing.T) {
	s, db, _ := newStore(t)
	db.SetMaxOpenConns(1)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		s.write(context.Background(), func(ctx context.Context, c *sql.Conn) error {
			if _, err := c.ExecContext(ctx, "INSERT INTO axes_attempt (bucket_key, failures) VALUES ('x', 1)"); err != nil {
				t.Fatal(err)
			}
			panic("boom")
		})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Do(ctx, []storage.Op{op(ipBucket("192.0.2.1"), storage.Fail, us0, policy(3, 0))}); err != nil {
		t.Fatalf("Do after a panic: %v", err)
	}
	if n := rowCount(t, db); n != 1 {
		t.Fatalf("%d rows, want 1 (the panicking insert rolled back)", n)
	}
}

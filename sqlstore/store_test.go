package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

func TestMigrateIdempotentAndSchemaVersion(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "axes.db"))
	s, err := New(db, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	cur, latest, err := s.SchemaVersion(ctx)
	if err != nil || cur != 0 || latest != 3 {
		t.Fatalf("before: SchemaVersion = %d, %d, %v; want 0, 3, nil", cur, latest, err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(applied, ",") != "0001_init,0002_rules,0003_reservations" {
		t.Fatalf("first Migrate applied %q, want [0001_init 0002_rules 0003_reservations]", applied)
	}
	cur, latest, err = s.SchemaVersion(ctx)
	if err != nil || cur != 3 || latest != 3 {
		t.Fatalf("after: SchemaVersion = %d, %d, %v; want 3, 3, nil", cur, latest, err)
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
	if err := db.QueryRow("SELECT count(*) FROM axes_schema_version").Scan(&n); err != nil || n != 3 {
		t.Fatalf("version rows = %d, %v; want 3 (one per migration)", n, err)
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
	if got := applied.Load(); got != 3 {
		t.Fatalf("four concurrent Migrates applied %d migrations in total, want 3 (each once)", got)
	}
}

func TestMissingSchema(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "axes.db"))
	s, err := New(db, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	op := &axes.Op{Kind: axes.OpAdmit, Now: t0, Buckets: []axes.Bucket{ipBucket("192.0.2.1")}, Policy: policy(3, 0)}
	_, err = s.Do(ctx, op)
	const want = "axes: schema version 0, binary needs 3: run axes migrate"
	if err == nil || err.Error() != want {
		t.Fatalf("Do without schema: err = %v, want %q", err, want)
	}
	var se *SchemaError
	if !errors.As(err, &se) || se.Current != 0 || se.Latest != 3 {
		t.Fatalf("err = %#v, want *SchemaError{0, 3}", err)
	}
	if _, err := s.List(ctx, axes.Filter{}); !errors.As(err, &se) {
		t.Fatalf("List without schema: err = %v, want *SchemaError", err)
	}
	// Migrating from elsewhere (the CLI) makes the same store work.
	other, _ := New(db, SQLite)
	if _, err := other.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if o, err := s.Do(ctx, op); err != nil || !o.Admitted {
		t.Fatalf("Do after migrate = %+v, %v; want admitted", o, err)
	}
}

func TestAutoMigrate(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "axes.db"))
	s, err := New(db, SQLite, AutoMigrate())
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Do(ctx, &axes.Op{Kind: axes.OpAdmit, Now: t0, Buckets: []axes.Bucket{ipBucket("192.0.2.1")}, Policy: policy(3, 0)})
	if err != nil || !o.Admitted || o.Failures != 0 {
		t.Fatalf("Do = %+v, %v; want admitted", o, err)
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
	for range 2 {
		do(t, a, axes.OpAdmit, t0, p, ipBucket("192.0.2.1"))
		do(t, a, axes.OpFail, t0, p, ipBucket("192.0.2.1"))
	}
	if o := do(t, b, axes.OpPeek, t0, p, ipBucket("192.0.2.1")); o.Failures != 0 {
		t.Fatalf("store b sees %d failures of store a", o.Failures)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT failures FROM a_attempt").Scan(&n); err != nil || n != 2 {
		t.Fatalf("a_attempt failures = %d, %v; want 2", n, err)
	}
}

func TestCloseAndContext(t *testing.T) {
	s, db, _ := newStore(t)
	op := &axes.Op{Kind: axes.OpAdmit, Now: t0, Buckets: []axes.Bucket{ipBucket("192.0.2.1")}, Policy: policy(3, 0)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Do(ctx, op); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a cancelled context: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if _, err := s.Do(bg, op); !errors.Is(err, axes.ErrClosed) {
		t.Fatalf("Do after Close: %v, want ErrClosed", err)
	}
	if _, err := s.List(bg, axes.Filter{}); !errors.Is(err, axes.ErrClosed) {
		t.Fatalf("List after Close: %v, want ErrClosed", err)
	}
	if err := s.LogLogin(bg, axes.AccessEntry{}); !errors.Is(err, axes.ErrClosed) {
		t.Fatalf("LogLogin after Close: %v, want ErrClosed", err)
	}
	// Close leaves the caller's pool open.
	if err := db.Ping(); err != nil {
		t.Fatalf("db after Close: %v", err)
	}
}

func TestDoLifecycle(t *testing.T) {
	s, db, _ := newStore(t)
	b := ipBucket("192.0.2.1")
	p := policy(3, 10*time.Minute)
	p.Lease = time.Minute
	// Three attempts, each admitted (a reservation) and failed (a failure);
	// the third failure locks.
	for i := 1; i <= 3; i++ {
		o := do(t, s, axes.OpAdmit, t0, p, b)
		if !o.Admitted || o.Failures != i-1 {
			t.Fatalf("admit %d = %+v", i, o)
		}
		o = doAt(t, s, axes.OpFail, t0, t0, p, b)
		if o.Failures != i || o.Locked != (i == 3) {
			t.Fatalf("fail %d = %+v", i, o)
		}
	}
	o := do(t, s, axes.OpAdmit, t0.Add(time.Minute), p, b)
	if o.Admitted || !o.Locked || o.Pending || !o.LockedUntil.Equal(t0.Add(11*time.Minute)) {
		t.Fatalf("admit 4 = %+v, want refused (counted) until t0+11m", o)
	}
	// The stored record round-trips exactly, nanoseconds included.
	recs, err := s.List(context.Background(), axes.Filter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("List = %v, %v", recs, err)
	}
	r := recs[0]
	last := t0.Add(time.Minute)
	if r.Bucket != b || r.Failures != 4 || !r.LastFailure.Equal(last) || !r.Locked ||
		!r.LockedUntil.Equal(last.Add(10*time.Minute)) || !r.ExpiresAt.Equal(last.Add(10*time.Minute)) {
		t.Fatalf("stored record = %+v", r)
	}
	if r.LastFailure.Location() != time.UTC {
		t.Fatalf("times are not UTC: %v", r.LastFailure.Location())
	}
	if o := do(t, s, axes.OpPeek, t0.Add(2*time.Minute), p, b); !o.Locked || o.Failures != 4 {
		t.Fatalf("peek = %+v", o)
	}
	// At the expiry the record is absent: the next admission starts afresh,
	// and a reservation alone is stored, with its time.
	at := last.Add(10 * time.Minute)
	o = do(t, s, axes.OpAdmit, at, p, b)
	if !o.Admitted || o.Failures != 0 {
		t.Fatalf("admit after expiry = %+v, want admitted with no failures", o)
	}
	recs, _ = s.List(context.Background(), axes.Filter{})
	if len(recs) != 1 || recs[0].Reserved != 1 || !recs[0].ReservedAt.Equal(at) || recs[0].Failures != 0 {
		t.Fatalf("stored reservation = %+v", recs)
	}
	// Releasing the only reservation deletes the row.
	doAt(t, s, axes.OpRelease, at, at, p, b)
	var n int
	if err := db.QueryRow("SELECT count(*) FROM axes_attempt").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after the last release = %d, %v; want 0", n, err)
	}
	// A reservation that lapses counts once, and its late settlement adds
	// nothing (lapsed_at round-trips).
	do(t, s, axes.OpAdmit, at, p, b)
	late := at.Add(p.Lease)
	if o := doAt(t, s, axes.OpFail, late, at, p, b); o.Failures != 1 {
		t.Fatalf("fail after the lease = %+v, want 1 failure (the lapsed one)", o)
	}
}

func TestExpiredRowIsAbsent(t *testing.T) {
	s, db, _ := newStore(t)
	b := ipBucket("192.0.2.1")
	// A row that a different (older) policy stored with an expiry: it is
	// gone at its ExpiresAt whatever the current policy says.
	if _, err := db.Exec("INSERT INTO axes_attempt (bucket_key, kind, params, ip, failures, last_failure, locked, locked_until, expires_at) VALUES (?, 0, 'ip_address', ?, 9, ?, 1, 0, ?)",
		b.Key, b.IP, t0.UnixNano(), t0.Add(time.Hour).UnixNano()); err != nil {
		t.Fatal(err)
	}
	p := policy(3, 0) // permanent locks, no window
	if o := do(t, s, axes.OpPeek, t0.Add(time.Hour-1), p, b); !o.Locked || o.Failures != 9 {
		t.Fatalf("peek before expiry = %+v, want locked with 9", o)
	}
	if o := do(t, s, axes.OpPeek, t0.Add(time.Hour), p, b); o.Locked || o.Failures != 0 {
		t.Fatalf("peek at expiry = %+v, want nothing", o)
	}
	if o := do(t, s, axes.OpAdmit, t0.Add(time.Hour), p, b); !o.Admitted || o.Failures != 0 {
		t.Fatalf("admit at expiry = %+v, want admitted afresh", o)
	}
}

func TestResetUserWithAttribution(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	g, err := axes.New(s, axes.Config{
		LockoutParameters: []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}},
		FailureLimit:      10,
		ResetOnSuccess:    true,
	}, axes.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	ip := mustAddr("192.0.2.7")
	fail := func(user string) {
		tk, err := g.Admit(ctx, axes.Identity{IP: ip, Username: user})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tk.Fail(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fail("mallory")
	fail("mallory")
	fail("alice")
	tk, err := g.Admit(ctx, axes.Identity{IP: ip, Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Succeed(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := s.List(ctx, axes.Filter{IP: "192.0.2.7"})
	if err != nil || len(recs) != 1 || recs[0].Failures != 2 {
		t.Fatalf("IP bucket after alice's success = %+v, %v; want 2 failures (mallory's)", recs, err)
	}
	// Deleting by IP takes the attribution rows of the IP bucket with it.
	n, err := s.Delete(ctx, axes.Filter{IP: "192.0.2.7"})
	if err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1", n, err)
	}
	var left []string
	rows, err := s.db.Query("SELECT bucket_key FROM axes_attempt ORDER BY bucket_key")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		left = append(left, k)
	}
	rows.Close()
	// Only mallory's username bucket is left.
	if len(left) != 1 || !strings.Contains(left[0], "mallory") || !strings.HasPrefix(left[0], "b") {
		t.Fatalf("rows left = %q", left)
	}
}

func TestListDeletePurge(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	p := policy(2, time.Hour)
	a, b, c := ipBucket("192.0.2.1"), ipBucket("192.0.2.2"), ipBucket("2001:db8::/64")
	fail := func(at time.Time, b axes.Bucket) {
		do(t, s, axes.OpAdmit, at, p, b)
		do(t, s, axes.OpFail, at, p, b)
	}
	fail(t0, a)
	fail(t0.Add(time.Second), a) // locked
	fail(t0.Add(2*time.Second), b)
	fail(t0.Add(3*time.Second), c)

	recs, err := s.List(ctx, axes.Filter{})
	if err != nil || len(recs) != 3 || recs[0].Key != c.Key || recs[2].Key != a.Key {
		t.Fatalf("List = %+v, %v; want c, b, a", recs, err)
	}
	now := t0.Add(time.Minute)
	recs, err = s.List(ctx, axes.Filter{LockedOnly: true, Now: now})
	if err != nil || len(recs) != 1 || recs[0].Key != a.Key {
		t.Fatalf("List locked = %+v, %v; want a", recs, err)
	}
	if recs, _ := s.List(ctx, axes.Filter{LockedOnly: true, Now: t0.Add(2 * time.Hour)}); len(recs) != 0 {
		t.Fatalf("List locked after the cool-off = %+v", recs)
	}
	if recs, _ := s.List(ctx, axes.Filter{IP: "2001:db8::/64"}); len(recs) != 1 || recs[0].Key != c.Key {
		t.Fatalf("List by prefix = %+v", recs)
	}
	// Purge removes what expired at or before now: a and b expire at
	// t0+1h+1m (+1s, +2s), c at t0+1h+1m+3s (the window after the last
	// failure, but never before the admission's lease plus the window).
	n, err := s.Purge(ctx, t0.Add(time.Hour+time.Minute+2*time.Second))
	if err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want 2", n, err)
	}
	n, err = s.Delete(ctx, axes.Filter{})
	if err != nil || n != 1 {
		t.Fatalf("Delete all = %d, %v; want 1", n, err)
	}
	if recs, _ := s.List(ctx, axes.Filter{}); len(recs) != 0 {
		t.Fatalf("List after Delete = %+v", recs)
	}
}

func TestAuditLog(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	for i := range 3 {
		e := axes.AccessEntry{Time: t0.Add(time.Duration(i) * time.Second), Username: "alice", IP: "192.0.2.1", UserAgent: "ua", Path: "/login", SessionHash: "s1"}
		if i == 2 {
			e.SessionHash = "s2"
		}
		if err := s.LogLogin(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	s.LogLogin(ctx, axes.AccessEntry{Time: t0, Username: "bob", SessionHash: "s1"})
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
		if err := s.LogFailure(ctx, axes.FailureEntry{Time: t0.Add(time.Duration(sec) * time.Second), Username: "alice", LockedOut: sec == 5}, 3); err != nil {
			t.Fatal(err)
		}
	}
	s.LogFailure(ctx, axes.FailureEntry{Time: t0, Username: "bob"}, 3)
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
		s.LogFailure(ctx, axes.FailureEntry{Time: t0, Username: "carol"}, 0)
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
		t0.In(time.FixedZone("x", 3600)),
	} {
		if got := decTime(encTime(tm)); !got.Equal(tm) {
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

func TestPing(t *testing.T) {
	s, _, _ := newStore(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

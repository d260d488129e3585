package sqlstore

import (
	"context"
	"database/sql"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestConcurrentAdmitOneBucket(t *testing.T) {
	s, _, _ := newStore(t)
	b := ipBucket("192.0.2.1")
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			o, err := s.Do(context.Background(), &axes.Op{Kind: axes.OpAdmit, Now: t0, Buckets: []axes.Bucket{b}, Policy: policy(3, 0)})
			if err != nil {
				t.Errorf("Do: %v", err)
				return
			}
			if o.Admitted {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	if got := admitted.Load(); got != 3 {
		t.Fatalf("%d of 200 concurrent admissions admitted, want 3", got)
	}
	// The refusals came while checks were in flight: none is counted; the
	// three reservations hold the bucket at the limit.
	if o := do(t, s, axes.OpPeek, t0, policy(3, 0), b); o.Failures != 0 || len(o.Records) != 1 || o.Records[0].Reserved != 3 {
		t.Fatalf("after the burst: %+v, want 0 failures and 3 reserved", o)
	}
}

// Two *sql.DB handles on one file stand for two processes: each has its own
// connections and its own Store, so only SQLite's file locks serialise them.
func TestConcurrentAdmitTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "axes.db")
	var stores []*Store
	for range 2 {
		s, err := New(openDB(t, path), SQLite, AutoMigrate())
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	b := ipBucket("192.0.2.1")
	start := make(chan struct{})
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for _, s := range stores {
		for range 100 {
			wg.Go(func() {
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				o, err := s.Do(ctx, &axes.Op{Kind: axes.OpAdmit, Now: t0, Buckets: []axes.Bucket{b}, Policy: policy(3, 0)})
				if err != nil {
					t.Errorf("Do: %v", err)
					return
				}
				if o.Admitted {
					admitted.Add(1)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if got := admitted.Load(); got != 3 {
		t.Fatalf("%d of 2x100 concurrent admissions admitted, want 3", got)
	}
	if o := do(t, stores[1], axes.OpPeek, t0, policy(3, 0), b); o.Failures != 0 || len(o.Records) != 1 || o.Records[0].Reserved != 3 {
		t.Fatalf("after the burst: %+v, want 0 failures and 3 reserved", o)
	}
}

// A failure is recorded on the store's own connection: an application
// transaction on the same file that is open meanwhile and then rolled back
// does not take it away.
func TestFailureSurvivesCallerRollback(t *testing.T) {
	s, _, path := newStore(t)
	ctx := context.Background()
	// The application's own handle, opened without _txlock=immediate so that
	// its transaction is a plain (read) transaction.
	app, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	tx, err := app.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM axes_attempt").Scan(&n); err != nil {
		t.Fatal(err)
	}

	g, err := axes.New(s, axes.Config{}, axes.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	id := axes.Identity{IP: mustAddr("198.51.100.9"), Username: "alice"}
	tk, err := g.Admit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tk.Fail(ctx)
	if err != nil || res.Verdict != axes.Invalid || res.Failures != 1 {
		t.Fatalf("Fail = %+v, %v", res, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	st, err := g.Status(ctx, id)
	if err != nil || st.Failures != 1 {
		t.Fatalf("Status after the application's rollback = %+v, %v; want 1 failure", st, err)
	}
}

func TestGuardTruncatesLongUsername(t *testing.T) {
	s, db, _ := newStore(t)
	ctx := context.Background()
	g, err := axes.New(s, axes.Config{
		LockoutParameters:      []axes.Group{{axes.ParamUsername}},
		EnableAccessFailureLog: true,
	}, axes.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 10000)
	for i := range long {
		long[i] = 'a'
	}
	tk, err := g.Admit(ctx, axes.Identity{IP: mustAddr("192.0.2.1"), Username: string(long)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Fail(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := s.List(ctx, axes.Filter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("List = %v, %v", recs, err)
	}
	if got := len(recs[0].Username); got != axes.MaxFieldLength {
		t.Fatalf("stored username has %d bytes, want %d", got, axes.MaxFieldLength)
	}
	var maxLen int
	if err := db.QueryRow("SELECT max(length(username)) FROM axes_access_failure_log").Scan(&maxLen); err != nil || maxLen != axes.MaxFieldLength {
		t.Fatalf("failure log username length = %d, %v; want %d", maxLen, err, axes.MaxFieldLength)
	}
}

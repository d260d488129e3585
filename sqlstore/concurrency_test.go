package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes/storage"
)

// admitBurst runs n concurrent admissions of b on each store and returns
// how many were admitted.
func admitBurst(t *testing.T, stores []*Store, n int, b storage.Bucket, p storage.Policy) int {
	start := make(chan struct{})
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for _, s := range stores {
		for range n {
			wg.Go(func() {
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				as, err := s.Do(ctx, []storage.Op{op(b, storage.Admit, us0, p)})
				if err != nil {
					t.Errorf("Do: %v", err)
					return
				}
				if as[0].Admitted {
					admitted.Add(1)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	return int(admitted.Load())
}

func TestConcurrentAdmitOneBucket(t *testing.T) {
	s, _, _ := newStore(t)
	b := ipBucket("192.0.2.1")
	p := policy(3, 0)
	if got := admitBurst(t, []*Store{s}, 200, b, p); got != 3 {
		t.Fatalf("%d of 200 concurrent admissions admitted, want 3", got)
	}
	// The refusals came while checks were in flight: none is counted; the
	// three tickets hold the bucket at the limit.
	if es := list(t, s, storage.Filter{}); len(es) != 1 || es[0].State.Failures != 0 || es[0].State.Reserved != 3 {
		t.Fatalf("after the burst: %+v, want 0 failures and 3 reserved", es)
	}
}

// Two *sql.DB handles on one fresh file stand for two processes: each has
// its own connections and its own Store, so only SQLite's file locks
// serialise them, and both check (and create) the schema at once.
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
	p := policy(3, 0)
	if got := admitBurst(t, stores, 100, b, p); got != 3 {
		t.Fatalf("%d of 2x100 concurrent admissions admitted, want 3", got)
	}
	if es := list(t, stores[1], storage.Filter{}); len(es) != 1 || es[0].State.Failures != 0 || es[0].State.Reserved != 3 {
		t.Fatalf("after the burst: %+v, want 0 failures and 3 reserved", es)
	}
}

// TestConcurrentFirstUse starts two processes on a fresh file at once, each
// reading first (a Peek: the schema check, then a read outside any write
// transaction): neither may fail with SQLITE_BUSY.
func TestConcurrentFirstUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "axes.db")
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		s, err := New(openDB(t, path), SQLite, AutoMigrate())
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			<-start
			ctx := context.Background()
			if _, err := s.Do(ctx, []storage.Op{op(ipBucket("192.0.2.1"), storage.Peek, us0, policy(3, 0))}); err != nil {
				t.Errorf("Peek: %v", err)
			}
			if _, err := s.Rules(ctx, t0); err != nil {
				t.Errorf("Rules: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
}

// TestReadRetriesBusy holds an exclusive lock on a file in rollback-journal
// mode, where every reader gets SQLITE_BUSY at once (no busy timeout), and
// checks that the schema check and the reads wait for it instead of
// failing.
func TestReadRetriesBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "axes.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(DELETE)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(db, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	fresh, err := New(db, SQLite) // has not checked the schema yet
	if err != nil {
		t.Fatal(err)
	}
	locker, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	c, err := locker.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	// Without a retry, this read fails now.
	if _, err := db.Exec("SELECT count(*) FROM axes_attempt"); err == nil || !SQLite.Retryable(err) {
		t.Fatalf("read under an exclusive lock: %v, want SQLITE_BUSY", err)
	}
	time.AfterFunc(100*time.Millisecond, func() { c.ExecContext(context.Background(), "ROLLBACK") })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if as, err := fresh.Do(ctx, []storage.Op{op(ipBucket("192.0.2.1"), storage.Peek, us0, policy(3, 0))}); err != nil || as[0].Failures != 0 {
		t.Fatalf("Peek under an exclusive lock = %+v, %v; want a wait, then nothing", as, err)
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
	b := ipBucket("198.51.100.9")
	p := policy(3, time.Hour)
	a := do1(t, s, op(b, storage.Admit, us0, p))
	if a = do1(t, s, held(b, storage.Fail, us0, p, a.Slot, "alice")); !a.Counted || a.Failures != 1 {
		t.Fatalf("Fail = %+v", a)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if a := do1(t, s, op(b, storage.Peek, us0, p)); a.Failures != 1 {
		t.Fatalf("Peek after the application's rollback = %+v; want 1 failure", a)
	}
}

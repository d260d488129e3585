package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/goaxes/axes"
	_ "modernc.org/sqlite"
)

// openDB opens the SQLite file at path with the recommended DSN.
func openDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
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

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

// ipBucket is a lockout bucket counted by IP.
func ipBucket(ip string) axes.Bucket {
	return axes.Bucket{Key: "b|ip_address=" + ip, Kind: axes.KindLockout, Params: "ip_address", IP: ip}
}

func policy(limit int, cool time.Duration) axes.Policy {
	return axes.Policy{Limit: limit, Tiers: []axes.Tier{{Failures: limit, CoolOff: cool}}, Window: cool, Lease: axes.DefaultReservationLease}
}

// doAt applies a settling op for a ticket admitted at admitted.
func doAt(t testing.TB, s *Store, kind axes.OpKind, now, admitted time.Time, p axes.Policy, bs ...axes.Bucket) axes.Outcome {
	t.Helper()
	o, err := s.Do(context.Background(), &axes.Op{Kind: kind, Now: now, Admitted: admitted, Buckets: bs, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func do(t testing.TB, s *Store, kind axes.OpKind, now time.Time, p axes.Policy, bs ...axes.Bucket) axes.Outcome {
	t.Helper()
	o, err := s.Do(context.Background(), &axes.Op{Kind: kind, Now: now, Buckets: bs, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

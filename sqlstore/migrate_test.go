package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/goaxes/axes/storage"
)

// oldDialect is SQLite with the migrations up to version n only: the
// schema of an older build.
type oldDialect struct {
	Dialect
	n int
}

func (d oldDialect) Migrations() fs.FS {
	full := d.Dialect.Migrations()
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(full, ".")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		var v int
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err != nil || v > d.n {
			continue
		}
		data, err := fs.ReadFile(full, e.Name())
		if err != nil {
			panic(err)
		}
		out[e.Name()] = &fstest.MapFile{Data: data}
	}
	return out
}

// TestMigrateFromVersion3 fills a version-3 database with rows of the old
// format (lockout and attribution records, tickets in flight, times in
// nanoseconds), migrates it, and checks every converted state.
func TestMigrateFromVersion3(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "axes.db"))
	old, err := New(db, oldDialect{SQLite, 3})
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := old.Migrate(ctx); err != nil || len(applied) != 3 {
		t.Fatalf("version 3: applied %q, %v", applied, err)
	}

	// n is a time in nanoseconds ten minutes ago: the migration leaves out
	// the attribution records that expired before it runs.
	n := time.Now().Add(-10 * time.Minute).UnixNano()
	const h = int64(time.Hour)
	type oldRow struct {
		key, params, ip, username, parent   string
		kind, failures, lastFailure, locked int64
		lockedUntil, expiresAt, reserved    int64
		reservedAt, lapsedAt                int64
	}
	rows := []oldRow{
		// An IP bucket with a ticket in flight, and its users' shares.
		{key: "b|ip_address=192.0.2.1", params: "ip_address", ip: "192.0.2.1", failures: 3, lastFailure: n + 1999,
			locked: 1, lockedUntil: n + h, expiresAt: n + 2*h, reserved: 1, reservedAt: n + 5000, lapsedAt: n - h},
		{key: "a|192.0.2.1|alice", kind: 1, ip: "192.0.2.1", username: "alice", parent: "b|ip_address=192.0.2.1",
			failures: 2, lastFailure: n, expiresAt: n + 2*h},
		{key: "a|192.0.2.1|bob", kind: 1, ip: "192.0.2.1", username: "bob", parent: "b|ip_address=192.0.2.1",
			failures: 1, lastFailure: n, expiresAt: n + 2*h, reserved: 1, reservedAt: n + 5000},
		// More than the parent's failures: cut to them.
		{key: "a|192.0.2.1|carol", kind: 1, ip: "192.0.2.1", username: "carol", parent: "b|ip_address=192.0.2.1",
			failures: 9, lastFailure: n, expiresAt: 0},
		// Expired: an earlier count of the bucket.
		{key: "a|192.0.2.1|mallory", kind: 1, ip: "192.0.2.1", username: "mallory", parent: "b|ip_address=192.0.2.1",
			failures: 1, lastFailure: n - 2*h, expiresAt: n - h},
		// No username, no failures: nothing to fold.
		{key: "a|192.0.2.1|", kind: 1, ip: "192.0.2.1", parent: "b|ip_address=192.0.2.1", failures: 1, expiresAt: n + 2*h},
		{key: "a|192.0.2.1|dave", kind: 1, ip: "192.0.2.1", username: "dave", parent: "b|ip_address=192.0.2.1", expiresAt: n + 2*h},
		// An orphan.
		{key: "a|192.0.2.9|erin", kind: 1, ip: "192.0.2.9", username: "erin", parent: "b|ip_address=192.0.2.9",
			failures: 1, expiresAt: n + 2*h},
		// A username bucket locked until reset, never expiring.
		{key: "b|username=alice", params: "username", username: "alice", failures: 5, lastFailure: n, locked: 1},
		// Tickets in flight only.
		{key: "b|ip_address=192.0.2.2", params: "ip_address", ip: "192.0.2.2", reserved: 2, reservedAt: n + 7000,
			expiresAt: n + 3*h},
		// A stale reservation time on a row without reservations is ignored.
		{key: "b|ip_address=192.0.2.3", params: "ip_address", ip: "192.0.2.3", failures: 1, lastFailure: n,
			expiresAt: n + h, reservedAt: n + h},
		// Empty: dropped.
		{key: "b|ip_address=192.0.2.4", params: "ip_address", ip: "192.0.2.4", lapsedAt: n},
		// The epoch, stored as 1ns.
		{key: "b|user_agent=x", params: "user_agent", failures: 1, lastFailure: 1, expiresAt: 1 + h},
		// An expired lockout record is carried as it is.
		{key: "b|ip_address=192.0.2.5", params: "ip_address", ip: "192.0.2.5", failures: 1, lastFailure: n - 3*h,
			expiresAt: n - 2*h},
	}
	// A bucket with 33 users' shares: the smallest goes, the first by user
	// on a tie (u01).
	many := oldRow{key: "b|ip_address=192.0.2.6", params: "ip_address", ip: "192.0.2.6", failures: 40, lastFailure: n, expiresAt: n + h}
	rows = append(rows, many)
	var manyShares []storage.Share
	for i := range 33 {
		u := fmt.Sprintf("u%02d", i)
		f := int64(1)
		if i == 0 {
			f = 2
		}
		rows = append(rows, oldRow{key: "a|192.0.2.6|" + u, kind: 1, ip: "192.0.2.6", username: u, parent: many.key,
			failures: f, lastFailure: n, expiresAt: n + h})
		if i != 1 {
			manyShares = append(manyShares, storage.Share{User: u, Failures: int(f)})
		}
	}
	for _, r := range rows {
		if _, err := db.Exec(`INSERT INTO axes_attempt (bucket_key, kind, params, ip, username, user_agent, parent,
			failures, last_failure, locked, locked_until, expires_at, reserved, reserved_at, lapsed_at)
			VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.key, r.kind, r.params, r.ip, r.username, r.parent, r.failures, r.lastFailure, r.locked,
			r.lockedUntil, r.expiresAt, r.reserved, r.reservedAt, r.lapsedAt); err != nil {
			t.Fatal(err)
		}
	}

	s, err := New(db, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := s.Migrate(ctx); err != nil || strings.Join(applied, ",") != "0004_buckets" {
		t.Fatalf("Migrate = %q, %v; want 0004_buckets", applied, err)
	}

	us := func(ns int64) int64 { return ns / 1000 }
	ip := func(addr string) storage.Bucket { return ipBucket(addr) }
	want := []storage.Entry{
		{Bucket: ip("192.0.2.1"), State: storage.State{Failures: 4, LastFailure: us(n + 5000),
			Shares:    []storage.Share{{User: "alice", Failures: 2}, {User: "bob", Failures: 2}, {User: "carol", Failures: 4}},
			ExpiresAt: us(n + 2*h)}},
		{Bucket: ip("192.0.2.2"), State: storage.State{Failures: 2, LastFailure: us(n + 7000), ExpiresAt: us(n + 3*h)}},
		{Bucket: ip("192.0.2.3"), State: storage.State{Failures: 1, LastFailure: us(n), ExpiresAt: us(n + h)}},
		{Bucket: ip("192.0.2.5"), State: storage.State{Failures: 1, LastFailure: us(n - 3*h), ExpiresAt: us(n - 2*h)}},
		{Bucket: ip("192.0.2.6"), State: storage.State{Failures: 40, LastFailure: us(n), Shares: manyShares, ExpiresAt: us(n + h)}},
		{Bucket: storage.Bucket{Key: "b|user_agent=x", Params: "user_agent"}, State: storage.State{Failures: 1, LastFailure: 0, ExpiresAt: us(1 + h)}},
		{Bucket: userBucket("alice"), State: storage.State{Failures: 5, LastFailure: us(n)}},
	}
	got := list(t, s, storage.Filter{})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("migrated entries:")
		for i := range max(len(got), len(want)) {
			var g, w storage.Entry
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf(" got %+v\nwant %+v", g, w)
			}
		}
	}
	var shares string
	if err := db.QueryRow("SELECT shares FROM axes_attempt WHERE bucket_key = 'b|ip_address=192.0.2.1'").Scan(&shares); err != nil {
		t.Fatal(err)
	}
	if want := `[{"user":"alice","failures":2},{"user":"bob","failures":2},{"user":"carol","failures":4}]`; shares != want {
		t.Errorf("shares column = %s, want %s", shares, want)
	}

	// The table has the new columns only, and its indexes.
	var cols []string
	r, err := db.Query("SELECT name FROM pragma_table_info('axes_attempt') ORDER BY cid")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var c string
		r.Scan(&c)
		cols = append(cols, c)
	}
	r.Close()
	if got, want := strings.Join(cols, ","), strings.Join(bucketCols, ","); got != want {
		t.Errorf("columns = %s, want %s", got, want)
	}
	var idx []string
	r, err = db.Query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'axes_attempt' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var c string
		r.Scan(&c)
		idx = append(idx, c)
	}
	r.Close()
	if got := strings.Join(idx, ","); got != "axes_attempt_expires_at,axes_attempt_ip,axes_attempt_username,sqlite_autoindex_axes_attempt_1" {
		t.Errorf("indexes = %s", got)
	}

	// The store works on the converted rows: bob's reset takes his share
	// off the IP bucket.
	take := op(ip("192.0.2.1"), storage.Take, us(n)+1, policy(10, time.Hour))
	take.Step.User = "bob"
	if a := do1(t, s, take); a.Taken != 2 || a.Failures != 2 {
		t.Fatalf("take bob = %+v, want 2 taken, 2 left", a)
	}
	if es := list(t, s, storage.Filter{ShareOf: "bob"}); len(es) != 0 {
		t.Fatalf("buckets with a share of bob after his reset: %+v", es)
	}
}

// TestMigrateFreshAndPrefixed checks that the rebuild works on an empty
// table and with another table prefix.
func TestMigrateFreshAndPrefixed(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "axes.db"))
	old, err := New(db, oldDialect{SQLite, 3}, TablePrefix("x_"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := New(db, SQLite, TablePrefix("x_"), AutoMigrate())
	if err != nil {
		t.Fatal(err)
	}
	if a := do1(t, s, op(ipBucket("192.0.2.1"), storage.Fail, us0, policy(3, 0))); a.Failures != 1 {
		t.Fatalf("fail = %+v", a)
	}
	if cur, _, err := s.SchemaVersion(ctx); err != nil || cur != 4 {
		t.Fatalf("SchemaVersion = %d, %v; want 4", cur, err)
	}
}

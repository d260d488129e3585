package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/goaxes/axes/sqlstore"
	"github.com/goaxes/axes/storage"
	_ "modernc.org/sqlite" // the driver named "sqlite"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "axes-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The application opens the database with its driver...
	db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(filepath.Join(dir, "axes.db")))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// ...and hands it to the store, which never closes it. An application
	// passes the store to axes.New; here the steps the guard would run are
	// written out.
	store, err := sqlstore.New(db, sqlstore.SQLite)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	applied, err := store.Migrate(ctx) // what "axes migrate" does
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied:", applied)

	bucket := storage.Bucket{Key: "ip_address=203.0.113.7", Params: "ip_address", IP: "203.0.113.7"}
	policy := storage.Policy{
		Limit: 2,
		Tiers: []storage.Tier{{Failures: 2, CoolOff: storage.Duration(time.Hour)}},
		Lease: storage.Duration(time.Minute),
	}
	now := storage.Micros(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	for range 3 {
		// Admit the attempt; the password is wrong: settle its ticket as
		// failed.
		admit := storage.Step{Kind: storage.Admit, Now: now, Policy: policy, User: "alice"}
		as, err := store.Do(ctx, []storage.Op{{Bucket: bucket, Step: admit}})
		if err != nil {
			log.Fatal(err)
		}
		if !as[0].Admitted {
			fmt.Println("refused: locked", as[0].Locked, "failures", as[0].Failures)
			continue
		}
		fail := storage.Step{Kind: storage.Fail, Now: now, Policy: policy, Held: true, Slot: as[0].Slot, User: "alice"}
		as, err = store.Do(ctx, []storage.Op{{Bucket: bucket, Step: fail}})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("failed: locked", as[0].Locked, "failures", as[0].Failures)
	}
	entries, err := store.List(ctx, storage.Filter{ShareOf: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Bucket.Key, e.State.Failures, e.State.Shares)
	}
	// Output:
	// applied: [0001_init 0002_rules 0003_reservations 0004_buckets]
	// failed: locked false failures 1
	// failed: locked true failures 2
	// refused: locked true failures 3
	// ip_address=203.0.113.7 3 [{alice 3}]
}

package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/sqlstore"
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

	// ...and hands it to the store, which never closes it.
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

	guard, err := axes.New(store, axes.Config{FailureLimit: 2})
	if err != nil {
		log.Fatal(err)
	}
	id := axes.Identity{IP: netip.MustParseAddr("203.0.113.7"), Username: "alice"}
	wrongPassword := func(context.Context) (bool, error) { return false, nil }
	for range 3 {
		res, err := guard.Authenticate(ctx, id, wrongPassword)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.Verdict, res.Failures)
	}
	_, err = guard.Admit(ctx, id)
	fmt.Println(errors.Is(err, axes.ErrLockedOut))
	// Output:
	// applied: [0001_init 0002_rules 0003_reservations]
	// invalid 1
	// locked 2
	// locked 3
	// true
}

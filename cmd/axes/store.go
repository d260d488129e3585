package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/goaxes/axes/memstore"
	"github.com/goaxes/axes/sqlstore"
	"github.com/goaxes/axes/storage"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// defaultStore is where the demo and the commands keep their data when no
// --store is given.
const defaultStore = "sqlite:axes.db"

// sqliteConns is how many connections the command keeps to a SQLite file.
const sqliteConns = 8

// openStore opens the store a DSN names. migrate applies the schema first
// (the demo does, so that it needs no set-up).
func openStore(ctx context.Context, dsn string, migrate bool) (storage.Store, error) {
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok {
		return nil, fmt.Errorf("axes: store %q: a store is written SCHEME:..., such as memory: or sqlite:axes.db", maskDSN(dsn))
	}
	switch scheme {
	case "memory", "mem":
		return memstore.New(), nil
	case "sqlite", "sqlite3", "file":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, fmt.Errorf("axes: store %q: sqlite needs a file path, such as sqlite:axes.db", dsn)
		}
		db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(path))
		if err != nil {
			return nil, fmt.Errorf("axes: store %q: %w", maskDSN(dsn), err)
		}
		// A burst of logins must not open a connection each: every new
		// one opens the file and runs the DSN's pragmas, and hundreds at
		// once starve the writer. SQLite has one writer, and a few readers
		// serve every read the store makes.
		db.SetMaxOpenConns(sqliteConns)
		db.SetMaxIdleConns(sqliteConns)
		var opts []sqlstore.Option
		if migrate {
			opts = append(opts, sqlstore.AutoMigrate())
		}
		s, err := sqlstore.New(db, sqlstore.SQLite, opts...)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("axes: store %q: %w", maskDSN(dsn), err)
		}
		if migrate {
			if _, err := s.Migrate(ctx); err != nil {
				db.Close()
				return nil, fmt.Errorf("axes: store %q: %w", maskDSN(dsn), err)
			}
		}
		return &closingStore{Store: s, db: db}, nil
	case "postgres", "postgresql", "mysql", "redis", "rediss", "memcache":
		return nil, fmt.Errorf("axes: store %q: the %s store is not part of this build yet; use memory: or sqlite:PATH", maskDSN(dsn), scheme)
	}
	// Only the scheme is shown: what follows it may be a secret in a form
	// maskDSN does not know.
	return nil, fmt.Errorf("axes: store: unknown scheme %q; use memory: or sqlite:PATH", scheme)
}

// closingStore closes the connection pool the command opened for a SQL
// store (sqlstore leaves the caller's pool open).
type closingStore struct {
	*sqlstore.Store
	db *sql.DB
}

func (c *closingStore) Close() error {
	return errors.Join(c.Store.Close(), c.db.Close())
}

// commonFlags are the flags every command that touches a store shares.
type commonFlags struct {
	store  string
	config string
}

func (c *commonFlags) register(fs *flag.FlagSet, lookup env) {
	c.registerStore(fs, lookup)
	fs.StringVar(&c.config, "config", "", "a JSON configuration `FILE` (env AXES_CONFIG)")
}

// registerStore registers --store alone, for commands that read no
// settings.
func (c *commonFlags) registerStore(fs *flag.FlagSet, lookup env) {
	def := defaultStore
	if v, ok := lookup("AXES_STORE"); ok && v != "" {
		def = v
	}
	fs.StringVar(&c.store, "store", def, "the store `DSN`: sqlite:PATH, or memory: (empty in every run) (env AXES_STORE)")
}

// settingFlags holds one flag per setting (--failure-limit for
// AXES_FAILURE_LIMIT, ...), by flag name; their values are applied after
// the file and the environment, so flags win.
type settingFlags map[string]settingFlag

// settingFlag is the flag of one setting.
type settingFlag struct {
	row   settingRow
	value *string
}

func registerSettings(fs *flag.FlagSet) settingFlags {
	sf := settingFlags{}
	for _, s := range settingRows() {
		name := settingFlagName(s.Env)
		sf[name] = settingFlag{s, fs.String(name, "", fmt.Sprintf("%s: %s", s.Env, s.Help))}
	}
	return sf
}

// parseFlags parses args and turns -h and bad flags into errUsage.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stderr, inertLines(err.Error()))
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "axes %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// runMigrate applies the schema and says what it did.
func runMigrate(ctx context.Context, args []string, lookup env, stdout, stderr io.Writer) error {
	cmd := newCommand("migrate", "[--store DSN]",
		"Create the database (for sqlite:PATH, the file) and apply every schema migration it lacks.\nIt is idempotent: a second run applies nothing.")
	var c commonFlags
	c.registerStore(cmd.fs, lookup)
	if _, err := cmd.parse(args, 0, 0, stdout, stderr); err != nil {
		return err
	}
	s, err := openStore(ctx, c.store, false)
	if err != nil {
		return err
	}
	defer s.Close()
	m, ok := storage.Find[storage.Migrator](s)
	if !ok {
		fmt.Fprintf(stdout, "The store %s has no schema; nothing to migrate.\n", inert(maskDSN(c.store)))
		return nil
	}
	applied, err := m.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("axes migrate: %w", err)
	}
	_, latest, err := m.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("axes migrate: %w", err)
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "No migrations to apply; the schema is at version %d.\n", latest)
		return nil
	}
	for _, name := range applied {
		fmt.Fprintf(stdout, "Applied %s\n", name)
	}
	fmt.Fprintf(stdout, "The schema is at version %d.\n", latest)
	return nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migration is one embedded migration file.
type migration struct {
	version int
	name    string // file name without ".sql", e.g. "0001_init"
	stmts   []string
}

// loadMigrations reads NNNN_name.sql files from fsys, sorted by version.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	if fsys == nil {
		return nil, errors.New("no migrations")
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".sql")
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql with NNNN > 0", e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		text, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		stmts := splitStatements(string(text))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s has no statements", e.Name())
		}
		ms = append(ms, migration{version: v, name: name, stmts: stmts})
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations")
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	return ms, nil
}

// splitStatements drops "--" comments and splits at ";". The migration
// files are ours: they have no string literals with "--" or ";" in them.
func splitStatements(text string) []string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i] + "\n"
		}
		b.WriteString(line)
	}
	var out []string
	for stmt := range strings.SplitSeq(b.String(), ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// Migrate applies every migration that the database lacks, each in a write
// transaction of its own together with its row in the version table, and
// returns the names of those it applied ("0001_init"), in order. It is
// idempotent, and safe to run from several processes at once: a migration
// that another process applied first is skipped.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	createVersion := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)", s.versionTable)
	hasVersion := fmt.Sprintf("SELECT count(*) FROM %s WHERE version = %s", s.versionTable, s.d.Placeholder(1))
	insertVersion := fmt.Sprintf("INSERT INTO %s (version, name, applied_at) VALUES (%s, %s, %s)",
		s.versionTable, s.d.Placeholder(1), s.d.Placeholder(2), s.d.Placeholder(3))
	var applied []string
	for i, m := range s.migrations {
		did := false
		err := s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
			did = false // a retry starts afresh
			if i == 0 {
				if _, err := c.ExecContext(ctx, createVersion); err != nil {
					return err
				}
			}
			var n int
			if err := c.QueryRowContext(ctx, hasVersion, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range m.stmts {
				stmt = strings.ReplaceAll(stmt, "{prefix}", s.prefix)
				if _, err := c.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%w\nin statement: %s", err, stmt)
				}
			}
			if _, err := c.ExecContext(ctx, insertVersion, m.version, m.name, time.Now().UnixNano()); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		if did {
			applied = append(applied, m.name)
		}
	}
	s.schemaOK.Store(true)
	return applied, nil
}

// SchemaVersion reports the highest migration version applied to the
// database (0 without a schema) and the latest version this build has. Like
// every operation of the store, it retries while the database is busy (a
// second process may be creating the schema at that moment).
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	if err := s.usable(ctx); err != nil {
		return 0, 0, err
	}
	err = s.read(ctx, func(ctx context.Context, db querier) error {
		current = 0
		var exists int64
		if err := db.QueryRowContext(ctx, s.d.TableExists(), s.versionTable).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return nil
		}
		var cur sql.NullInt64
		if err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM "+s.versionTable).Scan(&cur); err != nil {
			return err
		}
		current = int(cur.Int64)
		return nil
	})
	if err != nil {
		return 0, s.latest, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return current, s.latest, nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/goaxes/axes/storage"
)

// where builds a WHERE clause and its arguments with the dialect's
// placeholders.
type where struct {
	d     Dialect
	conds []string
	args  []any
}

// add appends a condition; each "?" in cond stands for one of args.
func (w *where) add(cond string, args ...any) {
	parts := strings.Split(cond, "?")
	if len(parts)-1 != len(args) {
		panic("sqlstore: placeholder count mismatch in " + cond)
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for i, a := range args {
		w.args = append(w.args, a)
		b.WriteString(w.d.Placeholder(len(w.args)))
		b.WriteString(parts[i+1])
	}
	w.conds = append(w.conds, b.String())
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// List returns the buckets that f matches, ordered by key, with their
// states as stored, expired ones included.
//
// IP and Username search their indexes. ShareOf selects the rows that have
// shares (a non-empty shares column) and keeps those whose decoded shares name the user:
// with IP it searches the IP index, alone it reads the whole table, decoding
// only the rows with shares. That is what an operator's reset of a username
// costs; the hot path never lists.
func (s *Store) List(ctx context.Context, f storage.Filter) ([]storage.Entry, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	q, args := s.listSQL(f)
	out, err := queryAll(ctx, s, q, args, func(rows *sql.Rows) (storage.Entry, error) {
		var e storage.Entry
		var r row
		b := &e.Bucket
		err := rows.Scan(append([]any{&b.Key, &b.Params, &b.IP, &b.Username, &b.UserAgent}, r.dest()...)...)
		e.State = r.state()
		return e, err
	}, func(e *storage.Entry) bool { return f.ShareOf == "" || e.State.Share(f.ShareOf) > 0 })
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list: %w", err)
	}
	return out, nil
}

func (s *Store) listSQL(f storage.Filter) (string, []any) {
	w := &where{d: s.d}
	if f.IP != "" {
		w.add("ip = ?", f.IP)
	}
	if f.Username != "" {
		w.add("username = ?", f.Username)
	}
	if f.ShareOf != "" {
		w.add("shares <> ''")
	}
	return fmt.Sprintf("SELECT %s FROM %s%s ORDER BY bucket_key", strings.Join(bucketCols, ", "), s.attempt, w), w.args
}

func (s *Store) purgeSQL(now time.Time) (string, []any) {
	w := &where{d: s.d}
	w.add("expires_at > 0")
	w.add("expires_at <= ?", storage.Micros(now))
	return "DELETE FROM " + s.attempt + w.String(), w.args
}

// Purge removes the buckets whose state expired at or before now
// (State.ExpiresAt), in one statement that searches the expires_at index,
// and returns how many it removed.
func (s *Store) Purge(ctx context.Context, now time.Time) (int, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	q, args := s.purgeSQL(now)
	n, err := s.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge: %w", err)
	}
	return int(n), nil
}

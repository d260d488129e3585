package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goaxes/axes"
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

// lockoutWhere selects the lockout records that f matches. With live, it
// also leaves out records expired at f.Now (when f.Now is set).
func (s *Store) lockoutWhere(f axes.Filter, live bool) *where {
	w := &where{d: s.d}
	w.add(fmt.Sprintf("kind = %d", axes.KindLockout))
	if f.IP != "" {
		w.add("ip = ?", f.IP)
	}
	if f.Username != "" {
		w.add("username = ?", f.Username)
	}
	now := encTime(f.Now)
	if f.LockedOnly {
		w.add("locked = 1 AND (locked_until = 0 OR locked_until > ?)", now)
	}
	if live && !f.Now.IsZero() {
		w.add("(expires_at = 0 OR expires_at > ?)", now)
	}
	return w
}

// List returns the lockout records that f matches, newest failure first.
// When f.Now is set, records expired at f.Now are left out.
func (s *Store) List(ctx context.Context, f axes.Filter) ([]axes.Record, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	q, args := s.listSQL(f)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list: %w", err)
	}
	defer rows.Close()
	var out []axes.Record
	for rows.Next() {
		var r row
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("sqlstore: list: %w", err)
		}
		out = append(out, r.record())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list: %w", err)
	}
	return out, nil
}

func (s *Store) listSQL(f axes.Filter) (string, []any) {
	w := s.lockoutWhere(f, true)
	return fmt.Sprintf("SELECT %s FROM %s%s ORDER BY last_failure DESC, bucket_key", recordColList, s.attempt, w), w.args
}

func (s *Store) purgeSQL(now time.Time) (string, []any) {
	w := &where{d: s.d}
	w.add("expires_at > 0")
	w.add("expires_at <= ?", encTime(now))
	return "DELETE FROM " + s.attempt + w.String(), w.args
}

// Delete removes the lockout records that f matches and, in the same
// transaction, the attribution records whose parent it removed and (unless
// f.LockedOnly) those whose IP and username match f, so that an empty
// filter removes everything. It returns how many lockout records it
// removed; when f.Now is set, records already expired at f.Now are removed
// without being counted.
func (s *Store) Delete(ctx context.Context, f axes.Filter) (int, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	stmts := s.deleteSQL(f)
	var n int64
	err := s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		n = 0
		if !f.Now.IsZero() {
			if err := c.QueryRowContext(ctx, stmts.count.q, stmts.count.args...).Scan(&n); err != nil {
				return err
			}
		}
		reduced, err := s.takeShares(ctx, c, f)
		if err != nil {
			return err
		}
		defer func() { n += reduced }()
		for _, st := range stmts.attr {
			if _, err := c.ExecContext(ctx, st.q, st.args...); err != nil {
				return err
			}
		}
		res, err := c.ExecContext(ctx, stmts.lockout.q, stmts.lockout.args...)
		if err != nil {
			return err
		}
		if f.Now.IsZero() {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete: %w", err)
	}
	return int(n), nil
}

// takeShares takes the failures a username caused in buckets without the
// username (its attribution rows matching f) off those buckets, and returns
// how many buckets it reduced. It runs only when f names a username: an
// IP-only filter deletes the parents of its attribution rows anyway.
func (s *Store) takeShares(ctx context.Context, c *sql.Conn, f axes.Filter) (int64, error) {
	if f.Username == "" || f.LockedOnly {
		return 0, nil
	}
	w := &where{d: s.d}
	w.add("username = ?", f.Username)
	if f.IP != "" {
		w.add("ip = ?", f.IP)
	}
	w.add(fmt.Sprintf("kind = %d", axes.KindAttribution))
	if !f.Now.IsZero() {
		// An expired share belongs to an earlier count of its bucket.
		w.add("(expires_at = 0 OR expires_at > ?)", encTime(f.Now))
	}
	rows, err := c.QueryContext(ctx, "SELECT parent, failures FROM "+s.attempt+w.String(), w.args...)
	if err != nil {
		return 0, err
	}
	type share struct {
		parent   string
		failures int64
	}
	var shares []share
	for rows.Next() {
		var sh share
		if err := rows.Scan(&sh.parent, &sh.failures); err != nil {
			rows.Close()
			return 0, err
		}
		shares = append(shares, sh)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	p := s.d.Placeholder
	update := fmt.Sprintf("UPDATE %s SET failures = failures - %s WHERE bucket_key = %s AND kind = %d",
		s.attempt, p(1), p(2), axes.KindLockout)
	drop := fmt.Sprintf("DELETE FROM %s WHERE bucket_key = %s AND kind = %d AND failures <= 0",
		s.attempt, p(1), axes.KindLockout)
	var n int64
	for _, sh := range shares {
		res, err := c.ExecContext(ctx, update, sh.failures, sh.parent)
		if err != nil {
			return 0, err
		}
		if k, _ := res.RowsAffected(); k > 0 {
			n++
		}
		if _, err := c.ExecContext(ctx, drop, sh.parent); err != nil {
			return 0, err
		}
	}
	return n, nil
}

type stmt struct {
	q    string
	args []any
}

// deleteStmts are the statements of Delete, run in this order.
type deleteStmts struct {
	count   stmt   // count the live lockout records that match (with f.Now)
	attr    []stmt // delete the attribution records
	lockout stmt   // delete the lockout records
}

func (s *Store) deleteSQL(f axes.Filter) deleteStmts {
	var st deleteStmts
	live := s.lockoutWhere(f, true)
	st.count = stmt{"SELECT count(*) FROM " + s.attempt + live.String(), live.args}
	w := s.lockoutWhere(f, false)
	st.lockout = stmt{"DELETE FROM " + s.attempt + w.String(), w.args}
	// Two statements rather than one with OR, so that each uses an index.
	st.attr = append(st.attr, stmt{fmt.Sprintf("DELETE FROM %s WHERE parent IN (SELECT bucket_key FROM %s%s) AND kind = %d",
		s.attempt, s.attempt, w, axes.KindAttribution), w.args})
	if !f.LockedOnly {
		id := &where{d: s.d}
		if f.IP != "" {
			id.add("ip = ?", f.IP)
		}
		if f.Username != "" {
			id.add("username = ?", f.Username)
		}
		id.add(fmt.Sprintf("kind = %d", axes.KindAttribution))
		st.attr = append(st.attr, stmt{"DELETE FROM " + s.attempt + id.String(), id.args})
	}
	return st
}

// Purge removes the records (lockout and attribution) that expired at or
// before now, and returns how many it removed.
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

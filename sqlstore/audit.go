package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/goaxes/axes/storage"
)

// LogLogin records a successful login in the access log.
func (s *Store) LogLogin(ctx context.Context, e storage.AccessEntry) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	p := s.d.Placeholder
	q := fmt.Sprintf("INSERT INTO %s (attempt_time, username, ip, user_agent, path, session_hash, logout_time) VALUES (%s, %s, %s, %s, %s, %s, %s)",
		s.accessLog, p(1), p(2), p(3), p(4), p(5), p(6), p(7))
	if _, err := s.exec(ctx, q, encTime(e.Time), e.Username, e.IP, e.UserAgent, e.Path, e.SessionHash, encTime(e.LogoutTime)); err != nil {
		return fmt.Errorf("sqlstore: log login: %w", err)
	}
	return nil
}

// LogLogout sets the logout time of the open access log entries of username
// with sessionHash, and returns how many it closed.
func (s *Store) LogLogout(ctx context.Context, username, sessionHash string, at time.Time) (int, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	n, err := s.exec(ctx, s.logoutSQL(), encTime(at), username, sessionHash)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: log logout: %w", err)
	}
	return int(n), nil
}

// LogFailure records a failed attempt and, when perUser > 0, deletes the
// oldest failure entries of the username beyond the newest perUser, in the
// same transaction. Entries are ordered by attempt time, then by insertion.
func (s *Store) LogFailure(ctx context.Context, e storage.FailureEntry, perUser int) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	p := s.d.Placeholder
	insert := fmt.Sprintf("INSERT INTO %s (attempt_time, username, ip, user_agent, path, locked_out) VALUES (%s, %s, %s, %s, %s, %s)",
		s.failureLog, p(1), p(2), p(3), p(4), p(5), p(6))
	cut, trim := s.trimSQL()
	err := s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, insert, encTime(e.Time), e.Username, e.IP, e.UserAgent, e.Path, encBool(e.LockedOut)); err != nil {
			return err
		}
		if perUser <= 0 {
			return nil
		}
		var t, id int64
		err := c.QueryRowContext(ctx, cut, e.Username, perUser).Scan(&t, &id)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = c.ExecContext(ctx, trim, e.Username, t, t, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: log failure: %w", err)
	}
	return nil
}

func (s *Store) logoutSQL() string {
	p := s.d.Placeholder
	return fmt.Sprintf("UPDATE %s SET logout_time = %s WHERE username = %s AND session_hash = %s AND logout_time = 0",
		s.accessLog, p(1), p(2), p(3))
}

// trimSQL returns the statements that cap a user's failure entries: cut
// finds the newest entry beyond the cap, trim deletes it and all older.
func (s *Store) trimSQL() (cut, trim string) {
	p := s.d.Placeholder
	cut = fmt.Sprintf("SELECT attempt_time, id FROM %s WHERE username = %s ORDER BY attempt_time DESC, id DESC LIMIT 1 OFFSET %s",
		s.failureLog, p(1), p(2))
	trim = fmt.Sprintf("DELETE FROM %s WHERE username = %s AND (attempt_time < %s OR (attempt_time = %s AND id <= %s))",
		s.failureLog, p(1), p(2), p(3), p(4))
	return cut, trim
}

// AccessLog returns the access log entries of username ("" for every user),
// newest first; limit 0 returns all.
func (s *Store) AccessLog(ctx context.Context, username string, limit int) ([]storage.AccessEntry, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	q, args := s.logQuery("attempt_time, username, ip, user_agent, path, session_hash, logout_time", s.accessLog, username, limit)
	out, err := queryAll(ctx, s, q, args, func(rows *sql.Rows) (storage.AccessEntry, error) {
		var e storage.AccessEntry
		var t, logout int64
		err := rows.Scan(&t, &e.Username, &e.IP, &e.UserAgent, &e.Path, &e.SessionHash, &logout)
		e.Time, e.LogoutTime = decTime(t), decTime(logout)
		return e, err
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: access log: %w", err)
	}
	return out, nil
}

// FailureLog returns the failure log entries of username ("" for every
// user), newest first; limit 0 returns all.
func (s *Store) FailureLog(ctx context.Context, username string, limit int) ([]storage.FailureEntry, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	q, args := s.logQuery("attempt_time, username, ip, user_agent, path, locked_out", s.failureLog, username, limit)
	out, err := queryAll(ctx, s, q, args, func(rows *sql.Rows) (storage.FailureEntry, error) {
		var e storage.FailureEntry
		var t, locked int64
		err := rows.Scan(&t, &e.Username, &e.IP, &e.UserAgent, &e.Path, &locked)
		e.Time, e.LockedOut = decTime(t), locked != 0
		return e, err
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: failure log: %w", err)
	}
	return out, nil
}

func (s *Store) logQuery(cols, table, username string, limit int) (string, []any) {
	w := &where{d: s.d}
	if username != "" {
		w.add("username = ?", username)
	}
	q := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY attempt_time DESC, id DESC", cols, table, w)
	if limit > 0 {
		w.args = append(w.args, limit)
		q += " LIMIT " + s.d.Placeholder(len(w.args))
	}
	return q, w.args
}

// PruneAccessLog deletes the access log entries older than before (all of
// them for a zero before) and returns how many it deleted.
func (s *Store) PruneAccessLog(ctx context.Context, before time.Time) (int, error) {
	return s.prune(ctx, s.accessLog, before)
}

// PruneFailureLog deletes the failure log entries older than before (all of
// them for a zero before) and returns how many it deleted.
func (s *Store) PruneFailureLog(ctx context.Context, before time.Time) (int, error) {
	return s.prune(ctx, s.failureLog, before)
}

func (s *Store) prune(ctx context.Context, table string, before time.Time) (int, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	q, args := s.pruneSQL(table, before)
	n, err := s.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: prune %s: %w", table, err)
	}
	return int(n), nil
}

func (s *Store) pruneSQL(table string, before time.Time) (string, []any) {
	w := &where{d: s.d}
	if !before.IsZero() {
		w.add("attempt_time < ?", encTime(before))
	}
	return "DELETE FROM " + table + w.String(), w.args
}

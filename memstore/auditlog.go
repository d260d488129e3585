package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/goaxes/axes/storage"
)

// LogLogin records a successful login. When the access log is full, the
// entry recorded first is dropped.
func (s *Store) LogLogin(ctx context.Context, e storage.AccessEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.access.push(e)
	return nil
}

// LogLogout sets the logout time of the open login entries of username
// whose session hash equals sessionHash ("" matches entries recorded
// without a session) and returns how many it closed.
func (s *Store) LogLogout(ctx context.Context, username, sessionHash string, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	for i := range s.access.len() {
		e := s.access.at(i)
		if e.Username == username && e.SessionHash == sessionHash && e.LogoutTime.IsZero() {
			e.LogoutTime = at
			n++
		}
	}
	return n, nil
}

// LogFailure records one failed attempt, then keeps at most perUser
// failure entries for its username (0: no cap), dropping those with the
// oldest Time. When the failure log is full, the entry recorded first is
// dropped.
func (s *Store) LogFailure(ctx context.Context, e storage.FailureEntry, perUser int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	if old, full := s.failures.push(e); full {
		s.dropFailureOf(old.Username, 1)
	}
	s.failuresOf[e.Username]++
	if perUser > 0 {
		if excess := s.failuresOf[e.Username] - perUser; excess > 0 {
			s.trimFailuresOf(e.Username, excess)
		}
	}
	return nil
}

func (s *Store) dropFailureOf(username string, n int) {
	if s.failuresOf[username] <= n {
		delete(s.failuresOf, username)
		return
	}
	s.failuresOf[username] -= n
}

// trimFailuresOf removes the n oldest failure entries of username.
func (s *Store) trimFailuresOf(username string, n int) {
	var idx []int
	for i := range s.failures.len() {
		if s.failures.at(i).Username == username {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return s.failures.at(a).Time.Compare(s.failures.at(b).Time)
	})
	drop := make(map[*storage.FailureEntry]bool, n)
	for _, i := range idx[:min(n, len(idx))] {
		drop[s.failures.at(i)] = true
	}
	removed := s.failures.keep(func(e *storage.FailureEntry) bool { return !drop[e] })
	s.dropFailureOf(username, removed)
}

// newestFirst returns the entries of username ("" for every user), newest
// Time first (among equal times, the entry recorded last first), at most
// limit of them (limit <= 0: all).
func newestFirst[E any](entries *ring[E], who func(*E) string, when func(*E) time.Time, username string, limit int) []E {
	var out []E
	for i := entries.len() - 1; i >= 0; i-- {
		if e := entries.at(i); username == "" || who(e) == username {
			out = append(out, *e)
		}
	}
	slices.SortStableFunc(out, func(a, b E) int { return when(&b).Compare(when(&a)) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// AccessLog returns the login entries of username ("" for every user),
// newest first; limit <= 0 means all.
func (s *Store) AccessLog(ctx context.Context, username string, limit int) ([]storage.AccessEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	return newestFirst(&s.access,
		func(e *storage.AccessEntry) string { return e.Username },
		func(e *storage.AccessEntry) time.Time { return e.Time },
		username, limit), nil
}

// FailureLog returns the failure entries of username ("" for every user),
// newest first; limit <= 0 means all.
func (s *Store) FailureLog(ctx context.Context, username string, limit int) ([]storage.FailureEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	return newestFirst(&s.failures,
		func(e *storage.FailureEntry) string { return e.Username },
		func(e *storage.FailureEntry) time.Time { return e.Time },
		username, limit), nil
}

// PruneAccessLog deletes the login entries with Time before before (all of
// them when before is zero) and returns how many it deleted.
func (s *Store) PruneAccessLog(ctx context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	return s.access.keep(func(e *storage.AccessEntry) bool {
		return !before.IsZero() && !e.Time.Before(before)
	}), nil
}

// PruneFailureLog deletes the failure entries with Time before before (all
// of them when before is zero) and returns how many it deleted.
func (s *Store) PruneFailureLog(ctx context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	return s.failures.keep(func(e *storage.FailureEntry) bool {
		if before.IsZero() || e.Time.Before(before) {
			s.dropFailureOf(e.Username, 1)
			return false
		}
		return true
	}), nil
}

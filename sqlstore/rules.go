package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/goaxes/axes/storage"
)

func ruleKey(p netip.Prefix, a storage.Action) string { return string(a) + " " + p.String() }

// PutRule adds or replaces an operator's allow or deny rule.
func (s *Store) PutRule(ctx context.Context, r storage.Rule) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	q := s.d.Upsert(s.rule, []string{"rule_key", "prefix", "action", "reason", "created", "expires"}, "rule_key")
	_, err := s.exec(ctx, q, ruleKey(r.Prefix, r.Action), r.Prefix.String(), string(r.Action), r.Reason,
		encTime(r.Created), encTime(r.Expires))
	if err != nil {
		return fmt.Errorf("sqlstore: put rule: %w", err)
	}
	return nil
}

// DeleteRule removes a rule and reports whether it existed.
func (s *Store) DeleteRule(ctx context.Context, p netip.Prefix, a storage.Action) (bool, error) {
	if err := s.ready(ctx); err != nil {
		return false, err
	}
	q := fmt.Sprintf("DELETE FROM %s WHERE rule_key = %s", s.rule, s.d.Placeholder(1))
	n, err := s.exec(ctx, q, ruleKey(p, a))
	if err != nil {
		return false, fmt.Errorf("sqlstore: delete rule: %w", err)
	}
	return n > 0, nil
}

// Rules returns the rules in force at now, ordered by key.
func (s *Store) Rules(ctx context.Context, now time.Time) ([]storage.Rule, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	q := fmt.Sprintf("SELECT prefix, action, reason, created, expires FROM %s WHERE expires = 0 OR expires > %s ORDER BY rule_key",
		s.rule, s.d.Placeholder(1))
	var out []storage.Rule
	err := s.read(ctx, func(ctx context.Context, db querier) error {
		rows, err := db.QueryContext(ctx, q, encTime(now))
		if err != nil {
			return err
		}
		out, err = scanRules(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: rules: %w", err)
	}
	return out, nil
}

func scanRules(rows *sql.Rows) ([]storage.Rule, error) {
	var out []storage.Rule
	for rows.Next() {
		var (
			prefix, action, reason string
			created, expires       int64
		)
		if err := rows.Scan(&prefix, &action, &reason, &created, &expires); err != nil {
			rows.Close()
			return nil, err
		}
		p, err := netip.ParsePrefix(prefix)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("stored rule prefix %q: %w", prefix, err)
		}
		out = append(out, storage.Rule{Prefix: p, Action: storage.Action(action), Reason: reason,
			Created: decTime(created), Expires: decTime(expires)})
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

package sqlstore

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

// TestQueryPlans checks with EXPLAIN QUERY PLAN that every query on the hot
// path (and the admin filters) searches an index: no full table scan and no
// sort in a temporary b-tree.
func TestQueryPlans(t *testing.T) {
	s, db, _ := newStore(t)
	ctx := context.Background()
	// Realistic rows: IP buckets with their attribution records, username
	// buckets, log entries. Both without statistics (the usual case: nobody
	// runs ANALYZE on this file) and with them.
	g, err := axes.New(s, axes.Config{
		LockoutParameters:      []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}},
		FailureLimit:           1000,
		EnableAccessFailureLog: true,
	}, axes.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 50)})
		tk, err := g.Admit(ctx, axes.Identity{IP: ip, Username: fmt.Sprintf("user%d", i%70)})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			tk.Succeed(ctx)
		} else {
			tk.Fail(ctx)
		}
	}
	for _, analyze := range []bool{false, true} {
		if analyze {
			if _, err := db.Exec("ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(fmt.Sprintf("analyze=%v", analyze), func(t *testing.T) { checkPlans(t, s) })
	}
}

func checkPlans(t *testing.T, s *Store) {
	ctx := context.Background()
	db := s.db
	cut, trim := s.trimSQL()
	accessQ, accessArgs := s.logQuery("attempt_time", s.accessLog, "alice", 10)
	failQ, failArgs := s.logQuery("attempt_time", s.failureLog, "alice", 10)
	purgeQ, purgeArgs := s.purgeSQL(t0)
	pruneQ, pruneArgs := s.pruneSQL(s.failureLog, t0)
	pruneAQ, pruneAArgs := s.pruneSQL(s.accessLog, t0)
	listIP, listIPArgs := s.listSQL(axes.Filter{IP: "192.0.2.1", Now: t0})
	listUser, listUserArgs := s.listSQL(axes.Filter{Username: "alice", Now: t0})
	delIP := s.deleteSQL(axes.Filter{IP: "192.0.2.1", Now: t0})
	delUser := s.deleteSQL(axes.Filter{Username: "alice"})

	for _, c := range []struct {
		name, query string
		args        []any
		index       string // an index the plan must use
		sort        bool   // a sort of the (few) matching rows is fine
	}{
		{"Do: select records", s.selectSQL(3), []any{"a", "b", "c"}, "sqlite_autoindex_axes_attempt_1", false},
		{"Do: delete record", s.deleteKeySQL, []any{"a"}, "sqlite_autoindex_axes_attempt_1", false},
		{"LogLogout", s.logoutSQL(), []any{int64(1), "alice", "h"}, "axes_access_log_username", false},
		{"LogFailure: find the cut", cut, []any{"alice", 1000}, "axes_access_failure_log_username_time", false},
		{"LogFailure: trim", trim, []any{"alice", int64(1), int64(1), int64(1)}, "axes_access_failure_log_username_time", false},
		{"AccessLog(user)", accessQ, accessArgs, "axes_access_log_username_time", false},
		{"FailureLog(user)", failQ, failArgs, "axes_access_failure_log_username_time", false},
		{"Purge", purgeQ, purgeArgs, "axes_attempt_expires_at", false},
		{"PruneFailureLog", pruneQ, pruneArgs, "axes_access_failure_log_time", false},
		{"PruneAccessLog", pruneAQ, pruneAArgs, "axes_access_log_time", false},
		{"List by IP", listIP, listIPArgs, "axes_attempt_ip", true},
		{"List by username", listUser, listUserArgs, "axes_attempt_username", true},
		{"Delete by IP: count", delIP.count.q, delIP.count.args, "axes_attempt_ip", false},
		{"Delete by IP: attribution of deleted", delIP.attr[0].q, delIP.attr[0].args, "axes_attempt_parent", false},
		{"Delete by IP: attribution by IP", delIP.attr[1].q, delIP.attr[1].args, "axes_attempt_ip", false},
		{"Delete by IP: lockout", delIP.lockout.q, delIP.lockout.args, "axes_attempt_ip", false},
		{"Delete by username: attribution of deleted", delUser.attr[0].q, delUser.attr[0].args, "axes_attempt_parent", false},
		{"Delete by username: attribution by username", delUser.attr[1].q, delUser.attr[1].args, "axes_attempt_username", false},
		{"Delete by username: lockout", delUser.lockout.q, delUser.lockout.args, "axes_attempt_username", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.query, c.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, c.query)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "\n")
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") || (!c.sort && strings.Contains(line, "TEMP B-TREE")) {
					t.Errorf("plan has %q\nquery: %s\nplan:\n%s", line, c.query, text)
				}
			}
			if !strings.Contains(text, "INDEX "+c.index+" ") && !strings.HasSuffix(text, "INDEX "+c.index) {
				t.Errorf("plan does not use %s\nquery: %s\nplan:\n%s", c.index, c.query, text)
			}
		})
	}
}

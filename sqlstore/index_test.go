package sqlstore

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goaxes/axes/storage"
)

// TestQueryPlans checks with EXPLAIN QUERY PLAN that every query on the hot
// path (and the admin filters) searches an index: no full table scan and no
// sort in a temporary b-tree.
func TestQueryPlans(t *testing.T) {
	s, db, _ := newStore(t)
	// Realistic rows: IP buckets with users' shares, username buckets, log
	// entries. Both without statistics (the usual case: nobody runs ANALYZE
	// on this file) and with them.
	p := policy(1000, time.Hour)
	ctx := context.Background()
	for i := range 200 {
		ip := ipBucket(netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 50)}).String())
		user := fmt.Sprintf("user%d", i%70)
		ub := userBucket(user)
		as := do(t, s, op(ip, storage.Admit, us0, p), op(ub, storage.Admit, us0, p))
		if i%3 == 0 {
			do(t, s, held(ip, storage.Take, us0, p, as[0].Slot, user), held(ub, storage.Clear, us0, p, as[1].Slot, ""))
			s.LogLogin(ctx, storage.AccessEntry{Time: t0, Username: user, IP: ip.IP, SessionHash: "h"})
		} else {
			do(t, s, held(ip, storage.Fail, us0, p, as[0].Slot, user), held(ub, storage.Fail, us0, p, as[1].Slot, ""))
			s.LogFailure(ctx, storage.FailureEntry{Time: t0, Username: user, IP: ip.IP}, 100)
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
	listIP, listIPArgs := s.listSQL(storage.Filter{IP: "192.0.2.1"})
	listUser, listUserArgs := s.listSQL(storage.Filter{Username: "alice"})
	listShareIP, listShareIPArgs := s.listSQL(storage.Filter{IP: "192.0.2.1", ShareOf: "alice"})
	insertArgs := []any{"k", "ip_address", "192.0.2.1", "", "", 1, 1, 0, 0, 0, "", 0}
	updateArgs := []any{1, 1, 0, 0, 0, "", 0, "k"}

	for _, c := range []struct {
		name, query string
		args        []any
		index       string // an index the plan must use ("": none, for an INSERT)
		sort        bool   // a sort of the (few) matching rows is fine
	}{
		{"Do: read the batch", s.selectSQL(3), []any{"a", "b", "c"}, "sqlite_autoindex_axes_attempt_1", false},
		{"Do: insert a bucket (upsert)", s.insertSQL, insertArgs, "", false},
		{"Do: update a bucket", s.updateSQL, updateArgs, "sqlite_autoindex_axes_attempt_1", false},
		{"Do: delete a bucket", s.deleteKeySQL, []any{"a"}, "sqlite_autoindex_axes_attempt_1", false},
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
		{"List shares of a user at an IP", listShareIP, listShareIPArgs, "axes_attempt_ip", true},
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
			if c.index != "" && !strings.Contains(text, "INDEX "+c.index+" ") && !strings.HasSuffix(text, "INDEX "+c.index) {
				t.Errorf("plan does not use %s\nquery: %s\nplan:\n%s", c.index, c.query, text)
			}
		})
	}
}

package main

// Acceptance tests of issue 7 over real HTTP: an attempt that finds every
// place left in a bucket held by checks in flight waits for one
// (Config.MaxWait) instead of being refused, and a store that fails or
// times out (Config.StoreTimeout) is answered by the outage policy
// (Config.FailOpen). The bursts run against the demo's handler (newHarness)
// on a memstore, on a SQLite file, and on two demo instances that share
// one SQLite file; the outage runs the real command, "axes demo".

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
	"github.com/goaxes/axes/sqlstore"
	"github.com/goaxes/axes/storage"
)

// waitSetup is one way to serve the demo for a burst: one instance or more,
// over one store. Each harness has its own guard; instances of one set-up
// share their store's data. The bursts of a test run one set-up at a time:
// SQLite has one writer, and three bursts of 200 at once under -race on a
// 2-core machine queue store calls past the 2 s store deadline.
type waitSetup struct {
	name string
	open func(t *testing.T, cfg axes.Config) []*harness
}

var waitSetups = []waitSetup{
	{"memstore", func(t *testing.T, cfg axes.Config) []*harness {
		return []*harness{newHarness(t, storeKinds[0], cfg)}
	}},
	{"sqlite", func(t *testing.T, cfg axes.Config) []*harness {
		return []*harness{newHarness(t, storeKinds[1], cfg)}
	}},
	{"sqlite_two_instances", func(t *testing.T, cfg axes.Config) []*harness {
		// Two guards, each with its own connection pool, on one file: as
		// two processes of one application. Neither is woken by the
		// other's settlements; it finds them by polling.
		path := filepath.Join(t.TempDir(), "shared.db")
		shared := storeKind{"sqlite_shared", func(t *testing.T) storage.Store { return openSQLite(t, path) }}
		return []*harness{newHarness(t, shared, cfg), newHarness(t, shared, cfg)}
	}},
}

// checks is the number of password checks the demos of hs ran.
func checks(hs []*harness) int64 {
	var n int64
	for _, h := range hs {
		n += h.demo.checks.Load()
	}
	return n
}

// shot is one login attempt of a volley.
type shot struct {
	site *site
	user string
	good bool
	ip   string
}

// volley sends every shot at once and returns how many answers each user
// got of each status.
func volley(t *testing.T, shots []shot) map[string]map[int]int {
	t.Helper()
	type answer struct {
		user   string
		status int
	}
	answers := make(chan answer, len(shots))
	errs := make(chan error, len(shots))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, sh := range shots {
		pw := wrongPassword
		if sh.good {
			pw = testPasswords[sh.user]
		}
		form := url.Values{"username": {sh.user}, "password": {pw}}.Encode()
		c := sh.site.client(sh.ip)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, err := http.NewRequest(http.MethodPost, sh.site.base+"/login", strings.NewReader(form))
			if err != nil {
				errs <- err
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("User-Agent", "UA1")
			resp, err := c.Do(req)
			if err != nil {
				errs <- fmt.Errorf("%s from %s: %w", sh.user, sh.ip, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answers <- answer{sh.user, resp.StatusCode}
		}()
	}
	close(start)
	wg.Wait()
	close(answers)
	close(errs)
	for err := range errs {
		t.Errorf("volley request: %v", err)
	}
	got := map[string]map[int]int{}
	for a := range answers {
		if got[a.user] == nil {
			got[a.user] = map[int]int{}
		}
		got[a.user][a.status]++
	}
	return got
}

// total adds up the statuses of every user.
func total(got map[string]map[int]int) map[int]int {
	sum := map[int]int{}
	for _, m := range got {
		for st, n := range m {
			sum[st] += n
		}
	}
	return sum
}

// noneInFlight checks that no bucket of the shared store holds a place
// once every answer is in.
func noneInFlight(t *testing.T, h *harness) {
	t.Helper()
	for _, r := range h.records(t, axes.Filter{}) {
		if r.InFlight != 0 {
			t.Errorf("bucket %s: %d tickets in flight after the burst, want 0", r.Bucket.Key, r.InFlight)
		}
	}
}

// TestAcceptWaitNATLogins: with the default policy (three failures per
// address), 50 users behind one address log in at the same moment, alice
// and bob alternating. Only three checks may run at once for the address;
// the others wait for a place and get in: 50×200, 50 checks, nothing
// counted and nothing left in flight.
func TestAcceptWaitNATLogins(t *testing.T) {
	cfg := envConfig(t, map[string]string{}).core
	for _, ws := range waitSetups {
		t.Run(ws.name, func(t *testing.T) {
			hs := ws.open(t, cfg)
			const n = 50
			shots := make([]shot, n)
			for i := range shots {
				user := "alice"
				if i%2 == 1 {
					user = "bob"
				}
				// With two instances, each gets both users.
				shots[i] = shot{site: hs[(i/2)%len(hs)].site, user: user, good: true, ip: IP1}
			}
			began := time.Now()
			got := volley(t, shots)
			took := time.Since(began)
			if sum := total(got); sum[http.StatusOK] != n || len(sum) != 1 {
				t.Errorf("statuses %v (alice %v, bob %v), want %d×200", sum, got["alice"], got["bob"], n)
			}
			if c := checks(hs); c != n {
				t.Errorf("password checks: %d, want %d", c, n)
			}
			hs[0].wantNoRecords(t)
			t.Logf("%d logins: %v in %v", n, total(got), took)
		})
	}
}

// TestAcceptWaitGuessBurst: 200 wrong guesses at once against one bucket
// with limit 3. Three are checked; the first two failures answer 401, the
// third locks and answers 429, and every other guess waits and is then
// refused (or, past MaxWaiters, is refused at once): 2×401, 198×429, at
// most three checks, on every set-up.
func TestAcceptWaitGuessBurst(t *testing.T) {
	cfg := envConfig(t, map[string]string{"AXES_FAILURE_LIMIT": "3"}).core
	for _, ws := range waitSetups {
		t.Run(ws.name, func(t *testing.T) {
			hs := ws.open(t, cfg)
			const n = 200
			shots := make([]shot, n)
			for i := range shots {
				shots[i] = shot{site: hs[i%len(hs)].site, user: "alice", ip: IP1}
			}
			began := time.Now()
			got := total(volley(t, shots))
			took := time.Since(began)
			if got[http.StatusUnauthorized] != 2 || got[http.StatusTooManyRequests] != n-2 || len(got) != 2 {
				t.Errorf("statuses %v, want 2×401 and %d×429", got, n-2)
			}
			if c := checks(hs); c > 3 {
				t.Errorf("password checks: %d, want at most 3", c)
			}
			hs[0].wantBurstRecord(t, axes.Filter{IP: IP1}, 3, n)
			t.Logf("%d guesses: %v, %d checks, in %v", n, got, checks(hs), took)
		})
	}
}

// TestAcceptWaitMixedBurst: with AXES_LOCKOUT_PARAMETERS=username, an
// attacker's 100 wrong guesses for alice and bob's 20 right logins arrive
// at once from one address. Bob's bucket is not alice's: bob waits only
// for his own checks and gets 20×200, while alice's password is checked at
// most three times (2×401, the rest 429).
func TestAcceptWaitMixedBurst(t *testing.T) {
	cfg := envConfig(t, map[string]string{"AXES_LOCKOUT_PARAMETERS": "username"}).core
	for _, ws := range waitSetups {
		t.Run(ws.name, func(t *testing.T) {
			hs := ws.open(t, cfg)
			const guesses, logins = 100, 20
			var shots []shot
			for i := range guesses + logins {
				s := hs[i%len(hs)].site
				if i%6 == 5 { // one in six is bob's: 20 of 120
					shots = append(shots, shot{site: s, user: "bob", good: true, ip: IP1})
				} else {
					shots = append(shots, shot{site: s, user: "alice", ip: IP1})
				}
			}
			began := time.Now()
			got := volley(t, shots)
			took := time.Since(began)
			if b := got["bob"]; b[http.StatusOK] != logins || len(b) != 1 {
				t.Errorf("bob: statuses %v, want %d×200", b, logins)
			}
			a := got["alice"]
			if a[http.StatusUnauthorized] != 2 || a[http.StatusTooManyRequests] != guesses-2 || len(a) != 2 {
				t.Errorf("alice: statuses %v, want 2×401 and %d×429", a, guesses-2)
			}
			// Every check of bob's answered 200, so the rest are alice's.
			aliceChecks := checks(hs) - int64(got["bob"][http.StatusOK])
			if aliceChecks > 3 {
				t.Errorf("alice's password checks: %d, want at most 3", aliceChecks)
			}
			hs[0].wantBurstRecord(t, axes.Filter{Username: "alice"}, 3, guesses)
			if recs := hs[0].records(t, axes.Filter{Username: "bob"}); len(recs) != 0 {
				t.Errorf("bob's records: %s, want none", fmtRecords(recs))
			}
			noneInFlight(t, hs[0])
			t.Logf("alice %v (%d checks), bob %v, in %v", a, aliceChecks, got["bob"], took)
		})
	}
}

// exclusiveLock holds an EXCLUSIVE transaction on the SQLite file at path,
// on a connection of the test's own, until the returned function ends it.
func exclusiveLock(t *testing.T, path string) (release func()) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		t.Fatalf("connect to %s: %v", path, err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		conn.Close()
		db.Close()
		t.Fatalf("BEGIN EXCLUSIVE on %s: %v", path, err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Errorf("ROLLBACK: %v", err)
		}
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

// timedPost sends a and returns the answer and how long it took. A login
// that gets no answer within outageBound is reported and answers status 0,
// so that a hanging store fails the test rather than stalls it.
func timedPost(t *testing.T, s *site, a attempt) (response, time.Duration) {
	t.Helper()
	pw := wrongPassword
	if a.good {
		pw = testPasswords[a.user]
	}
	ctx, cancel := context.WithTimeout(context.Background(), outageBound)
	defer cancel()
	form := url.Values{"username": {a.user}, "password": {pw}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/login", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "UA1")
	began := time.Now()
	resp, err := s.client(a.ip).Do(req)
	if err != nil {
		took := time.Since(began)
		t.Errorf("%v: no answer after %v: %v", a, took.Round(time.Millisecond), err)
		return response{}, took
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("%v: read body: %v", a, err)
	}
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}, time.Since(began)
}

// outageBound is how long a login may take while the store hangs: the
// store deadline (300ms) for the admission, plus a generous margin for a
// bcrypt check and a loaded CI machine.
const outageBound = 5 * time.Second

// TestAcceptWaitSQLiteOutage runs "axes demo" on a SQLite file with
// AXES_STORE_TIMEOUT=300ms while another connection holds an EXCLUSIVE
// lock on the file. Fail closed (the default), logins answer 503 within
// the deadline, the log says "the store is failing" once for all of them,
// and once the lock is released a login goes through without a restart.
// With AXES_FAIL_OPEN=true, the login is checked while the lock is held.
func TestAcceptWaitSQLiteOutage(t *testing.T) {
	t.Run("fail_closed", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "axes.db")
		base, stop := startDemo(t, map[string]string{
			"AXES_STORE":         "sqlite:" + path,
			"AXES_STORE_TIMEOUT": "300ms",
		})
		s := newSite(base, axes.Config{}, httpaxes.Config{}, nil)
		defer s.close()

		release := exclusiveLock(t, path)
		const refused = 4
		for i := range refused {
			a := good("alice", IP1, OK)
			if i%2 == 1 {
				a = bad("bob", IP2, FAIL)
			}
			r, took := timedPost(t, s, a)
			if r.status != 0 && r.status != http.StatusServiceUnavailable {
				t.Errorf("login %d (%v) while the file is locked: %d %q, want 503", i+1, a, r.status, strings.TrimSpace(r.body))
			}
			t.Logf("login %d (%v) while locked: %d in %v", i+1, a, r.status, took)
		}
		release()

		r, took := timedPost(t, s, good("alice", IP1, OK))
		if r.status != 0 && (r.status != http.StatusOK || r.body != "Welcome, alice.\n") {
			t.Errorf("login after the lock was released: %d %q, want 200 Welcome, alice.", r.status, r.body)
		}
		t.Logf("login after release: %d in %v", r.status, took)

		code, log := stop()
		if code != exitOK {
			t.Errorf("axes demo exit code %d, want 0; log:\n%s", code, log)
		}
		if n := strings.Count(log, "the store is failing"); n != 1 {
			t.Errorf("%d lines say \"the store is failing\" for %d refused logins, want 1; log:\n%s", n, refused, log)
		}
		if !strings.Contains(log, "logins are refused (fail closed)") {
			t.Errorf("the log does not say that logins are refused:\n%s", log)
		}
		// httpaxes logs at most once per 10 s; the refusals take about a
		// second, but a slow machine may stretch them past one interval.
		if n := strings.Count(log, "cannot guard the login"); n < 1 || n > 2 {
			t.Errorf("%d lines say \"cannot guard the login\", want 1 (2 at most on a slow machine); log:\n%s", n, log)
		}
	})

	t.Run("fail_open", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "axes.db")
		base, stop := startDemo(t, map[string]string{
			"AXES_STORE":         "sqlite:" + path,
			"AXES_STORE_TIMEOUT": "300ms",
			"AXES_FAIL_OPEN":     "true",
		})
		s := newSite(base, axes.Config{}, httpaxes.Config{}, nil)
		defer s.close()

		release := exclusiveLock(t, path)
		// The admission and the settlement each wait for the deadline:
		// twice 300ms and the check stay well within the bound.
		r, took := timedPost(t, s, good("alice", IP1, OK))
		if r.status != 0 && (r.status != http.StatusOK || r.body != "Welcome, alice.\n") {
			t.Errorf("right password while the file is locked: %d %q, want 200 Welcome, alice.", r.status, r.body)
		}
		t.Logf("right password while locked: %d in %v", r.status, took)
		r, took = timedPost(t, s, bad("bob", IP2, FAIL))
		if r.status != 0 && r.status != http.StatusUnauthorized {
			t.Errorf("wrong password while the file is locked: %d %q, want 401", r.status, strings.TrimSpace(r.body))
		}
		t.Logf("wrong password while locked: %d in %v", r.status, took)
		release()

		r, _ = timedPost(t, s, good("bob", IP2, OK))
		if r.status != 0 && r.status != http.StatusOK {
			t.Errorf("login after the lock was released: %d %q, want 200", r.status, strings.TrimSpace(r.body))
		}
		code, log := stop()
		if code != exitOK {
			t.Errorf("axes demo exit code %d, want 0; log:\n%s", code, log)
		}
		if n := strings.Count(log, "the store is failing"); n != 1 {
			t.Errorf("%d lines say \"the store is failing\", want 1; log:\n%s", n, log)
		}
		if !strings.Contains(log, "fail open") {
			t.Errorf("the log does not say that logins are let through:\n%s", log)
		}
	})
}

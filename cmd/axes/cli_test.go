package main

// Tests of the operator commands (check, list, explain, reset, reset-logs,
// reset-failure-logs, prune, allow, deny, config), run in-process through
// runWith with a fixed clock, against SQLite files seeded through a Guard.
// Outputs are compared with golden files in testdata/; go test -update
// rewrites them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
	"github.com/goaxes/axes/memstore"
	"github.com/goaxes/axes/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// cliNow is the commands' clock in these tests.
var cliNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// seedConfig is the configuration of the seeded stores: IP buckets and
// username+IP buckets, a one-hour cool-off, and a failure log.
const seedConfig = `{
  "cooloff_time": "1h",
  "lockout_parameters": "ip_address,username+ip_address",
  "enable_access_failure_log": true
}`

// fixture is a seeded SQLite store and the configuration file it was
// seeded with; commands run against it with AXES_STORE and AXES_CONFIG.
type fixture struct {
	dir, dsn, config string
}

func (f fixture) env(extra ...string) map[string]string {
	m := map[string]string{"AXES_STORE": f.dsn, "AXES_CONFIG": f.config}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// newFixture creates a migrated SQLite store in a temporary directory and,
// with seed, records this history through a Guard:
//
//	-40d and -10d  carol logs in from 10.0.0.3, then fails once (forgotten after 1h)
//	-20m..-18m     alice fails 3 times from 10.0.0.1: locked until 12:42
//	-5m            bob fails once from 10.0.0.2
func newFixture(t *testing.T, seed bool) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{dir: dir, dsn: "sqlite:" + filepath.Join(dir, "axes.db"), config: filepath.Join(dir, "axes.json")}
	if err := os.WriteFile(f.config, []byte(seedConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := openStore(t.Context(), f.dsn, true)
	if err != nil {
		t.Fatalf("open %s: %v", f.dsn, err)
	}
	defer s.Close()
	if !seed {
		return f
	}
	var cfg axes.Config
	if err := cfg.LoadFile(f.config); err != nil {
		t.Fatal(err)
	}
	clock := cliNow
	g, err := axes.New(s, cfg, axes.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	attempt := func(at time.Duration, ip, user string, ok bool) {
		t.Helper()
		clock = cliNow.Add(at)
		id := axes.Identity{IP: netip.MustParseAddr(ip), Username: user, UserAgent: "curl/8.0", Path: "/login"}
		if _, err := g.Authenticate(t.Context(), id, func(context.Context) (bool, error) { return ok, nil }); err != nil {
			t.Fatalf("seed %s %s at %s: %v", ip, user, at, err)
		}
	}
	day := 24 * time.Hour
	attempt(-40*day, "10.0.0.3", "carol", true)
	attempt(-40*day+time.Minute, "10.0.0.3", "carol", false)
	attempt(-10*day, "10.0.0.3", "carol", true)
	attempt(-10*day+time.Minute, "10.0.0.3", "carol", false)
	attempt(-20*time.Minute, "10.0.0.1", "alice", false)
	attempt(-19*time.Minute, "10.0.0.1", "alice", false)
	attempt(-18*time.Minute, "10.0.0.1", "Alice", false)
	attempt(-5*time.Minute, "10.0.0.2", "bob", false)
	return f
}

// result is what one run of the command printed.
type result struct {
	code           int
	stdout, stderr string
}

// axesRun runs the command in-process with the fixed clock and only the
// given environment.
func axesRun(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	return axesRunWith(t, options{now: func() time.Time { return cliNow }}, vars, args...)
}

func axesRunWith(t *testing.T, o options, vars map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	code := runWith(t.Context(), args, lookup, &stdout, &stderr, o)
	return result{code, stdout.String(), stderr.String()}
}

func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

// golden compares got with testdata/NAME.golden, after replacing dir (a
// temporary directory) with $TMP.
func golden(t *testing.T, name, got, dir string) {
	t.Helper()
	if dir != "" {
		got = strings.ReplaceAll(got, dir, "$TMP")
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t, false)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"check_clean", f.env(), nil, exitOK},
		{"check_memory", map[string]string{"AXES_STORE": "memory:"}, nil, exitOK},
		{"check_memory_strict", map[string]string{"AXES_STORE": "memory:"}, []string{"--strict"}, exitFail},
		{"check_memory_silenced", map[string]string{"AXES_STORE": "memory:", "AXES_SILENCED_CHECKS": "axes.W001"}, []string{"--strict"}, exitOK},
		// A configuration the guard refuses: check still reports everything.
		{"check_invalid", f.env("AXES_FAILURE_LIMIT", "0", "AXES_LOCKOUT_PARAMETERS", "username", "AXES_COOLOFF_TIME", "2",
			"AXES_ONLY_USER_FAILURES", "true", "AXES_IPWARE_META_PRECEDENCE_ORDER", "X-Real-IP"), []string{"--cooloff-time", "0"}, exitFail},
		{"check_invalid_silenced", f.env("AXES_LOCKOUT_PARAMETERS", "username", "AXES_SILENCED_CHECKS", "axes.W006,axes.W104,axes.W999"), nil, exitOK},
		// A hop count believes the header from any peer unless the
		// trusted proxies are named too.
		{"check_proxy_count", f.env("AXES_IPWARE_PROXY_COUNT", "1"), nil, exitOK},
		{"check_proxy_count_trusted", f.env("AXES_IPWARE_PROXY_COUNT", "1", "AXES_IPWARE_PROXY_TRUSTED_IPS", "10.0.0.1"), nil, exitOK},
		{"check_missing_file", map[string]string{"AXES_STORE": "sqlite:" + filepath.Join(f.dir, "none.db")}, nil, exitFail},
		{"check_bad_scheme", map[string]string{"AXES_STORE": "oracle:scott:tiger@db"}, nil, exitFail},
		{"check_list", nil, []string{"--list"}, exitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := axesRun(t, tc.env, append([]string{"check"}, tc.args...)...).want(t, tc.code)
			golden(t, tc.name, r.stdout, f.dir)
		})
	}

	t.Run("silenced_codes_disappear", func(t *testing.T) {
		loud := axesRun(t, f.env("AXES_LOCKOUT_PARAMETERS", "username"), "check").stdout
		quiet := axesRun(t, f.env("AXES_LOCKOUT_PARAMETERS", "username", "AXES_SILENCED_CHECKS", "axes.W006"), "check").stdout
		if !strings.Contains(loud, "axes.W006") || strings.Contains(quiet, "axes.W006") {
			t.Errorf("axes.W006 not silenced:\nloud:\n%s\nquiet:\n%s", loud, quiet)
		}
		if !strings.Contains(quiet, "(1 silenced)") {
			t.Errorf("the count of silenced findings is missing:\n%s", quiet)
		}
	})

	t.Run("json", func(t *testing.T) {
		r := axesRun(t, f.env("AXES_FAILURE_LIMIT", "0", "AXES_LOCKOUT_PARAMETERS", "username"), "check", "--json").want(t, exitFail)
		var got []struct{ Code, Level, Message, Hint string }
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("check --json is not a JSON array of findings: %v\n%s", err, r.stdout)
		}
		levels := map[string]string{}
		for _, f := range got {
			levels[f.Code] = f.Level
			if f.Message == "" || f.Hint == "" {
				t.Errorf("finding %+v lacks a message or hint", f)
			}
		}
		if levels["axes.W005"] != "error" || levels["axes.W006"] != "warning" {
			t.Errorf("levels %v, want axes.W005 error and axes.W006 warning", levels)
		}
		r = axesRun(t, f.env(), "check", "--json").want(t, exitOK)
		if strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("no findings: got %q, want []", r.stdout)
		}
	})

	t.Run("schema_missing", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.db")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		r := axesRun(t, map[string]string{"AXES_STORE": "sqlite:" + empty}, "check").want(t, exitFail)
		if !strings.Contains(r.stdout, "axes.E102 (error)") || !strings.Contains(r.stdout, "axes migrate --store sqlite:"+empty) {
			t.Errorf("check on a database without schema:\n%s", r.stdout)
		}
	})
}

func TestListExplain(t *testing.T) {
	f := newFixture(t, true)
	cases := []struct {
		name string
		args []string
	}{
		{"list", []string{"list"}},
		{"list_locked", []string{"list", "--locked"}},
		{"list_username", []string{"list", "--username", "ALICE"}},
		{"list_ip_json", []string{"list", "--ip", "10.0.0.2", "--json"}},
		{"list_none", []string{"list", "--ip", "192.0.2.1"}},
		{"explain_ip_username", []string{"explain", "10.0.0.1", "alice"}},
		{"explain_username_ip", []string{"explain", "alice", "10.0.0.1"}},
		{"explain_ip", []string{"explain", "10.0.0.1"}},
		{"explain_username", []string{"explain", "alice"}},
		{"explain_bob", []string{"explain", "10.0.0.2", "bob"}},
		{"explain_json", []string{"explain", "--json", "10.0.0.1", "alice"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := axesRun(t, f.env(), tc.args...).want(t, exitOK)
			golden(t, tc.name, r.stdout, f.dir)
		})
	}
	t.Run("explain_json_parses", func(t *testing.T) {
		r := axesRun(t, f.env(), "explain", "--json", "10.0.0.1", "alice").want(t, exitOK)
		var ex explainJSON
		if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Verdict != "locked" || len(ex.Buckets) != 2 || !ex.Buckets[0].Locked || ex.Buckets[0].Failures != 3 {
			t.Errorf("explain 10.0.0.1 alice: %+v", ex)
		}
		wantUntil := cliNow.Add(-18*time.Minute + time.Hour)
		if !ex.Buckets[0].LockedUntil.Equal(wantUntil) {
			t.Errorf("locked until %s, want %s", ex.Buckets[0].LockedUntil, wantUntil)
		}
	})
	t.Run("usage", func(t *testing.T) {
		r := axesRun(t, f.env(), "explain").want(t, exitUsage)
		if !strings.Contains(r.stderr, "missing argument") {
			t.Errorf("stderr %q", r.stderr)
		}
		r = axesRun(t, f.env(), "explain", "alice", "bob").want(t, exitUsage)
		if !strings.Contains(r.stderr, `"alice" and "bob"`) {
			t.Errorf("stderr %q", r.stderr)
		}
		r = axesRun(t, f.env(), "list", "--ip", "10.0.0.300").want(t, exitUsage)
		if !strings.Contains(r.stderr, "10.0.0.300") {
			t.Errorf("stderr %q does not name the bad address", r.stderr)
		}
	})
}

func TestReset(t *testing.T) {
	f := newFixture(t, true)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"reset", "--ip", "192.0.2.1"}, "No attempts found.\n"},
		{[]string{"reset", "--ip", "10.0.0.2", "--username", "alice"}, "No attempts found.\n"}, // AND
		// alice's pair bucket, and her 3 failures in the 10.0.0.1 bucket.
		{[]string{"reset", "--username", "Alice"}, "2 attempts removed.\n"},
		{[]string{"reset", "--username", "alice"}, "No attempts found.\n"},
		{[]string{"reset", "--ip", "10.0.0.1"}, "No attempts found.\n"},
		// bob's IP bucket and pair bucket; carol's expired records go
		// uncounted.
		{[]string{"reset"}, "2 attempts removed.\n"},
		{[]string{"reset"}, "No attempts found.\n"},
	}
	for i, s := range steps {
		if i == 3 {
			// alice is no longer locked from 10.0.0.1.
			r := axesRun(t, f.env(), "explain", "--json", "10.0.0.1", "alice").want(t, exitOK)
			var ex explainJSON
			if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil {
				t.Fatal(err)
			}
			if ex.Verdict != "allowed" {
				t.Errorf("after reset --username alice: verdict %s, want allowed", ex.Verdict)
			}
		}
		r := axesRun(t, f.env(), s.args...).want(t, exitOK)
		if r.stdout != s.want {
			t.Errorf("axes %s: %q, want %q", strings.Join(s.args, " "), r.stdout, s.want)
		}
	}
	if r := axesRun(t, f.env(), "list").want(t, exitOK); r.stdout != "No attempts found.\n" {
		t.Errorf("list after reset: %q", r.stdout)
	}
}

// TestResetIP: an address's reset removes every bucket of the address (the
// README's example).
func TestResetIP(t *testing.T) {
	f := newFixture(t, true)
	for _, want := range []string{"2 attempts removed.\n", "No attempts found.\n"} {
		if r := axesRun(t, f.env(), "reset", "--ip", "10.0.0.1").want(t, exitOK); r.stdout != want {
			t.Errorf("axes reset --ip 10.0.0.1: %q, want %q", r.stdout, want)
		}
	}
	r := axesRun(t, f.env(), "list").want(t, exitOK)
	if strings.Contains(r.stdout, "10.0.0.1") || !strings.Contains(r.stdout, "10.0.0.2") {
		t.Errorf("list after reset --ip 10.0.0.1:\n%s", r.stdout)
	}
}

func TestResetLogsAndPrune(t *testing.T) {
	f := newFixture(t, true)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"reset-logs"}, "1 logs removed.\n"}, // the -40d login
		{[]string{"reset-logs", "--age", "30"}, "No logs found.\n"},
		{[]string{"reset-logs", "--age", "11"}, "No logs found.\n"},
		{[]string{"reset-logs", "--age", "9"}, "1 logs removed.\n"}, // -10d
		{[]string{"reset-failure-logs", "--age", "30"}, "1 logs removed.\n"},
		{[]string{"reset-failure-logs", "--age", "1"}, "1 logs removed.\n"},
		{[]string{"reset-failure-logs", "--age", "0"}, "4 logs removed.\n"},
		{[]string{"reset-failure-logs", "--age", "0"}, "No logs found.\n"},
		// carol's buckets (her IP bucket, with her share in it, and her
		// pair bucket) were forgotten an hour after -10d.
		{[]string{"prune"}, "2 expired records removed.\n"},
		{[]string{"prune"}, "No expired records found.\n"},
	}
	for _, s := range steps {
		r := axesRun(t, f.env(), s.args...).want(t, exitOK)
		if r.stdout != s.want {
			t.Errorf("axes %s: %q, want %q", strings.Join(s.args, " "), r.stdout, s.want)
		}
	}
	r := axesRun(t, f.env(), "reset-logs", "--age", "-1").want(t, exitUsage)
	if !strings.Contains(r.stderr, "--age -1") {
		t.Errorf("stderr %q", r.stderr)
	}
}

// guardStatus opens the store afresh, as another instance would, and asks
// a guard for the verdict on ip.
func guardStatus(t *testing.T, dsn, ip string) axes.Verdict {
	t.Helper()
	s, err := openStore(t.Context(), dsn, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, err := axes.New(s, axes.Config{}, axes.WithClock(func() time.Time { return cliNow }))
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.Status(t.Context(), axes.Identity{IP: netip.MustParseAddr(ip)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Verdict
}

func TestRulesPersist(t *testing.T) {
	f := newFixture(t, true)
	env := f.env()
	run := func(want string, args ...string) {
		t.Helper()
		r := axesRun(t, env, args...).want(t, exitOK)
		if r.stdout != want {
			t.Errorf("axes %s:\n%s\nwant:\n%s", strings.Join(args, " "), r.stdout, want)
		}
	}
	if v := guardStatus(t, f.dsn, "10.0.0.7"); v != axes.Allowed {
		t.Fatalf("before: verdict %s", v)
	}
	run("Added deny rule for 10.0.0.0/24 (expires 2025-06-01T13:00:00Z).\n", "deny", "add", "10.0.0.7/24", "--ttl", "1h", "--reason", "credential stuffing")
	if v := guardStatus(t, f.dsn, "10.0.0.7"); v != axes.Denied {
		t.Errorf("after deny add: verdict %s, want denied", v)
	}
	run("Added allow rule for 10.0.0.1 (until removed).\n", "allow", "add", "--reason", "office", "10.0.0.1")
	run("Replaced allow rule for 10.0.0.1 (until removed).\n", "allow", "add", "10.0.0.1", "--reason", "office NAT")
	r := axesRun(t, env, "deny", "list").want(t, exitOK)
	golden(t, "deny_list", r.stdout, f.dir)
	r = axesRun(t, env, "allow", "list", "--json").want(t, exitOK)
	golden(t, "allow_list_json", r.stdout, f.dir)
	r = axesRun(t, env, "explain", "10.0.0.1", "alice").want(t, exitOK)
	golden(t, "explain_denied", r.stdout, f.dir) // deny wins over allow
	run("Removed deny rule for 10.0.0.0/24.\n", "deny", "remove", "10.0.0.0/24")
	run("No deny rule for 10.0.0.0/24.\n", "deny", "remove", "10.0.0.0/24")
	if v := guardStatus(t, f.dsn, "10.0.0.7"); v != axes.Allowed {
		t.Errorf("after deny remove: verdict %s, want allowed", v)
	}
	r = axesRun(t, env, "explain", "10.0.0.1", "alice").want(t, exitOK)
	if !strings.Contains(r.stdout, "Verdict:  allowed") || !strings.Contains(r.stdout, "allow rule") {
		t.Errorf("explain with an allow rule:\n%s", r.stdout)
	}
	run("No deny rules.\n", "deny", "list")

	// A rule with a TTL ends by itself.
	run("Added deny rule for 192.0.2.0/24 (expires 2025-06-01T12:30:00Z).\n", "deny", "add", "192.0.2.0/24", "--ttl", "30m")
	later := options{now: func() time.Time { return cliNow.Add(time.Hour) }}
	if r := axesRunWith(t, later, env, "deny", "list").want(t, exitOK); r.stdout != "No deny rules.\n" {
		t.Errorf("deny list an hour later: %q", r.stdout)
	}

	for _, bad := range [][]string{{"deny", "add", "10.0.0.300"}, {"allow", "remove", "10.0.0.0/33"}, {"deny", "add", "example.com"}} {
		r := axesRun(t, env, bad...).want(t, exitUsage)
		if !strings.Contains(r.stderr, bad[2]) {
			t.Errorf("axes %s: stderr %q does not name the argument", strings.Join(bad, " "), r.stderr)
		}
	}
	axesRun(t, env, "deny", "frobnicate").want(t, exitUsage)
	axesRun(t, env, "deny", "add").want(t, exitUsage)
	axesRun(t, env, "deny", "add", "10.0.0.1", "--ttl", "2").want(t, exitUsage)
}

// shared opens the same memory store for every run of one test, as one
// process would keep it.
func shared(s *memstore.Store) func(context.Context, string) (storage.Store, error) {
	return func(context.Context, string) (storage.Store, error) { return keepOpen{s}, nil }
}

// keepOpen is a memstore that the command's Close leaves open.
type keepOpen struct{ *memstore.Store }

func (keepOpen) Close() error { return nil }

// ruleless is a store without RuleStore.
type ruleless struct{ storage.Store }

func TestRulesMemory(t *testing.T) {
	ms := memstore.New()
	t.Cleanup(func() { ms.Close() })
	o := options{now: func() time.Time { return cliNow }, open: shared(ms)}
	env := map[string]string{"AXES_STORE": "memory:"}
	g, err := axes.New(ms, axes.Config{}, axes.WithClock(func() time.Time { return cliNow }), axes.WithRuleRefresh(0))
	if err != nil {
		t.Fatal(err)
	}
	status := func() axes.Verdict {
		res, err := g.Status(t.Context(), axes.Identity{IP: netip.MustParseAddr("2001:db8::1")})
		if err != nil {
			t.Fatal(err)
		}
		return res.Verdict
	}
	axesRunWith(t, o, env, "deny", "add", "2001:db8::/32").want(t, exitOK)
	if v := status(); v != axes.Denied {
		t.Errorf("after deny add: %s", v)
	}
	axesRunWith(t, o, env, "deny", "remove", "2001:db8::/32").want(t, exitOK)
	if v := status(); v != axes.Allowed {
		t.Errorf("after deny remove: %s", v)
	}

	o.open = func(context.Context, string) (storage.Store, error) { return ruleless{memstore.New()}, nil }
	for _, args := range [][]string{{"deny", "add", "10.0.0.1"}, {"allow", "remove", "10.0.0.1"}, {"deny", "list"}} {
		r := axesRunWith(t, o, env, args...).want(t, exitFail)
		if !strings.Contains(r.stderr, "cannot keep allow/deny rules") {
			t.Errorf("axes %s on a store without rules: %q", strings.Join(args, " "), r.stderr)
		}
	}
}

func TestConfigCommand(t *testing.T) {
	f := newFixture(t, false)
	env := f.env("AXES_FAILURE_LIMIT", "5", "AXES_COOLOFF_TIME", "30m", "AXES_STORE", "postgres://axes:hunter2@db.example:5432/axes?sslmode=require")
	r := axesRun(t, env, "config", "--cooloff-time", "2h", "--ip-blacklist", "192.0.2.1,198.51.100.0/24").want(t, exitOK)
	golden(t, "config", r.stdout, f.dir)
	if strings.Contains(r.stdout, "hunter2") {
		t.Errorf("the password is shown:\n%s", r.stdout)
	}
	r = axesRun(t, env, "config", "--json").want(t, exitOK)
	var entries []configEntry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatal(err)
	}
	got := map[string]configEntry{}
	for _, e := range entries {
		got[e.Key] = e
	}
	for key, want := range map[string]configEntry{
		"failure_limit":             {"failure_limit", "5", "env"},
		"cooloff_time":              {"cooloff_time", "30m", "env"},
		"enable_access_failure_log": {"enable_access_failure_log", "true", "file"},
		"http_response_code":        {"http_response_code", "429", "default"},
		"store":                     {"store", "postgres://axes:****@db.example:5432/axes?sslmode=require", "env"},
	} {
		if got[key] != want {
			t.Errorf("%s: %+v, want %+v", key, got[key], want)
		}
	}
	// A deprecated django-axes variable sets lockout_parameters, so the
	// environment is its source; without effect it is not.
	for vars, want := range map[[2]string]configEntry{
		{"AXES_ONLY_USER_FAILURES", "true"}:  {"lockout_parameters", "username", "env"},
		{"AXES_ONLY_USER_FAILURES", "false"}: {"lockout_parameters", "ip_address,username+ip_address", "file"},
	} {
		r = axesRun(t, f.env(vars[0], vars[1]), "config", "--json").want(t, exitOK)
		entries = nil
		if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Key == want.Key && e != want {
				t.Errorf("%s=%s: %+v, want %+v", vars[0], vars[1], e, want)
			}
		}
	}
	r = axesRun(t, f.env("AXES_FAILURE_LIMIT", "zero"), "config").want(t, exitFail)
	if !strings.Contains(r.stderr, "AXES_FAILURE_LIMIT") {
		t.Errorf("stderr %q does not name the bad setting", r.stderr)
	}
}

// TestConfigFileBothKinds: one --config file holds settings of the guard
// and of the middleware; axes config shows each from the file, with its
// flag winning, and axes check reports a key that neither has and the
// middleware's findings (axes.W101) with the guard's.
func TestConfigFileBothKinds(t *testing.T) {
	f := newFixture(t, false)
	both := filepath.Join(f.dir, "both.json")
	doc := `{"failure_limit": 4, "ipware_proxy_trusted_ips": ["0.0.0.0/0"], "lockout_url": "/locked", "http_response_code": 403}`
	if err := os.WriteFile(both, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AXES_STORE": "memory:", "AXES_CONFIG": both}
	r := axesRun(t, env, "config", "--json", "--http-response-code", "503").want(t, exitOK)
	var entries []configEntry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatal(err)
	}
	got := map[string]configEntry{}
	for _, e := range entries {
		got[e.Key] = e
	}
	for _, want := range []configEntry{
		{"failure_limit", "4", "file"},
		{"ipware_proxy_trusted_ips", "0.0.0.0/0", "file"},
		{"lockout_url", "/locked", "file"},
		{"http_response_code", "503", "flag"},
		{"username_form_field", "username", "default"},
	} {
		if got[want.Key] != want {
			t.Errorf("%s: %+v, want %+v", want.Key, got[want.Key], want)
		}
	}
	r = axesRun(t, env, "check", "--json").want(t, exitOK)
	if !strings.Contains(r.stdout, `"axes.W101"`) {
		t.Errorf("axes check does not report the proxies that trust everyone:\n%s", r.stdout)
	}

	if err := os.WriteFile(both, []byte(`{"failure_limit": 4, "lockout_ur": "/locked"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = axesRun(t, env, "check").want(t, exitFail)
	if !strings.Contains(r.stdout, `axes.W005 (error): config file `+both+`: unknown key "lockout_ur"`) {
		t.Errorf("axes check does not report the unknown key:\n%s", r.stdout)
	}
	r = axesRun(t, env, "demo", "--addr", "127.0.0.1:0").want(t, exitFail)
	if !strings.Contains(r.stderr, `unknown key "lockout_ur"`) {
		t.Errorf("axes demo started with an unknown key, or did not name it: %q", r.stderr)
	}
}

// TestCommandCodes: the codes the command reports itself are in the
// core's table, which gives them their level.
func TestCommandCodes(t *testing.T) {
	for _, code := range []string{codeInvalidValue, codeTiersInvalid, codeStoreUnreachable} {
		if !slices.ContainsFunc(axes.Checks(), func(c axes.CheckInfo) bool { return c.Code == code && c.Level == axes.LevelError }) {
			t.Errorf("%s is not an error in axes.Checks()", code)
		}
	}
}

// TestConfigRoundTrip: the values axes config prints read back as the
// same configuration.
func TestConfigRoundTrip(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"settings": {
			"AXES_LOCKOUT_TIERS": "3:1m,6:15m,10:0", "AXES_LOCKOUT_PARAMETERS": "username+ip_address,ip_address",
			"AXES_IP_WHITELIST": "10.0.0.0/8,192.0.2.7", "AXES_IPWARE_PROXY_TRUSTED_IPS": "127.0.0.1",
			"AXES_RESET_ON_SUCCESS": "true", "AXES_ENABLED": "false", "AXES_FAILURE_WINDOW": "1h30m",
		},
		"defaults": {},
	} {
		t.Run(name, func(t *testing.T) {
			r := axesRun(t, mergeMaps(vars, map[string]string{"AXES_STORE": "memory:"}), "config", "--json").want(t, exitOK)
			var entries []configEntry
			if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
				t.Fatal(err)
			}
			doc := map[string]string{}
			for _, e := range entries {
				if e.Key != "store" && e.Key != "config" {
					doc[e.Key] = e.Value
				}
			}
			data, _ := json.Marshal(doc)
			var back, orig configs
			if err := httpaxes.ParseJSON(data, &back.core, &back.http); err != nil {
				t.Fatalf("axes config --json does not read back: %v\n%s", err, data)
			}
			lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
			if err := errors.Join(orig.core.ApplyEnv(lookup), orig.http.ApplyEnv(lookup)); err != nil {
				t.Fatal(err)
			}
			if vars["AXES_FAILURE_WINDOW"] != "" && back.core.FailureWindow != 90*time.Minute {
				t.Errorf("failure_window read back as %s, want 1h30m", back.core.FailureWindow)
			}
			rows := settingRows()
			if n := len(axes.Settings()) + len(httpaxes.Settings()); len(rows) != n {
				t.Errorf("the command has %d settings, the two registries %d", len(rows), n)
			}
			for _, s := range rows {
				if _, ok := doc[s.Key]; !ok {
					t.Errorf("axes config --json does not show %s", s.Key)
				}
				if g, w := s.get(back.effective()), s.get(orig.effective()); g != w {
					t.Errorf("%s: read back as %q, want %q", s.Key, g, w)
				}
			}
		})
	}
}

func mergeMaps(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestStoreErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		dsn  string
		want []string
	}{
		{"nonsense", []string{"SCHEME:"}},
		{"oracle:scott:tiger@db", []string{`unknown scheme "oracle"`}},
		{"redis://:secret@cache:6379", []string{"redis store is not part of this build", "redis://:****@cache:6379"}},
		{"sqlite:", []string{"sqlite needs a file path"}},
		{"sqlite:" + missing, []string{"does not exist", "axes migrate --store sqlite:" + missing}},
		{"sqlite:" + dir, []string{"is a directory"}},
		{"sqlite:" + empty, []string{"no axes schema", "axes migrate --store sqlite:" + empty}},
	}
	for _, tc := range cases {
		for _, cmd := range [][]string{{"list"}, {"reset"}, {"prune"}, {"deny", "list"}, {"reset-logs"}, {"explain", "10.0.0.1"}} {
			r := axesRun(t, map[string]string{"AXES_STORE": tc.dsn}, cmd...).want(t, exitFail)
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("axes %s --store %s: stderr %q does not contain %q", strings.Join(cmd, " "), tc.dsn, r.stderr, w)
				}
			}
			if strings.Contains(r.stderr, "secret") {
				t.Errorf("the password is shown: %q", r.stderr)
			}
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a command created %s; only migrate and demo may", missing)
	}
	s, err := openStore(t.Context(), "sqlite:"+empty, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if cur, _, err := s.(storage.Migrator).SchemaVersion(t.Context()); err != nil || cur != 0 {
		t.Errorf("a command migrated %s (schema version %d, %v); only migrate and demo may", empty, cur, err)
	}
}

func TestMaskDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://axes:hunter2@db/axes":             "postgres://axes:****@db/axes",
		"postgres://axes@db/axes":                     "postgres://axes@db/axes",
		"mysql:axes:p@ss@tcp(db)/axes":                "mysql:axes:****@tcp(db)/axes",
		"postgres:host=db user=axes password=hunter2": "postgres:host=db user=axes password=****",
		"redis://db:6379/0?password=hunter2&x=1":      "redis://db:6379/0?password=****&x=1",
		"sqlite:/var/lib/axes/a:b@c.db":               "sqlite:/var/lib/axes/a:b@c.db",
		"sqlite:axes.db":                              "sqlite:axes.db",
		"memory:":                                     "memory:",
		"rediss://:hunter2@cache.example:6380/1":      "rediss://:****@cache.example:6380/1",
	} {
		if got := maskDSN(in); got != want {
			t.Errorf("maskDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

// An empty or blank filter (a script's unset variable) is a usage error
// naming the flag, never "every record": django-axes' axes_reset_username
// requires a name.
func TestBlankFiltersAreUsageErrors(t *testing.T) {
	f := newFixture(t, true)
	for _, args := range [][]string{
		{"reset", "--username", ""},
		{"reset", "--username", "   "},
		{"reset", "--ip", ""},
		{"reset", "--ip", " ", "--username", "alice"},
		{"list", "--username", ""},
		{"list", "--ip", "\t"},
	} {
		r := axesRun(t, f.env(), args...)
		if r.code != exitUsage || strings.Contains(r.stdout, "removed") {
			t.Errorf("axes %q: exit %d, stdout %q; want a usage error", args, r.code, r.stdout)
		}
		flagName := args[len(args)-2]
		if args[1] == "--ip" && len(args) > 3 {
			flagName = "--ip"
		}
		if !strings.Contains(r.stderr, flagName+": must not be empty") {
			t.Errorf("axes %q: stderr %q does not name %s", args, r.stderr, flagName)
		}
	}
	// Nothing was removed.
	if r := axesRun(t, f.env(), "list").want(t, exitOK); strings.Contains(r.stdout, "No attempts found.") {
		t.Errorf("records gone after blank resets:\n%s", r.stdout)
	}
	r := axesRun(t, f.env(), "explain", " ")
	if r.code != exitUsage {
		t.Errorf("axes explain \" \": exit %d, want usage", r.code)
	}
}

func TestMaskDSNNeverLeaks(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://axes:p@ss@db/axes":                    "postgres://axes:****@db/axes",
		"postgres://axes:hunter2@db/axes?sslmode=require": "postgres://axes:****@db/axes?sslmode=require",
		"axes:hunter2@tcp(db:3306)/axes":                  "axes:****@tcp(db:3306)/axes",
		"mysql:axes:p@ss:w@tcp(db)/axes?tls=true":         "mysql:axes:****@tcp(db)/axes?tls=true",
		"postgres:host=db user=axes password='hunter 2'":  "postgres:host=db user=axes password=****",
		"postgres:host=db password = 'a@b \\' c' x=1":     "postgres:host=db password = **** x=1",
		"postgres:host=db auth_token=hunter2 sslmode=x":   "postgres:host=db auth_token=**** sslmode=x",
		"postgres://db/axes?sslpassword=hunter2&a=b":      "postgres://db/axes?sslpassword=****&a=b",
		"redis://db/0?client_secret=hunter2":              "redis://db/0?client_secret=****",
		"postgres://axes:hunter2@db:bad port/axes":        "postgres://****@db:bad port/axes",
	} {
		if got := maskDSN(in); got != want {
			t.Errorf("maskDSN(%q) = %q, want %q", in, got, want)
		}
		if got := maskDSN(in); strings.Contains(got, "hunter") || strings.Contains(got, "ss@db") {
			t.Errorf("maskDSN(%q) = %q: the password shows", in, got)
		}
	}
	// An unknown scheme: the error shows the scheme only.
	for _, dsn := range []string{"axes:hunter2@tcp(db:3306)/axes", "oracle:scott/hunter2@db"} {
		r := axesRun(t, map[string]string{}, "list", "--store", dsn)
		if r.code == exitOK || strings.Contains(r.stderr, "hunter2") || !strings.Contains(r.stderr, "unknown scheme") {
			t.Errorf("axes list --store %q: exit %d, stderr %q", dsn, r.code, r.stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	cmds := [][]string{
		{"check"}, {"list"}, {"explain"}, {"reset"}, {"reset-logs"}, {"reset-failure-logs"}, {"prune"},
		{"config"}, {"migrate"}, {"demo"}, {"allow"}, {"deny"}, {"allow", "add"}, {"deny", "remove"}, {"deny", "list"},
	}
	for _, c := range cmds {
		name := strings.Join(c, "_")
		t.Run(name, func(t *testing.T) {
			r := axesRun(t, nil, append(c, "--help")...).want(t, exitOK)
			if !strings.Contains(r.stdout, "flag > environment (AXES_*) > --config file > default") {
				t.Errorf("axes %s --help does not state the precedence:\n%s", name, r.stdout)
			}
			if !strings.Contains(r.stdout, "--store") {
				t.Errorf("axes %s --help does not list --store:\n%s", name, r.stdout)
			}
			if r.stderr != "" {
				t.Errorf("stderr %q", r.stderr)
			}
			golden(t, "help_"+name, r.stdout, "")
		})
	}
	r := axesRun(t, nil, "check", "--no-such-flag").want(t, exitUsage)
	if !strings.Contains(r.stderr, "no-such-flag") || !strings.Contains(r.stderr, "axes check --help") {
		t.Errorf("stderr %q", r.stderr)
	}
	r = axesRun(t, nil, "help").want(t, exitOK)
	for _, c := range []string{"check", "list", "explain", "reset", "reset-logs", "reset-failure-logs", "prune", "allow", "deny", "config"} {
		if !strings.Contains(r.stdout, "  axes "+c+" ") {
			t.Errorf("axes help does not list %s", c)
		}
	}
}

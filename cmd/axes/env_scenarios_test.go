package main

// The configuration reaches the guard through the CLI: AXES_* variables
// parsed by the demo command's own code (loadConfig), and run(...) itself.

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
)

func lookupFrom(vars map[string]string) env {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// envConfig builds the configuration exactly as "axes demo" does: flags
// registered, no arguments, then file, environment and flags.
func envConfig(t *testing.T, vars map[string]string) configs {
	t.Helper()
	lookup := lookupFrom(vars)
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var c commonFlags
	c.register(fs, lookup)
	sf := registerSettings(fs)
	if err := parseFlags(fs, nil, io.Discard); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	cfg, err := loadConfig(fs, c, sf, lookup)
	if err != nil {
		t.Fatalf("loadConfig(%v): %v", vars, err)
	}
	return cfg
}

func TestEnvBadCoolOffTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	vars := map[string]string{"AXES_COOLOFF_TIME": "2", "AXES_STORE": "memory:"}
	code := run(ctx, []string{"demo", "--addr", "127.0.0.1:0"}, lookupFrom(vars), &stdout, &stderr)
	if code != exitFail {
		t.Errorf("exit code %d, want %d", code, exitFail)
	}
	if !strings.Contains(stderr.String(), "AXES_COOLOFF_TIME") {
		t.Errorf("stderr %q does not name AXES_COOLOFF_TIME", stderr.String())
	}
	if strings.Contains(stdout.String(), "listening") {
		t.Errorf("the demo started with a bad configuration: %q", stdout.String())
	}
}

// TestEnvLockoutParameters: the three spellings of AXES_LOCKOUT_PARAMETERS
// give the groups they say, and S15 / S14 answer accordingly over HTTP.
func TestEnvLockoutParameters(t *testing.T) {
	s14setup, s14probes := s14()
	cases := []struct {
		name   string
		value  string
		groups []axes.Group
		setup  []attempt
		probes []attempt
	}{
		{"S15_comma_is_or", "username,ip_address", []axes.Group{{pU}, {pIP}}, s15(), nil},
		{"S14_plus_is_and", "username+ip_address", []axes.Group{{pU, pIP}}, s14setup, s14probes},
		{"S14_json_list", `[["username","ip_address"]]`, []axes.Group{{pU, pIP}}, s14setup, s14probes},
	}
	for _, k := range storeKinds {
		for _, tc := range cases {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				cfg := envConfig(t, map[string]string{"AXES_LOCKOUT_PARAMETERS": tc.value}).core
				if !slices.EqualFunc(cfg.LockoutParameters, tc.groups, slices.Equal) {
					t.Fatalf("AXES_LOCKOUT_PARAMETERS=%s: groups %v, want %v", tc.value, cfg.LockoutParameters, tc.groups)
				}
				h := newHarness(t, k, cfg)
				h.play(t, tc.setup)
				for i, p := range tc.probes {
					t.Run(probeName(i, p), func(t *testing.T) {
						t.Parallel()
						h := newHarness(t, k, cfg)
						h.play(t, tc.setup)
						h.try(t, "probe", p)
					})
				}
			})
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDemo runs the real command, "axes demo", with vars as its
// environment, and returns the site's address once it listens. The
// returned stop ends it and returns its exit code and log.
func startDemo(t *testing.T, vars map[string]string) (base string, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--addr", "127.0.0.1:0"}, lookupFrom(vars), &stdout, &stderr)
	}()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(20 * time.Second)
	for base == "" {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("axes demo exited with %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("axes demo did not start: stdout %q stderr %q", stdout.String(), stderr.String())
		}
	}
	stopped := false
	stop = func() (int, string) {
		if stopped {
			return exitOK, stderr.String()
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code, stderr.String()
		case <-time.After(20 * time.Second):
			t.Fatal("axes demo did not stop")
			return 0, ""
		}
	}
	t.Cleanup(func() { stop() })
	return base, stop
}

// TestRunDemoEnd2End runs the real command, "axes demo", with
// AXES_LOCKOUT_PARAMETERS=username,ip_address and a SQLite store from
// AXES_STORE, and plays S15 against it (real clock, default bcrypt cost;
// S15 needs neither a clock nor a correct password).
func TestRunDemoEnd2End(t *testing.T) {
	t.Parallel()
	base, stop := startDemo(t, map[string]string{
		"AXES_LOCKOUT_PARAMETERS": "username,ip_address",
		"AXES_STORE":              "sqlite:" + t.TempDir() + "/axes.db",
	})
	s := newSite(base, axes.Config{}, httpaxes.Config{}, nil)
	defer s.close()
	s.play(t, s15())
	code, log := stop()
	if code != exitOK {
		t.Errorf("axes demo exit code %d after shutdown, want 0; stderr %s", code, log)
	}
	if !strings.Contains(log, "locked out") {
		t.Errorf("the demo's log does not report the lockouts: %s", log)
	}
}

// TestRunDemoHTTPSettings: the settings of httpaxes.Config, given as
// AXES_* variables and in the --config file, reach the middleware of
// "axes demo": the username is read from the email field, the client is
// one hop left of the proxy in X-Forwarded-For, and the lockout is a 403
// with the configured message. A file that holds keys of both
// configurations is read into both.
func TestRunDemoHTTPSettings(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "axes.json")
	doc := `{"failure_limit": 2, "http_response_code": 403, "cooloff_message": "Slow down."}`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop := startDemo(t, map[string]string{
		"AXES_STORE":               "memory:",
		"AXES_CONFIG":              file,
		"AXES_COOLOFF_TIME":        "10m",
		"AXES_USERNAME_FORM_FIELD": "email",
		"AXES_IPWARE_PROXY_COUNT":  "1",
	})
	login := func(client, user, password string) (int, string) {
		t.Helper()
		form := url.Values{"email": {user}, "password": {password}}
		req, err := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	for i, want := range []int{401, 403, 403} {
		code, body := login("198.51.100.1", "alice", "wrong")
		if code != want {
			t.Errorf("attempt %d from 198.51.100.1: %d %q, want %d", i+1, code, body, want)
		}
		if want == 403 && body != "Slow down." {
			t.Errorf("lockout body %q, want the configured cool-off message", body)
		}
	}
	// Another client behind the same proxy is not locked, and the
	// username comes from the email field.
	if code, body := login("198.51.100.2", "alice", "correct-horse"); code != 200 || body != "Welcome, alice." {
		t.Errorf("alice from 198.51.100.2: %d %q, want 200 Welcome, alice.", code, body)
	}
	resp, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `name="email"`) {
		t.Errorf("the login page does not post the email field:\n%s", page)
	}
	if code, log := stop(); code != exitOK {
		t.Errorf("axes demo exit code %d after shutdown; stderr %s", code, log)
	}
}

package main

// The configuration reaches the guard through the CLI: AXES_* variables
// parsed by the demo command's own code (loadConfig), and run(...) itself.

import (
	"bytes"
	"context"
	"flag"
	"io"
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

// TestRunDemoEnd2End runs the real command, "axes demo", with
// AXES_LOCKOUT_PARAMETERS=username,ip_address and a SQLite store from
// AXES_STORE, and plays S15 against it (real clock, default bcrypt cost;
// S15 needs neither a clock nor a correct password).
func TestRunDemoEnd2End(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"AXES_LOCKOUT_PARAMETERS": "username,ip_address",
		"AXES_STORE":              "sqlite:" + t.TempDir() + "/axes.db",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--addr", "127.0.0.1:0"}, lookupFrom(vars), &stdout, &stderr)
	}()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	deadline := time.Now().Add(20 * time.Second)
	for base == "" {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("axes demo exited with %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("axes demo did not start: stdout %q stderr %q", stdout.String(), stderr.String())
		}
	}
	s := newSite(base, axes.Config{}, httpaxes.Config{}, nil)
	defer s.close()
	s.play(t, s15())
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("axes demo exit code %d after shutdown, want 0; stderr %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("axes demo did not stop")
	}
	if !strings.Contains(stderr.String(), "locked out") {
		t.Errorf("the demo's log does not report the lockouts: %s", stderr.String())
	}
}

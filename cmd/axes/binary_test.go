package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryExitCodes builds the command and checks its exit codes as a
// shell sees them.
func TestBinaryExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "axes")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The environment without AXES_* variables, so that the caller's
	// settings do not leak in.
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AXES_") {
			environ = append(environ, kv)
		}
	}
	dsn := "sqlite:" + filepath.Join(dir, "axes.db")
	cases := []struct {
		args   []string
		code   int
		stdout string // a substring of the output
	}{
		{[]string{"frobnicate"}, 2, ""},
		{[]string{}, 2, ""},
		{[]string{"list", "--store", dsn}, 1, ""}, // no database yet
		{[]string{"migrate", "--store", dsn}, 0, "Applied 0001_init"},
		{[]string{"reset", "--store", dsn}, 0, "No attempts found.\n"},
		{[]string{"check", "--store", dsn}, 0, "System check identified no issues (0 silenced)."},
		{[]string{"check", "--store", dsn, "--lockout-parameters", "username+ip_address", "--failure-limit", "0"}, 1, "axes.W005 (error)"},
		{[]string{"check", "--store", "memory:"}, 0, "axes.W001 (warning)"},
		{[]string{"check", "--store", "memory:", "--strict"}, 1, "axes.W001 (warning)"},
		{[]string{"deny", "add", "not-an-ip", "--store", dsn}, 2, ""},
		{[]string{"deny", "add", "203.0.113.0/24", "--store", dsn}, 0, "Added deny rule for 203.0.113.0/24 (until removed)."},
		{[]string{"explain", "203.0.113.9", "--store", dsn}, 0, "Verdict:  denied"},
		{[]string{"list", "--help"}, 0, "flag > environment (AXES_*) > --config file > default"},
		{[]string{"version"}, 0, "axes "},
	}
	for _, tc := range cases {
		cmd := exec.Command(bin, tc.args...)
		cmd.Dir = dir
		cmd.Env = environ
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) {
			t.Errorf("axes %s: exit %d, want %d; stdout %q (want %q); stderr %q",
				strings.Join(tc.args, " "), code, tc.code, stdout.String(), tc.stdout, stderr.String())
		}
	}
}

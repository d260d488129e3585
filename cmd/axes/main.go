// Command axes runs the demo site, migrates the database, checks
// configurations and manages lockouts and operators' allow/deny rules.
//
//	axes demo [--addr 127.0.0.1:8080] [--store sqlite:axes.db] [--config axes.json] [--failure-limit 5 ...]
//	axes migrate [--store DSN]
//	axes check [--json] [--strict] [--list]
//	axes list [--ip IP] [--username U] [--locked] [--json]
//	axes explain <ip | username | ip username> [--user-agent UA] [--json]
//	axes reset [--ip IP] [--username U]
//	axes reset-logs [--age DAYS]
//	axes reset-failure-logs [--age DAYS]
//	axes prune
//	axes allow|deny add|remove|list <ip-or-cidr> [--ttl 24h] [--reason TEXT]
//	axes config [--json]
//	axes version
//
// Settings come from, in order of precedence: command-line flags, AXES_*
// environment variables, the --config JSON file, and the defaults (which
// equal django-axes 8).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/goaxes/axes/storage"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; by
// default it comes from the module's build information.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// Exit codes of run.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// errUsage marks errors in how the command was called; run prints usage.
var errUsage = errors.New("usage")

// errHelp is returned when --help was asked for: the help went to stdout,
// and the command succeeds.
var errHelp = errors.New("help")

// errReported is returned by a command that has already said why it
// failed (axes check with findings): run exits 1 without printing more.
var errReported = errors.New("failure reported")

// env looks up environment variables; tests pass their own.
type env func(string) (string, bool)

// options are what run takes from its surroundings besides the arguments:
// the clock, and how a store is opened. run uses the real ones; tests call
// runWith with a fixed clock, or a store shared between runs.
type options struct {
	now func() time.Time
	// open opens the store a DSN names for a command that reads or
	// changes it, without creating a database or a schema.
	open func(ctx context.Context, dsn string) (storage.Store, error)
}

// cli is one invocation of the command: where it reads and writes.
type cli struct {
	lookup         env
	stdout, stderr io.Writer
	now            func() time.Time
	open           func(ctx context.Context, dsn string) (storage.Store, error)
}

// run is the whole program, callable in-process by tests.
func run(ctx context.Context, args []string, lookup env, stdout, stderr io.Writer) int {
	return runWith(ctx, args, lookup, stdout, stderr, options{now: time.Now, open: openExisting})
}

// runWith is run with its clock and store opener given.
func runWith(ctx context.Context, args []string, lookup env, stdout, stderr io.Writer, o options) int {
	if o.now == nil {
		o.now = time.Now
	}
	if o.open == nil {
		o.open = openExisting
	}
	c := &cli{lookup: lookup, stdout: stdout, stderr: stderr, now: o.now, open: o.open}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch name, rest := args[0], args[1:]; name {
	case "demo":
		err = runDemo(ctx, rest, lookup, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, lookup, stdout, stderr)
	case "check":
		err = c.check(ctx, rest)
	case "list":
		err = c.list(ctx, rest)
	case "explain":
		err = c.explain(ctx, rest)
	case "reset":
		err = c.reset(ctx, rest)
	case "reset-logs":
		err = c.resetLogs(ctx, rest, "reset-logs")
	case "reset-failure-logs":
		err = c.resetLogs(ctx, rest, "reset-failure-logs")
	case "prune":
		err = c.prune(ctx, rest)
	case "allow":
		err = c.rules(ctx, rest, storage.ActionAllow)
	case "deny":
		err = c.rules(ctx, rest, storage.ActionDeny)
	case "config":
		err = c.config(ctx, rest)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "axes", buildVersion())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "axes: unknown command %q\n\n%s", name, usage)
		return exitUsage
	}
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errReported):
		return exitFail
	default:
		// Errors quote paths, DSNs and values as they were given.
		fmt.Fprintln(stderr, inertLines(err.Error()))
		return exitFail
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

const usage = `axes: brute-force login protection for Go applications.

Usage:
  axes demo                serve the demo site (127.0.0.1:8080, SQLite in ./axes.db)
  axes migrate             create or update the database schema
  axes check               check the configuration and the store
  axes list                list the failure records (who is counted, who is locked)
  axes explain CLIENT      say why an IP address and/or username is locked or not
  axes reset               remove failure records (all, by --ip, by --username)
  axes reset-logs          remove old successful-login log entries (--age DAYS)
  axes reset-failure-logs  remove old failure log entries (--age DAYS)
  axes prune               remove expired failure records
  axes allow add|remove|list PREFIX   operators' allow rules, kept in the store
  axes deny add|remove|list PREFIX    operators' deny rules, kept in the store
  axes config              print the effective settings and where each comes from
  axes version             print the version

Run "axes COMMAND --help" for the flags of a command.

Settings: flag > environment (AXES_*) > --config file > default. Command-line
flags win over AXES_* environment variables, which win over the --config JSON
file, which wins over the defaults (those of django-axes 8: 3 failures per IP
address lock it until reset).

Stores (--store, env AXES_STORE): memory:, sqlite:PATH (default sqlite:axes.db).
Only demo and migrate create a database or its schema; the other commands
need "axes migrate --store DSN" to have run.

Exit status: 0 success, 1 failure (or findings from check), 2 usage error.
`

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/sqlstore"
)

// precedence is stated in every command's help.
const precedence = "Settings: flag > environment (AXES_*) > --config file > default."

// command is one subcommand's flag set and help text.
type command struct {
	name     string // "list", "allow add"
	synopsis string // what follows "axes NAME" in the usage line
	about    string
	fs       *flag.FlagSet
	settings settingFlags // nil when the command takes no setting flags
}

func newCommand(name, synopsis, about string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {} // run prints the help itself (to stdout for --help)
	return &command{name: name, synopsis: synopsis, about: about, fs: fs}
}

// withSettings registers one flag per setting (--failure-limit ...).
func (c *command) withSettings() settingFlags {
	c.settings = registerSettings(c.fs)
	return c.settings
}

// parse parses args, allowing flags before, between and after the
// positional arguments ("axes deny add 10.0.0.0/8 --ttl 1h"); everything
// after "--" is positional. It returns the positional arguments, of which
// there must be between min and max (max < 0: any number). --help prints
// the help to stdout and returns errHelp; mistakes print a message to
// stderr and return errUsage.
func (c *command) parse(args []string, min, max int, stdout, stderr io.Writer) ([]string, error) {
	c.fs.SetOutput(stderr)
	var pos []string
	for {
		err := c.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.help(stdout)
			return nil, errHelp
		}
		if err != nil {
			fmt.Fprintf(stderr, "Run \"axes %s --help\" for usage.\n", c.name)
			return nil, errUsage
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	switch {
	case len(pos) > max && max >= 0:
		return nil, c.usageError(stderr, "unexpected argument %q", pos[max])
	case len(pos) < min:
		return nil, c.usageError(stderr, "missing argument: axes %s %s", c.name, c.synopsis)
	}
	return pos, nil
}

// usageError prints a complaint about the arguments and returns errUsage.
func (c *command) usageError(stderr io.Writer, format string, args ...any) error {
	fmt.Fprintf(stderr, "axes %s: %s\nRun \"axes %s --help\" for usage.\n", c.name, fmt.Sprintf(format, args...), c.name)
	return errUsage
}

// help prints the usage line, the description, the flags and the
// precedence of settings.
func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: axes %s %s\n\n%s\n", c.name, c.synopsis, c.about)
	settingNames := map[string]bool{}
	for name := range c.settings {
		settingNames[settingFlagName(name)] = true
	}
	var own []*flag.Flag
	c.fs.VisitAll(func(f *flag.Flag) {
		if !settingNames[f.Name] {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprintln(w, "\nFlags:")
	}
	for _, f := range own {
		arg, text := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if arg != "" {
			left += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			text += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		if len(left) > 22 {
			fmt.Fprintf(w, "  %s\n  %-22s  %s\n", left, "", text)
		} else {
			fmt.Fprintf(w, "  %-22s  %s\n", left, text)
		}
	}
	if len(c.settings) > 0 {
		fmt.Fprintln(w, "\nSetting flags: every setting is also a flag named after its AXES_ variable\n(AXES_FAILURE_LIMIT is --failure-limit); \"axes config\" shows them all:")
		names := make([]string, 0, len(settingNames))
		for n := range settingNames {
			names = append(names, "--"+n)
		}
		slices.Sort(names)
		line := " "
		for _, n := range names {
			if len(line)+1+len(n) > 78 {
				fmt.Fprintln(w, line)
				line = " "
			}
			line += " " + n
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "\n%s\n", precedence)
}

// settingFlagName is the flag of a setting: AXES_FAILURE_LIMIT is
// failure-limit.
func settingFlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "AXES_")), "_", "-")
}

// openExisting opens the store a DSN names for the commands that read or
// change it. It never creates a database or a schema: a missing file is an
// error that says to run axes migrate.
func openExisting(ctx context.Context, dsn string) (axes.Store, error) {
	scheme, rest, _ := strings.Cut(dsn, ":")
	switch scheme {
	case "sqlite", "sqlite3", "file":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			break // openStore names the problem
		}
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("axes: store %s: the database file %s does not exist; create it with: axes migrate --store %s", dsn, path, dsn)
		case err != nil:
			return nil, fmt.Errorf("axes: store %s: cannot open the database file: %w", dsn, err)
		case fi.IsDir():
			return nil, fmt.Errorf("axes: store %s: %s is a directory, not a database file", dsn, path)
		}
	}
	return openStore(ctx, dsn, false)
}

// storeFor opens the store of a command that reads or changes it, and
// checks that its schema is current.
func (c *cli) storeFor(ctx context.Context, dsn string) (axes.Store, error) {
	s, err := c.open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := schemaCurrent(ctx, s, dsn); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// schemaCurrent checks that a store with a schema has the one this build
// needs.
func schemaCurrent(ctx context.Context, s axes.Store, dsn string) error {
	m, ok := s.(axes.Migrator)
	if !ok {
		return nil
	}
	cur, latest, err := m.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("axes: store %s: cannot read the schema version (is it an axes database?): %w", maskDSN(dsn), err)
	}
	if cur < latest {
		return schemaError(dsn, cur, latest)
	}
	return nil
}

func schemaError(dsn string, cur, latest int) error {
	if cur == 0 {
		return fmt.Errorf("axes: store %s: the database has no axes schema; create it with: axes migrate --store %s", maskDSN(dsn), maskDSN(dsn))
	}
	return fmt.Errorf("axes: store %s: the schema is at version %d, this build needs %d; update it with: axes migrate --store %s", maskDSN(dsn), cur, latest, maskDSN(dsn))
}

// storeError turns an error from a store operation into one that names the
// store, and says what to do when the schema is behind.
func storeError(err error, dsn string) error {
	var se *sqlstore.SchemaError
	if errors.As(err, &se) {
		return schemaError(dsn, se.Current, se.Latest)
	}
	return fmt.Errorf("axes: store %s: %w", maskDSN(dsn), err)
}

var (
	userinfoRE  = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*:(?://)?)([^/@:]*):([^@]*)@`)
	passParamRE = regexp.MustCompile(`(?i)\b(password|passwd|pwd|pass)=([^&;\s]*)`)
)

// maskDSN hides the password of a DSN: user:****@host, password=****.
func maskDSN(dsn string) string {
	dsn = userinfoRE.ReplaceAllString(dsn, "${1}${2}:****@")
	return passParamRE.ReplaceAllString(dsn, "${1}=****")
}

// unsupported names what the store cannot do.
func unsupported(dsn, what string) error {
	return fmt.Errorf("axes: the store %s cannot %s: %w", maskDSN(dsn), what, axes.ErrUnsupported)
}

// guardFor loads the configuration, opens the store and builds a guard on
// the command's clock. The caller closes the store.
func (c *cli) guardFor(ctx context.Context, cmd *command, cf commonFlags) (*axes.Guard, axes.Store, error) {
	cfg, err := loadSettings(cmd.fs, cf, cmd.settings, c.lookup).valid()
	if err != nil {
		return nil, nil, err
	}
	s, err := c.storeFor(ctx, cf.store)
	if err != nil {
		return nil, nil, err
	}
	g, err := axes.New(s, cfg, axes.WithClock(c.now))
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return g, s, nil
}

// filterIP turns an --ip value (an address or a CIDR prefix) into the IP
// value records are kept under.
func filterIP(v string, ipv6Prefix int) (string, error) {
	if a, err := netip.ParseAddr(v); err == nil {
		return axes.GroupIP(a, ipv6Prefix), nil
	}
	if strings.Contains(v, "/") {
		p, err := axes.ParsePrefix(v)
		if err != nil {
			return "", err
		}
		return p.String(), nil
	}
	return "", fmt.Errorf("%q is not an IP address or CIDR prefix", v)
}

// rfc3339 writes a time in UTC, or "-" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// orDash returns s, or "-" for "".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

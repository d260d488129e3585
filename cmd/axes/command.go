package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/internal/norm"
	"github.com/goaxes/axes/internal/setting"
	"github.com/goaxes/axes/sqlstore"
	"github.com/goaxes/axes/storage"
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
	// The flag package would print its complaint with the flag's name as
	// it was given; print it here, inert.
	c.fs.SetOutput(io.Discard)
	var pos []string
	for {
		err := c.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.help(stdout)
			return nil, errHelp
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s\nRun \"axes %s --help\" for usage.\n", inertLines(err.Error()), c.name)
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

// requireNonBlank returns a usage error naming the first of the named
// flags that was given with an empty or blank value. A filter such as
// --username "" (a script's unset variable) must never widen to "every
// record".
func (c *command) requireNonBlank(stderr io.Writer, names ...string) error {
	var blank string
	c.fs.Visit(func(f *flag.Flag) {
		if blank == "" && slices.Contains(names, f.Name) && strings.TrimSpace(f.Value.String()) == "" {
			blank = f.Name
		}
	})
	if blank != "" {
		return c.usageError(stderr, "--%s: must not be empty (leave the flag out to not filter by it)", blank)
	}
	return nil
}

// usageError prints a complaint about the arguments and returns errUsage.
func (c *command) usageError(stderr io.Writer, format string, args ...any) error {
	fmt.Fprintf(stderr, "axes %s: %s\nRun \"axes %s --help\" for usage.\n", c.name, inertLines(fmt.Sprintf(format, args...)), c.name)
	return errUsage
}

// help prints the usage line, the description, the flags and the
// precedence of settings.
func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: axes %s %s\n\n%s\n", c.name, c.synopsis, c.about)
	settingNames := map[string]bool{}
	for name := range c.settings {
		settingNames[name] = true
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
func openExisting(ctx context.Context, dsn string) (storage.Store, error) {
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
			return nil, fmt.Errorf("axes: store %s: the database file %s does not exist; create it with: axes migrate --store %s", inert(dsn), inert(path), shellWord(dsn))
		case err != nil:
			return nil, fmt.Errorf("axes: store %s: cannot open the database file: %w", inert(dsn), err)
		case fi.IsDir():
			return nil, fmt.Errorf("axes: store %s: %s is a directory, not a database file", inert(dsn), inert(path))
		}
	}
	return openStore(ctx, dsn, false)
}

// storeFor opens the store of a command that reads or changes it, and
// checks that its schema is current.
func (c *cli) storeFor(ctx context.Context, dsn string) (storage.Store, error) {
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
func schemaCurrent(ctx context.Context, s storage.Store, dsn string) error {
	m, ok := storage.Find[storage.Migrator](s)
	if !ok {
		return nil
	}
	cur, latest, err := m.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("axes: store %s: cannot read the schema version (is it an axes database?): %w", dsnText(dsn), err)
	}
	if cur < latest {
		return schemaError(dsn, cur, latest)
	}
	return nil
}

func schemaError(dsn string, cur, latest int) error {
	if cur == 0 {
		return fmt.Errorf("axes: store %s: the database has no axes schema; create it with: axes migrate --store %s", dsnText(dsn), shellWord(maskDSN(dsn)))
	}
	return fmt.Errorf("axes: store %s: the schema is at version %d, this build needs %d; update it with: axes migrate --store %s", dsnText(dsn), cur, latest, shellWord(maskDSN(dsn)))
}

// storeError turns an error from a store operation into one that names the
// store, and says what to do when the schema is behind.
func storeError(err error, dsn string) error {
	var se *sqlstore.SchemaError
	if errors.As(err, &se) {
		return schemaError(dsn, se.Current, se.Latest)
	}
	return fmt.Errorf("axes: store %s: %w", dsnText(dsn), err)
}

// secretParamRE matches a key=value setting whose key names a secret (any
// key containing pass, secret or token, or pwd), with its value: quoted
// ('...' or "...", with backslash escapes, up to the end if unterminated)
// or bare (up to white space, & or ;).
var secretParamRE = regexp.MustCompile(`(?i)([A-Za-z0-9_.-]*(?:pass|secret|token|pwd)[A-Za-z0-9_.-]*)(\s*=\s*)('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s&;]*)`)

// pathSchemes are the store schemes whose rest is a file path, which may
// contain '@' and ':' and is shown as it is.
var pathSchemes = map[string]bool{"memory": true, "mem": true, "sqlite": true, "sqlite3": true, "file": true}

// maskDSN hides the secrets of a DSN, whatever its form:
//
//   - a URL (scheme://user:pass@host/db?k=v): parsed with net/url, whose
//     userinfo ends at the last '@', so a password containing '@' is
//     masked whole: scheme://user:****@host; an unparsable URL loses
//     everything up to the last '@';
//   - a go-sql-driver DSN (user:pass@tcp(host)/db), with or without a
//     scheme in front: everything between the user name and the last '@';
//   - key=value settings (libpq's host=db password='x y', or URL query
//     parameters): the value of every key containing pass, secret or
//     token, quoted or not.
//
// File paths (sqlite:PATH) are shown as they are.
func maskDSN(dsn string) string {
	if scheme, rest, ok := strings.Cut(dsn, ":"); ok && pathSchemes[strings.ToLower(scheme)] && !strings.Contains(rest, "?") {
		return dsn
	}
	if i := strings.Index(dsn, "://"); i > 0 && !strings.ContainsAny(dsn[:i], "@ =") {
		return maskURL(dsn, i)
	}
	prefix, rest := "", dsn
	if scheme, r, ok := strings.Cut(dsn, ":"); ok && knownScheme(scheme) {
		prefix, rest = scheme+":", r
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 && !strings.ContainsAny(rest[:at], " \t") {
		if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
			rest = user + ":****" + rest[at:]
		}
	}
	return prefix + maskParams(rest)
}

// maskURL masks a DSN written as a URL; i is the index of "://".
func maskURL(dsn string, i int) string {
	u, err := url.Parse(dsn)
	if err != nil {
		// Unparsable: drop what could be userinfo, and mask parameters.
		if at := strings.LastIndex(dsn, "@"); at > i {
			return maskParams(dsn[:i+3] + "****" + dsn[at:])
		}
		return maskParams(dsn)
	}
	out := u.Redacted() // user:xxxxx@
	if _, has := u.User.Password(); has {
		redacted := u.Scheme + "://" + url.User(u.User.Username()).String() + ":xxxxx@"
		if strings.HasPrefix(out, redacted) {
			out = redacted[:len(redacted)-len("xxxxx@")] + "****@" + out[len(redacted):]
		}
	}
	return maskParams(out)
}

// maskParams masks the values of secret key=value settings.
func maskParams(s string) string {
	return secretParamRE.ReplaceAllString(s, "${1}${2}****")
}

// dsnText is a DSN as messages show it: masked, and inert.
func dsnText(dsn string) string { return inert(maskDSN(dsn)) }

// knownScheme reports whether openStore knows scheme.
func knownScheme(scheme string) bool {
	switch scheme {
	case "memory", "mem", "sqlite", "sqlite3", "file", "postgres", "postgresql", "mysql", "redis", "rediss", "memcache":
		return true
	}
	return false
}

// unsupported names what the store cannot do.
func unsupported(dsn, what string) error {
	return fmt.Errorf("axes: the store %s cannot %s: %w", dsnText(dsn), what, errors.ErrUnsupported)
}

// guardFor loads the configuration, opens the store and builds a guard on
// the command's clock. The caller closes the store.
func (c *cli) guardFor(ctx context.Context, cmd *command, cf commonFlags) (*axes.Guard, storage.Store, error) {
	cfg, err := loadSettings(cmd.fs, cf, cmd.settings, c.lookup).valid()
	if err != nil {
		return nil, nil, err
	}
	s, err := c.storeFor(ctx, cf.store)
	if err != nil {
		return nil, nil, err
	}
	g, err := axes.New(s, cfg.core, axes.WithClock(c.now))
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
		return norm.GroupIP(a, ipv6Prefix), nil
	}
	if strings.Contains(v, "/") {
		p, err := setting.ParsePrefix(v)
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

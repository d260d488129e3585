package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/memstore"
)

// Where a setting's value comes from, highest precedence first.
const (
	sourceFlag    = "flag"
	sourceEnv     = "env"
	sourceFile    = "file"
	sourceDefault = "default"
)

// settings is the configuration a command runs with, and where each value
// came from.
type settings struct {
	cfg  axes.Config
	file string // the configuration file, or ""
	// source maps a file key ("failure_limit") to sourceFlag, sourceEnv or
	// sourceFile; keys not in it have their default.
	source map[string]string
	// problems are the values that could not be read (bad JSON, unknown
	// keys, values that do not parse), each naming the setting. The
	// configuration holds every value that could be read.
	problems []error
}

// fileKey is the configuration file key of an environment variable.
func fileKey(env string) string { return strings.ToLower(strings.TrimPrefix(env, "AXES_")) }

// loadSettings builds the configuration: the defaults, then the file, then
// the environment, then the flags that were set. Unlike loadConfig it goes
// on past problems, so that check can report them all; it does not
// validate.
func loadSettings(fs *flag.FlagSet, c commonFlags, sf settingFlags, lookup env) settings {
	s := settings{source: map[string]string{}}
	s.file = c.config
	if s.file == "" {
		s.file, _ = lookup("AXES_CONFIG")
	}
	if s.file != "" {
		data, err := os.ReadFile(s.file)
		if err != nil {
			s.problems = append(s.problems, fmt.Errorf("axes: config file: %w", err))
		} else {
			var doc map[string]json.RawMessage
			if json.Unmarshal(data, &doc) == nil {
				for k := range doc {
					s.source[k] = sourceFile
				}
			}
			if err := s.cfg.ParseJSON(data); err != nil {
				for _, e := range flatten(err) {
					s.problems = append(s.problems, fmt.Errorf("config file %s: %w", s.file, e))
				}
			}
		}
	}
	if err := s.cfg.ApplyEnv(lookup); err != nil {
		s.problems = append(s.problems, flatten(err)...)
	}
	legacy := false
	for _, name := range axes.EnvNames() {
		v, ok := lookup(name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		if isDeprecated(name) {
			legacy = true
			continue
		}
		s.source[fileKey(name)] = sourceEnv
	}
	if _, ok := lookup("AXES_LOCKOUT_PARAMETERS"); !ok && legacy {
		s.source["lockout_parameters"] = sourceEnv
	}
	fs.Visit(func(f *flag.Flag) {
		for name, v := range sf {
			if settingFlagName(name) == f.Name {
				if err := s.cfg.Set(name, *v); err != nil {
					s.problems = append(s.problems, fmt.Errorf("--%s: %w", f.Name, err))
				}
				s.source[fileKey(name)] = sourceFlag
			}
		}
	})
	return s
}

// flatten splits errors joined with errors.Join.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// valid returns the configuration, or every problem with it.
func (s settings) valid() (axes.Config, error) {
	if len(s.problems) > 0 {
		return s.cfg, fmt.Errorf("%w\n(axes check lists every problem)", errors.Join(s.problems...))
	}
	if err := s.cfg.Validate(); err != nil {
		return s.cfg, fmt.Errorf("%w\n(axes check lists every problem)", err)
	}
	return s.cfg, nil
}

// loadConfig builds the configuration: defaults, then the file, then the
// environment, then the flags that were set; it fails on any problem.
func loadConfig(fs *flag.FlagSet, c commonFlags, sf settingFlags, lookup env) (axes.Config, error) {
	s := loadSettings(fs, c, sf, lookup)
	if len(s.problems) > 0 {
		return s.cfg, errors.Join(s.problems...)
	}
	return s.cfg, s.cfg.Validate()
}

// settingValue formats the effective value of one setting the way the
// configuration file and the environment write it.
func settingValue(eff axes.Config, window time.Duration, key string) (string, bool) {
	b := strconv.FormatBool
	n := strconv.Itoa
	switch key {
	case "enabled":
		return b(!eff.Disabled), true
	case "failure_limit":
		return n(eff.FailureLimit), true
	case "cooloff_time":
		return fmtDuration(eff.CoolOff), true
	case "failure_window":
		return fmtDuration(window), true
	case "lockout_parameters":
		parts := make([]string, len(eff.LockoutParameters))
		for i, g := range eff.LockoutParameters {
			parts[i] = g.String()
		}
		return strings.Join(parts, ","), true
	case "lockout_tiers":
		parts := make([]string, len(eff.Tiers))
		for i, t := range eff.Tiers {
			parts[i] = fmt.Sprintf("%d:%s", t.Failures, fmtDuration(t.CoolOff))
		}
		return strings.Join(parts, ","), true
	case "lock_out_at_failure":
		return b(!eff.RecordOnly), true
	case "reset_on_success":
		return b(eff.ResetOnSuccess), true
	case "reset_cool_off_on_failure_during_lockout":
		return b(!eff.FixedCoolOff), true
	case "ip_whitelist":
		return fmtPrefixes(eff.IPAllowlist), true
	case "ip_blacklist":
		return fmtPrefixes(eff.IPDenylist), true
	case "never_lockout_whitelist":
		return b(eff.NeverLockoutAllowlist), true
	case "only_whitelist":
		return b(eff.OnlyAllowlist), true
	case "never_lockout_get":
		return b(eff.NeverLockoutGET), true
	case "username_form_field":
		return eff.UsernameFormField, true
	case "ipv6_prefix":
		return n(eff.IPv6Prefix), true
	case "ipware_proxy_trusted_ips":
		return fmtPrefixes(eff.TrustedProxies), true
	case "ipware_proxy_count":
		return n(eff.ProxyCount), true
	case "ipware_meta_precedence_order":
		return eff.ForwardedHeader, true
	case "http_response_code":
		return n(eff.HTTPResponseCode), true
	case "lockout_url":
		return eff.LockoutURL, true
	case "lockout_template":
		return eff.LockoutTemplate, true
	case "cooloff_message":
		return eff.CoolOffMessage, true
	case "permalock_message":
		return eff.PermalockMessage, true
	case "allowed_cors_origins":
		return eff.AllowedCORSOrigins, true
	case "disable_access_log":
		return b(eff.DisableAccessLog), true
	case "enable_access_failure_log":
		return b(eff.EnableAccessFailureLog), true
	case "access_failure_log_per_user_limit":
		return n(eff.AccessFailureLogPerUserLimit), true
	case "silenced_checks":
		return strings.Join(eff.SilencedChecks, ","), true
	}
	return "", false
}

// fmtDuration writes a duration as the settings read it: "0", "15m",
// "1h30m".
func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func fmtPrefixes(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			parts[i] = p.Addr().String()
		} else {
			parts[i] = p.String()
		}
	}
	return strings.Join(parts, ",")
}

// configEntry is one line of axes config.
type configEntry struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// config prints the effective settings and where each comes from.
func (c *cli) config(_ context.Context, args []string) error {
	cmd := newCommand("config", "[--store DSN] [--config FILE] [--json] [--SETTING VALUE ...]",
		`Print the effective settings, with the configuration file's key names, and
where each value comes from: flag, env (an AXES_* variable), file (the
--config file) or default. The store DSN is shown with its password masked.
The output of --json has the form [{"key", "value", "source"}].`)
	var cf commonFlags
	cf.register(cmd.fs, c.lookup)
	jsonOut := cmd.fs.Bool("json", false, "print JSON")
	sf := cmd.withSettings()
	if _, err := cmd.parse(args, 0, 0, c.stdout, c.stderr); err != nil {
		return err
	}
	s := loadSettings(cmd.fs, cf, sf, c.lookup)
	cfg, err := s.valid()
	if err != nil {
		return err
	}
	// The guard works out the failure window the configuration implies.
	g, err := axes.New(memstore.New(), cfg)
	if err != nil {
		return err
	}
	window := micros(g.Policy(axes.Identity{}).Window)
	eff := cfg.Effective()

	storeSource := sourceDefault
	if isSet(cmd.fs, "store") {
		storeSource = sourceFlag
	} else if v, ok := c.lookup("AXES_STORE"); ok && v != "" {
		storeSource = sourceEnv
	}
	fileSource := sourceDefault
	if isSet(cmd.fs, "config") {
		fileSource = sourceFlag
	} else if s.file != "" {
		fileSource = sourceEnv
	}
	entries := []configEntry{
		{"store", maskDSN(cf.store), storeSource},
		{"config", s.file, fileSource},
	}
	for _, name := range axes.EnvNames() {
		if isDeprecated(name) {
			continue
		}
		key := fileKey(name)
		v, ok := settingValue(eff, window, key)
		if !ok {
			v = "(not shown by this version of axes config)"
		}
		src := s.source[key]
		if src == "" {
			src = sourceDefault
		}
		entries = append(entries, configEntry{key, v, src})
	}
	if *jsonOut {
		return writeJSON(c.stdout, entries)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSOURCE\tVALUE")
	for _, e := range entries {
		v := e.Value
		if v == "" {
			v = `""`
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, e.Source, clean(v))
	}
	return tw.Flush()
}

// isSet reports whether the named flag was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// writeJSON prints v as indented JSON.
func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

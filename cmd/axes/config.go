package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
	"github.com/goaxes/axes/memstore"
)

// Where a setting's value comes from, highest precedence first.
const (
	sourceFlag    = "flag"
	sourceEnv     = "env"
	sourceFile    = "file"
	sourceDefault = "default"
)

// configs are the two configurations a command runs with, read from one
// file, one environment and one set of flags: the guard's lockout policy
// and the middleware's HTTP settings (which the demo serves with).
type configs struct {
	core axes.Config
	http httpaxes.Config
}

// effective returns both configurations with their defaults filled in.
func (c configs) effective() configs {
	return configs{core: c.core.Effective(), http: c.http.Effective()}
}

// settingRow is one row of the command's registry: a setting of
// axes.Config or of httpaxes.Config, read into and written from configs.
type settingRow struct {
	Env, Key, Help string
	get            func(configs) string
	set            func(*configs, string) error
}

// settingRows returns every setting, the guard's (axes.Settings) then the
// middleware's (httpaxes.Settings): the order of axes config, and of the
// setting flags.
func settingRows() []settingRow {
	var rows []settingRow
	for _, s := range axes.Settings() {
		rows = append(rows, settingRow{s.Env, s.Key, s.Help,
			func(c configs) string { return s.Get(c.core) },
			func(c *configs, v string) error { return s.Set(&c.core, v) }})
	}
	for _, s := range httpaxes.Settings() {
		rows = append(rows, settingRow{s.Env, s.Key, s.Help,
			func(c configs) string { return s.Get(c.http) },
			func(c *configs, v string) error { return s.Set(&c.http, v) }})
	}
	return rows
}

// settings is the configuration a command runs with, and where each value
// came from.
type settings struct {
	cfg  configs
	file string // the configuration file, or ""
	// source maps a file key ("failure_limit") to sourceFlag, sourceEnv or
	// sourceFile; keys not in it have their default.
	source map[string]string
	// problems are the values that could not be read (bad JSON, unknown
	// keys, values that do not parse), each naming the setting. The
	// configuration holds every value that could be read.
	problems []error
}

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
			if err := httpaxes.ParseJSON(data, &s.cfg.core, &s.cfg.http); err != nil {
				for _, e := range flatten(err) {
					s.problems = append(s.problems, fmt.Errorf("config file %s: %w", inert(s.file), e))
				}
			}
		}
	}
	before := s.cfg
	if err := s.cfg.core.ApplyEnv(lookup); err != nil {
		s.problems = append(s.problems, flatten(err)...)
	}
	if err := s.cfg.http.ApplyEnv(lookup); err != nil {
		s.problems = append(s.problems, flatten(err)...)
	}
	for _, st := range settingRows() {
		// A variable that is set gives the value, even one that does not
		// parse. A value that changed without its own variable was set by
		// a deprecated django-axes variable (lockout_parameters).
		v, ok := lookup(st.Env)
		if ok && strings.TrimSpace(v) != "" || st.get(before) != st.get(s.cfg) {
			s.source[st.Key] = sourceEnv
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if flg, ok := sf[f.Name]; ok {
			if err := flg.row.set(&s.cfg, *flg.value); err != nil {
				s.problems = append(s.problems, fmt.Errorf("--%s: %w", f.Name, err))
			}
			s.source[flg.row.Key] = sourceFlag
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

// validate reports every problem with both configurations.
func (c configs) validate() error {
	return errors.Join(c.core.Validate(), c.http.Validate())
}

// valid returns the configurations, or every problem with them.
func (s settings) valid() (configs, error) {
	if len(s.problems) > 0 {
		return s.cfg, fmt.Errorf("%w\n(axes check lists every problem)", errors.Join(s.problems...))
	}
	if err := s.cfg.validate(); err != nil {
		return s.cfg, fmt.Errorf("%w\n(axes check lists every problem)", err)
	}
	return s.cfg, nil
}

// loadConfig builds the configurations: defaults, then the file, then the
// environment, then the flags that were set; it fails on any problem.
func loadConfig(fs *flag.FlagSet, c commonFlags, sf settingFlags, lookup env) (configs, error) {
	s := loadSettings(fs, c, sf, lookup)
	if len(s.problems) > 0 {
		return s.cfg, errors.Join(s.problems...)
	}
	return s.cfg, s.cfg.validate()
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
	// The guard works out the failure window the configuration implies
	// when it sets none (from the cool-off or the tiers); show that one.
	g, err := axes.New(memstore.New(), cfg.core)
	if err != nil {
		return err
	}
	eff := cfg.effective()
	eff.core.FailureWindow = micros(g.Policy(axes.Identity{}).Window)

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
	for _, st := range settingRows() {
		src := s.source[st.Key]
		if src == "" {
			src = sourceDefault
		}
		entries = append(entries, configEntry{st.Key, st.get(eff), src})
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
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, e.Source, inert(v))
	}
	return tw.Flush()
}

// isSet reports whether the named flag was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// writeJSON prints v as indented JSON. The JSON is exact, and as inert
// on a terminal as text output: encoding/json escapes the C0 controls and
// U+2028/U+2029, and jsonInert the other characters inert escapes (DEL,
// C1 controls, bidi and zero-width characters), as \uXXXX; a decoder
// gets back the very bytes that were stored.
func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(jsonInert(data), '\n'))
	return err
}

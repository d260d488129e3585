package axes

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/goaxes/axes/internal/setting"
)

// legacySettings are the deprecated django-axes variables that ApplyEnv
// still honours when AXES_LOCKOUT_PARAMETERS is not set (see
// legacyParameters), and that check axes.W004 reports. They have no row in
// the registry: together they set one field, and no file key or flag.
var legacySettings = [...]string{
	"AXES_ONLY_USER_FAILURES", "AXES_LOCK_OUT_BY_USER_OR_IP",
	"AXES_LOCK_OUT_BY_COMBINATION_USER_AND_IP", "AXES_USE_USER_AGENT",
}

// ApplyEnv sets the fields of c from the AXES_* variables that lookup finds
// (os.LookupEnv for the process environment); variables that are not set,
// or set to the empty string, leave their field alone. Every bad value is
// reported, each as a *[ConfigError] naming the variable and what it must
// look like.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	errs := setting.ApplyEnv(registry, c, lookup, func(r setting.Row[Config], v string, err error) error {
		return envError(r.Env, r.Field, r.Help, v, err)
	})
	if _, ok := lookup("AXES_LOCKOUT_PARAMETERS"); !ok {
		legacy := func(name string) (bool, error) {
			v, ok := lookup(name)
			if !ok || strings.TrimSpace(v) == "" {
				return false, nil
			}
			b, err := setting.ParseBool(v)
			if err != nil {
				errs = append(errs, envError(name, "LockoutParameters", setting.BoolHelp, v, err))
			}
			return b, nil
		}
		if gs := legacyParameters(legacy); gs != nil {
			c.LockoutParameters = gs
		}
	}
	return errors.Join(errs...)
}

// legacyParameters maps the deprecated django-axes flags to lockout
// parameters, as django-axes does when AXES_LOCKOUT_PARAMETERS is unset.
func legacyParameters(flag func(string) (bool, error)) []Group {
	only, _ := flag("AXES_ONLY_USER_FAILURES")
	either, _ := flag("AXES_LOCK_OUT_BY_USER_OR_IP")
	combo, _ := flag("AXES_LOCK_OUT_BY_COMBINATION_USER_AND_IP")
	ua, _ := flag("AXES_USE_USER_AGENT")
	var gs []Group
	switch {
	case only:
		gs = []Group{{ParamUsername}}
	case either:
		gs = []Group{{ParamUsername}, {ParamIPAddress}}
	case combo:
		gs = []Group{{ParamUsername, ParamIPAddress}}
	case ua:
		gs = []Group{{ParamIPAddress}}
	default:
		return nil
	}
	if ua {
		gs[0] = append(gs[0], ParamUserAgent)
	}
	return gs
}

// envError is the *ConfigError for a value of a variable (or flag) that
// does not parse: it names the variable and shows the value and what the
// setting expects.
func envError(name, field, expect, value string, err error) error {
	return &ConfigError{Field: field, Env: name, Problem: setting.ValueProblem(value, err, expect)}
}

// LoadFile reads a JSON configuration file into c. Its keys are the
// environment variable names in lower case without the AXES_ prefix
// ("failure_limit", "cooloff_time", ...); values are JSON numbers, booleans,
// strings (durations with units: "15m") or lists. Unknown keys are errors,
// so a typo cannot silently leave a default in place. Every problem is
// reported at once.
//
// The keys of the HTTP layer (username_form_field, lockout_url, ...) are
// settings of httpaxes.Config, and unknown here: a file that holds both
// kinds is read into both configurations with httpaxes.LoadFile.
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("axes: config file: %w", err)
	}
	if err := c.ParseJSON(data); err != nil {
		return fmt.Errorf("axes: config file %s: %w", path, err)
	}
	return nil
}

// ParseJSON applies a JSON configuration document to c (see [Config.LoadFile]).
func (c *Config) ParseJSON(data []byte) error {
	entries, err := setting.DecodeJSON(data)
	if err != nil {
		return err
	}
	known := map[string]setting.Row[Config]{}
	for _, s := range registry {
		known[s.Key()] = s
	}
	var errs []error
	for _, e := range entries {
		s, ok := known[e.Key]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown key %q (a file with the settings of httpaxes too is read with httpaxes.LoadFile)", e.Key))
			continue
		}
		v, err := e.Text()
		if err == nil {
			err = s.Set(c, v)
		}
		if err != nil {
			errs = append(errs, &ConfigError{Field: s.Field, Env: e.Key, Problem: setting.FileProblem(err, s.Help)})
		}
	}
	return errors.Join(errs...)
}

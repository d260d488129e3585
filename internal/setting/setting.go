// Package setting holds the parts of a settings registry that do not depend
// on the configuration they set: a row type, generic in that configuration,
// constructors for the common kinds of value, and the text forms of those
// values as the environment, a configuration file and the command line
// write them.
//
// Package axes builds its registry from these rows. A package with a
// configuration type of its own (httpaxes) can build rows of that type the
// same way and offer them next to the core's.
package setting

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Row is one setting of a configuration of type T: its environment
// variable, the field it sets, what a value looks like, and the functions
// that read a value into a configuration and write it back out as text.
type Row[T any] struct {
	Env   string // the environment variable: AXES_FAILURE_LIMIT
	Field string // the field of T it sets: FailureLimit
	Help  string // what a value must look like, for help and error messages
	// Set parses v into c. Its error says what is wrong with v, without
	// naming the setting.
	Set func(c *T, v string) error
	// Get writes the value of c as Set reads it.
	Get func(c *T) string
}

// Key is the row's key in a configuration file: the variable name in lower
// case without the AXES_ prefix (failure_limit).
func (r Row[T]) Key() string { return strings.ToLower(strings.TrimPrefix(r.Env, "AXES_")) }

// BoolHelp is the help of every boolean setting.
const BoolHelp = "true, false, 1 or 0"

// Bool is a boolean setting stored in the field dst returns. With invert
// the field holds the opposite of the setting, as Config.Disabled holds
// the opposite of AXES_ENABLED.
func Bool[T any](env, field string, dst func(*T) *bool, invert bool) Row[T] {
	return Row[T]{
		Env: env, Field: field, Help: BoolHelp,
		Set: func(c *T, v string) error {
			b, err := ParseBool(v)
			if err != nil {
				return err
			}
			*dst(c) = b != invert
			return nil
		},
		Get: func(c *T) string { return strconv.FormatBool(*dst(c) != invert) },
	}
}

// Int is a whole-number setting of at least lo.
func Int[T any](env, field, help string, lo int, dst func(*T) *int) Row[T] {
	return Row[T]{
		Env: env, Field: field, Help: help,
		Set: func(c *T, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < lo {
				return errors.New("not a whole number in range")
			}
			*dst(c) = n
			return nil
		},
		Get: func(c *T) string { return strconv.Itoa(*dst(c)) },
	}
}

// Duration is a duration setting, written with units (see [ParseDuration]).
func Duration[T any](env, field string, dst func(*T) *time.Duration) Row[T] {
	return Row[T]{
		Env: env, Field: field, Help: `a duration with units such as "30m", "1h30m" or "0" for none`,
		Set: func(c *T, v string) error {
			d, err := ParseDuration(v)
			if err != nil {
				return err
			}
			*dst(c) = d
			return nil
		},
		Get: func(c *T) string { return FormatDuration(*dst(c)) },
	}
}

// Bound is a duration setting whose zero value means a default, and which
// "off" turns off (stored as -1): a time limit such as a wait or a
// deadline.
func Bound[T any](env, field string, dst func(*T) *time.Duration) Row[T] {
	return Row[T]{
		Env: env, Field: field, Help: `a duration with units such as "3s" or "500ms", "0" for the default, or "off"`,
		Set: func(c *T, v string) error {
			if strings.EqualFold(strings.TrimSpace(v), "off") {
				*dst(c) = -1
				return nil
			}
			d, err := ParseDuration(v)
			if err != nil {
				return err
			}
			*dst(c) = d
			return nil
		},
		Get: func(c *T) string {
			if *dst(c) < 0 {
				return "off"
			}
			return FormatDuration(*dst(c))
		},
	}
}

// String is a setting taken as it is written.
func String[T any](env, field string, dst func(*T) *string) Row[T] {
	return Row[T]{
		Env: env, Field: field, Help: "a string",
		Set: func(c *T, v string) error { *dst(c) = v; return nil },
		Get: func(c *T) string { return *dst(c) },
	}
}

// List is a comma-separated list of words (see [SplitList]).
func List[T any](env, field, help string, dst func(*T) *[]string) Row[T] {
	return Row[T]{
		Env: env, Field: field, Help: help,
		Set: func(c *T, v string) error { *dst(c) = SplitList(v); return nil },
		Get: func(c *T) string { return strings.Join(*dst(c), ",") },
	}
}

// Prefixes is a comma-separated list of IP addresses and CIDR prefixes (see
// [ParsePrefixes]).
func Prefixes[T any](env, field string, dst func(*T) *[]netip.Prefix) Row[T] {
	return Row[T]{
		Env: env, Field: field, Help: "a comma-separated list of IP addresses or CIDR prefixes",
		Set: func(c *T, v string) error {
			ps, err := ParsePrefixes(v)
			if err != nil {
				return err
			}
			*dst(c) = ps
			return nil
		},
		Get: func(c *T) string { return FormatPrefixes(*dst(c)) },
	}
}

package setting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ApplyEnv sets c from the variables of rows that lookup finds. A variable
// that is not set, or is blank, leaves its field alone. For a value that
// Set refuses, bad makes the error to report; every such error is
// returned, in the order of rows.
func ApplyEnv[T any](rows []Row[T], c *T, lookup func(string) (string, bool), bad func(r Row[T], v string, err error) error) []error {
	var errs []error
	for _, r := range rows {
		v, ok := lookup(r.Env)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		if err := r.Set(c, v); err != nil {
			errs = append(errs, bad(r, v, err))
		}
	}
	return errs
}

// ValueProblem says what is wrong with the value v of a variable or flag
// that Set refused with err: the value, cut to 80 bytes, the reason, and
// what the setting expects (its help).
func ValueProblem(v string, err error, help string) string {
	if len(v) > 80 {
		v = v[:80] + "..."
	}
	return fmt.Sprintf("%q is not valid (%v); expected %s", v, err, help)
}

// FileProblem says what is wrong with a value of a configuration file
// that Set refused with err, and what the setting expects.
func FileProblem(err error, help string) string {
	return fmt.Sprintf("%v; expected %s", err, help)
}

// Entry is one key of a configuration file with its JSON value.
type Entry struct {
	Key string
	Raw json.RawMessage
}

// Text is the value as Row.Set reads it: strings as they are, numbers
// and booleans as written, lists of strings joined by commas, nested
// lists passed on as JSON.
func (e Entry) Text() (string, error) {
	var v any
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return string(e.Raw), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, el := range x {
			s, ok := el.(string)
			if !ok {
				return string(e.Raw), nil // nested: let the parser read JSON
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case nil:
		return "", errors.New("null is not a value")
	}
	return "", fmt.Errorf("unsupported JSON value %s", e.Raw)
}

// DecodeJSON reads a configuration document, one JSON object, into its
// entries in the order of their keys, so that problems are reported in
// the same order on every run.
func DecodeJSON(data []byte) ([]Entry, error) {
	var doc map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	out := make([]Entry, 0, len(doc))
	for k, v := range doc {
		out = append(out, Entry{Key: k, Raw: v})
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// FoldPrefixes folds each prefix as [FoldPrefix] does, into a new slice.
func FoldPrefixes(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return ps
	}
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = FoldPrefix(p)
	}
	return out
}

package axes

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goaxes/axes/internal/setting"
)

// parseLockoutParameters parses lockout parameter groups: groups separated
// by commas, parameters in a group joined by "+" ("username,ip_address"
// locks on either, "username+ip_address" on the pair), or the django-axes
// JSON list form, where a nested list is a combination:
// ["ip_address", ["username", "user_agent"]].
func parseLockoutParameters(v string) ([]Group, error) {
	v = strings.TrimSpace(v)
	var gs []Group
	if strings.HasPrefix(v, "[") {
		var items []any
		if err := json.Unmarshal([]byte(v), &items); err != nil {
			return nil, errors.New("not a JSON list")
		}
		for _, it := range items {
			switch x := it.(type) {
			case string:
				gs = append(gs, Group{Param(x)})
			case []any:
				var g Group
				for _, e := range x {
					s, ok := e.(string)
					if !ok {
						return nil, errors.New("a combination must list parameter names")
					}
					g = append(g, Param(s))
				}
				gs = append(gs, g)
			default:
				return nil, errors.New("items must be names or lists of names")
			}
		}
	} else {
		for _, part := range setting.SplitList(v) {
			var g Group
			for _, p := range strings.Split(part, "+") {
				g = append(g, Param(strings.TrimSpace(p)))
			}
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		return nil, errors.New("no groups")
	}
	for _, g := range gs {
		if err := validateGroup(g); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// parseTiers parses progressive lockout tiers, "3:1m,6:15m,10:24h", or a
// JSON list of {"failures": 3, "cooloff": "1m"} objects. The empty string
// is no tiers, as axes config writes them.
func parseTiers(v string) ([]Tier, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	var ts []Tier
	if strings.HasPrefix(v, "[") {
		var items []struct {
			Failures int    `json:"failures"`
			CoolOff  string `json:"cooloff"`
		}
		if err := json.Unmarshal([]byte(v), &items); err != nil {
			return nil, errors.New(`not a JSON list of {"failures": N, "cooloff": "15m"}`)
		}
		for _, it := range items {
			d, err := setting.ParseDuration(it.CoolOff)
			if err != nil {
				return nil, fmt.Errorf("tier %d: %v", it.Failures, err)
			}
			ts = append(ts, Tier{Failures: it.Failures, CoolOff: d})
		}
	} else {
		for _, part := range setting.SplitList(v) {
			n, d, ok := strings.Cut(part, ":")
			if !ok {
				return nil, fmt.Errorf("%q has no colon", part)
			}
			f, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil || f < 1 {
				return nil, fmt.Errorf("%q: failures must be a whole number of at least 1", part)
			}
			c, err := setting.ParseDuration(d)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", part, err)
			}
			ts = append(ts, Tier{Failures: f, CoolOff: c})
		}
	}
	if len(ts) == 0 {
		return nil, errors.New("no tiers")
	}
	return ts, nil
}

// formatGroups writes lockout parameter groups as parseLockoutParameters
// reads them: "ip_address,username+ip_address".
func formatGroups(gs []Group) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}

// formatTiers writes tiers as parseTiers reads them: "3:1m,6:15m,10:0".
func formatTiers(ts []Tier) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = strconv.Itoa(t.Failures) + ":" + setting.FormatDuration(t.CoolOff)
	}
	return strings.Join(parts, ",")
}

package axes

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goaxes/axes/internal/wire"
)

func codes(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"defaults", Config{}, nil},
		{"username only without cool-off", Config{LockoutParameters: []Group{{ParamUsername}}}, []string{"axes.W006", "axes.W104"}},
		{"username only with cool-off", Config{LockoutParameters: []Group{{ParamUsername}}, CoolOff: time.Hour}, []string{"axes.W006"}},
		{"username+ip", Config{LockoutParameters: []Group{{ParamUsername, ParamIPAddress}}}, nil},
		{"tiers and cool-off", Config{Tiers: []Tier{{3, time.Minute}}, CoolOff: time.Hour}, []string{"axes.W007"}},
		{"bad tiers", Config{Tiers: []Tier{{0, time.Minute}}}, []string{"axes.W008"}},
		{"cool-off below window", Config{CoolOff: time.Minute, FailureWindow: time.Hour}, []string{"axes.W103"}},
		{"limit below one", Config{FailureLimit: -2}, []string{"axes.E103"}},
		{"only allowlist empty", Config{OnlyAllowlist: true}, []string{"axes.E104"}},
		{"fail open", Config{FailOpen: true}, []string{"axes.W108"}},
		{"unknown silenced code", Config{SilencedChecks: []string{"axes.W999"}}, []string{"axes.I001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := codes(tc.cfg.Check())
			if !slices.Equal(got, tc.want) {
				t.Errorf("Check() = %v, want %v", got, tc.want)
			}
		})
	}
}

type pingStore struct {
	*mapStore
	err error
	cur int
}

func (p pingStore) Ping(context.Context) error                      { return p.err }
func (p pingStore) Migrate(context.Context) ([]string, error)       { return nil, nil }
func (p pingStore) SchemaVersion(context.Context) (int, int, error) { return p.cur, 2, nil }

func TestGuardCheck(t *testing.T) {
	// The map store keeps no rules and no audit log: W106, W107.
	g, err := New(pingStore{mapStore: newMapStore(), cur: 1}, Config{SilencedChecks: []string{"axes.W002"}})
	if err != nil {
		t.Fatal(err)
	}
	got := codes(g.Check(context.Background()))
	if want := []string{"axes.W106", "axes.E102", "axes.W107", "axes.W003"}; !slices.Equal(got, want) {
		t.Errorf("Check() = %v, want %v", got, want)
	}
	wire.Mark(g, wire.Check)
	g2, _ := New(pingStore{mapStore: newMapStore(), err: errors.New("connection refused"), cur: 2}, Config{DisableAccessLog: true, SilencedChecks: []string{"axes.W106"}})
	wire.Mark(g2, wire.Response)
	wire.Mark(g2, wire.Check)
	if got, want := codes(g2.Check(context.Background())), []string{"axes.E101"}; !slices.Equal(got, want) {
		t.Errorf("unreachable store: Check() = %v, want %v", got, want)
	}
}

func TestCheckEnvDeprecated(t *testing.T) {
	fs := CheckEnv(lookupMap(map[string]string{"AXES_USE_USER_AGENT": "1", "AXES_FAILURE_LIMIT": "3"}))
	if got := codes(fs); !slices.Equal(got, []string{"axes.W004"}) {
		t.Errorf("CheckEnv = %v", got)
	}
}

// TestCheckTable: every check has one row with a code of its own and a
// summary, and every finding the checks produce has its row's level.
func TestCheckTable(t *testing.T) {
	seen := map[string]bool{}
	for k, c := range checkTable {
		if c.Code == "" || c.Summary == "" {
			t.Errorf("check %d has no row in checkTable: %+v", k, c)
		}
		if seen[c.Code] {
			t.Errorf("%s is in checkTable twice", c.Code)
		}
		seen[c.Code] = true
		if !strings.HasPrefix(c.Code, "axes.") || len(c.Code) != len("axes.W001") {
			t.Errorf("%s is not a code of the form axes.W001", c.Code)
		}
	}
	got := Checks()
	got[0].Code = "changed"
	if Checks()[0].Code != "axes.W001" {
		t.Error("changing the result of Checks changed the table")
	}

	levels := map[string]Level{}
	for _, c := range Checks() {
		levels[c.Code] = c.Level
	}
	var fs []Finding
	for _, cfg := range []Config{
		{FailureLimit: -1, Tiers: []Tier{{0, 0}}, OnlyAllowlist: true, IPv6Prefix: 200},
		{LockoutParameters: []Group{{ParamUsername}}, SilencedChecks: []string{"axes.W999"}},
		{Tiers: []Tier{{3, time.Minute}}, CoolOff: time.Hour},
	} {
		fs = append(fs, cfg.Check()...)
	}
	fs = append(fs, CheckEnv(lookupMap(map[string]string{"AXES_USE_USER_AGENT": "1"}))...)
	for _, f := range fs {
		if want, ok := levels[f.Code]; !ok || f.Level != want {
			t.Errorf("%s: level %s, the table says %s", f.Code, f.Level, want)
		}
	}
}

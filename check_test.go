package axes

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
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
		{"username only without cool-off", Config{LockoutParameters: []Group{{ParamUsername}}}, []string{CheckNoIPParameter, CheckUsernamePermanent}},
		{"username only with cool-off", Config{LockoutParameters: []Group{{ParamUsername}}, CoolOff: time.Hour}, []string{CheckNoIPParameter}},
		{"username+ip", Config{LockoutParameters: []Group{{ParamUsername, ParamIPAddress}}}, nil},
		{"tiers and cool-off", Config{Tiers: []Tier{{3, time.Minute}}, CoolOff: time.Hour}, []string{CheckTiersWithCoolOff}},
		{"bad tiers", Config{Tiers: []Tier{{0, time.Minute}}}, []string{CheckTiersInvalid}},
		{"trust all", Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, []string{CheckProxiesTrustAll}},
		{"header without proxy", Config{ForwardedHeader: "X-Real-IP"}, []string{CheckHeaderWithoutProxy}},
		{"cool-off below window", Config{CoolOff: time.Minute, FailureWindow: time.Hour}, []string{CheckCoolOffBelowWindow}},
		{"limit below one", Config{FailureLimit: -2}, []string{CheckLimitBelowOne}},
		{"only allowlist empty", Config{OnlyAllowlist: true}, []string{CheckOnlyAllowlistEmpty}},
		{"unknown silenced code", Config{SilencedChecks: []string{"axes.W999"}}, []string{CheckUnknownSilenced}},
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
	g, err := New(pingStore{mapStore: newMapStore(), cur: 1}, Config{SilencedChecks: []string{CheckResponseNotWired}})
	if err != nil {
		t.Fatal(err)
	}
	got := codes(g.Check(context.Background()))
	if want := []string{CheckSchemaBehind, CheckCheckNotWrapped}; !slices.Equal(got, want) {
		t.Errorf("Check() = %v, want %v", got, want)
	}
	g.MarkWired(WiredCheck)
	g2, _ := New(pingStore{mapStore: newMapStore(), err: errors.New("connection refused"), cur: 2}, Config{})
	g2.MarkWired(WiredResponse)
	g2.MarkWired(WiredCheck)
	if got, want := codes(g2.Check(context.Background())), []string{CheckStoreUnreachable}; !slices.Equal(got, want) {
		t.Errorf("unreachable store: Check() = %v, want %v", got, want)
	}
}

func TestCheckEnvDeprecated(t *testing.T) {
	fs := CheckEnv(lookupMap(map[string]string{"AXES_USE_USER_AGENT": "1", "AXES_FAILURE_LIMIT": "3"}))
	if got := codes(fs); !slices.Equal(got, []string{CheckDeprecatedSetting}) {
		t.Errorf("CheckEnv = %v", got)
	}
}

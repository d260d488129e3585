package storage_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goaxes/axes/internal/refmodel"
	"github.com/goaxes/axes/storage"
)

var update = flag.Bool("update", false, "rewrite storage/testdata/steps.json (and its copy in internal/refmodel) from storage.Apply")

// The golden vectors live here and, byte for byte, in internal/refmodel,
// which embeds them for axestest.RunStepVectors.
var (
	goldenPath = filepath.Join("testdata", "steps.json")
	copyPath   = filepath.Join("..", "internal", "refmodel", "testdata", "steps.json")
)

// Times in microseconds. t0 is 2026-01-01T00:00:00Z, the start of cohort s0
// under the usual 30 s lease.
const (
	sec   = int64(1_000_000)
	mins  = 60 * sec
	hr    = 60 * mins
	t0    = int64(1_767_225_600) * sec
	lease = 30 * sec
	s0    = t0 / lease
)

// pmod changes the usual policy: 3 failures lock for 10 minutes, a
// 30-minute window, a 30 s lease.
type pmod func(*storage.Policy)

func pol(mods ...pmod) storage.Policy {
	p := storage.Policy{
		Limit:  3,
		Tiers:  []storage.Tier{{Failures: 3, CoolOff: 10 * mins}},
		Window: 30 * mins,
		Lease:  lease,
	}
	for _, m := range mods {
		m(&p)
	}
	return p
}

// tiers sets the tiers as pairs (failures, cool-off), and the limit to the
// first tier.
func tiers(pairs ...int64) pmod {
	return func(p *storage.Policy) {
		p.Tiers = nil
		for i := 0; i < len(pairs); i += 2 {
			p.Tiers = append(p.Tiers, storage.Tier{Failures: int(pairs[i]), CoolOff: pairs[i+1]})
		}
		p.Limit = p.Tiers[0].Failures
	}
}

func window(d int64) pmod          { return func(p *storage.Policy) { p.Window = d } }
func leaseOf(d int64) pmod         { return func(p *storage.Policy) { p.Lease = d } }
func recordOnly(p *storage.Policy) { p.RecordOnly = true }
func fixed(p *storage.Policy)      { p.FixedCoolOff = true }

// sb builds a step.
type sb storage.Step

func mk(k storage.Kind, now int64, mods ...pmod) sb {
	return sb{Kind: k, Now: now, Policy: pol(mods...)}
}

func (s sb) held(slot int64) sb { s.Held, s.Slot = true, slot; return s }
func (s sb) by(user string) sb  { s.User = user; return s }

// sh lists shares as pairs (user, failures).
func sh(pairs ...any) []storage.Share {
	var out []storage.Share
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, storage.Share{User: pairs[i].(string), Failures: pairs[i+1].(int)})
	}
	return out
}

// crowd returns n shares, of users u00, u01, ..., with failures f(i).
func crowd(n int, f func(i int) int) []storage.Share {
	out := make([]storage.Share, n)
	for i := range out {
		out[i] = storage.Share{User: fmt.Sprintf("u%02d", i), Failures: f(i)}
	}
	return out
}

// kv lists hand-written expectations, pairs of a field ("a.locked" in the
// answer, "s.reserved" in the state, named as in the JSON) and its value.
// They are checked besides the generated vectors, so that a vector does not
// merely repeat what Apply happened to do.
type kv []any

type gcase struct {
	name  string
	step  sb
	state storage.State
	want  kv
}

var (
	adm  = storage.Admit
	peek = storage.Peek
	fail = storage.Fail
	rel  = storage.Release
	clr  = storage.Clear
	take = storage.Take
)

// goldenCases are the inputs of the golden vectors.
func goldenCases() []gcase {
	one := func(int) int { return 1 }
	return []gcase{
		// Peek: the bucket as it stands.
		{"peek/absent", mk(peek, t0), storage.State{}, kv{"a.failures", 0, "s.expires_at_us", 0}},
		{"peek/below-limit", mk(peek, t0+mins), storage.State{Failures: 2, LastFailure: t0, ExpiresAt: t0 + 30*mins},
			kv{"a.failures", 2, "a.locked", false, "a.forget_at_us", t0 + 30*mins, "s.expires_at_us", t0 + 30*mins}},
		{"peek/locked", mk(peek, t0+mins), storage.State{Failures: 3, LastFailure: t0, ExpiresAt: t0 + 30*mins},
			kv{"a.locked", true, "a.until_us", t0 + 10*mins, "a.forget_at_us", t0 + 30*mins}},
		{"peek/lock-last-microsecond", mk(peek, t0+10*mins-1), storage.State{Failures: 3, LastFailure: t0, ExpiresAt: t0 + 30*mins},
			kv{"a.locked", true}},
		{"peek/lock-ends", mk(peek, t0+10*mins), storage.State{Failures: 3, LastFailure: t0, ExpiresAt: t0 + 30*mins},
			kv{"a.locked", false, "a.until_us", 0, "a.failures", 3}},
		{"peek/window-last-microsecond", mk(peek, t0+30*mins-1), storage.State{Failures: 2, LastFailure: t0, ExpiresAt: t0 + 30*mins},
			kv{"a.failures", 2}},
		{"peek/window-forgets", mk(peek, t0+30*mins), storage.State{Failures: 2, LastFailure: t0},
			kv{"a.failures", 0, "s.failures", 0, "s.last_failure_us", 0}},
		{"peek/lock-forgotten-after-window", mk(peek, t0+30*mins), storage.State{Failures: 3, LastFailure: t0},
			kv{"a.failures", 0, "a.locked", false}},
		{"peek/expired-state-reads-absent", mk(peek, t0+mins), storage.State{Failures: 3, LastFailure: t0, ExpiresAt: t0 + mins},
			kv{"a.locked", false, "a.failures", 0, "s.failures", 0}},
		{"peek/expiry-last-microsecond", mk(peek, t0+mins-1), storage.State{Failures: 3, LastFailure: t0, ExpiresAt: t0 + mins},
			kv{"a.locked", true, "s.expires_at_us", t0 + 30*mins}},
		{"peek/permanent-lock", mk(peek, t0+100*hr, tiers(3, 0)), storage.State{Failures: 3, LastFailure: t0},
			kv{"a.locked", true, "a.until_us", 0, "a.forget_at_us", 0, "s.expires_at_us", 0}},
		{"peek/window-zero-never-forgets", mk(peek, t0, window(0)), storage.State{Failures: 2, LastFailure: t0 - 1000*hr},
			kv{"a.failures", 2, "a.forget_at_us", 0, "s.expires_at_us", 0}},

		// Admit.
		{"admit/idle-bucket", mk(adm, t0+5*sec), storage.State{},
			kv{"a.admitted", true, "a.slot", s0, "a.in_flight", 1, "s.reserved", 1, "s.slot", s0, "s.expires_at_us", t0 + 60*sec + 30*mins}},
		{"admit/joins-cohort", mk(adm, t0+10*sec), storage.State{Reserved: 1, Slot: s0, ExpiresAt: t0 + 31*mins},
			kv{"a.admitted", true, "s.reserved", 2, "s.older", 0}},
		{"admit/next-cohort", mk(adm, t0+40*sec), storage.State{Reserved: 1, Slot: s0, ExpiresAt: t0 + 31*mins},
			kv{"a.slot", s0 + 1, "s.slot", s0 + 1, "s.older", 1, "s.reserved", 1, "s.expires_at_us", t0 + 90*sec + 30*mins}},
		{"admit/last-place", mk(adm, t0+10*sec), storage.State{Failures: 1, LastFailure: t0, Reserved: 1, Slot: s0},
			kv{"a.admitted", true, "s.reserved", 2}},
		{"admit/full", mk(adm, t0+10*sec), storage.State{Failures: 1, LastFailure: t0, Reserved: 2, Slot: s0},
			kv{"a.full", true, "a.admitted", false, "a.counted", false, "a.until_us", t0 + 60*sec, "a.locked", false}},
		{"admit/full-older-cohort-only", mk(adm, t0+40*sec), storage.State{Failures: 2, LastFailure: t0, Older: 1, Slot: s0 + 1},
			kv{"a.full", true, "a.until_us", t0 + 60*sec}},
		{"admit/full-tickets-only", mk(adm, t0+sec), storage.State{Reserved: 3, Slot: s0},
			kv{"a.full", true, "a.until_us", t0 + 60*sec, "a.in_flight", 3}},
		{"admit/full-lease-zero", mk(adm, t0+sec, leaseOf(0)), storage.State{Failures: 2, LastFailure: t0, Reserved: 1},
			kv{"a.full", true, "a.until_us", 0}},
		{"admit/limit-one-full", mk(adm, t0+sec, tiers(1, mins)), storage.State{Reserved: 1, Slot: s0},
			kv{"a.full", true}},
		{"admit/locked-counts", mk(adm, t0+mins), storage.State{Failures: 3, LastFailure: t0},
			kv{"a.counted", true, "a.admitted", false, "a.locked", true, "a.failures", 4, "a.last_failure_us", t0 + mins, "a.until_us", t0 + 11*mins}},
		{"admit/locked-counts-share", mk(adm, t0+mins).by("alice"), storage.State{Failures: 3, LastFailure: t0, Shares: sh("alice", 1)},
			kv{"a.counted", true, "s.shares", sh("alice", 2)}},
		{"admit/locked-fixed-cooloff", mk(adm, t0+mins, fixed).by("alice"), storage.State{Failures: 3, LastFailure: t0},
			kv{"a.counted", false, "a.admitted", false, "a.locked", true, "a.failures", 3, "a.until_us", t0 + 10*mins, "s.shares", nil}},
		{"admit/record-only-over-limit", mk(adm, t0+mins, recordOnly), storage.State{Failures: 5, LastFailure: t0},
			kv{"a.admitted", true, "a.locked", false, "a.counted", false}},
		{"admit/record-only-never-full", mk(adm, t0+sec, recordOnly), storage.State{Reserved: 3, Slot: s0},
			kv{"a.admitted", true, "s.reserved", 4}},
		{"admit/probe-after-cooloff", mk(adm, t0+11*mins), storage.State{Failures: 3, LastFailure: t0},
			kv{"a.admitted", true, "a.locked", false, "a.failures", 3, "s.reserved", 1}},
		{"admit/second-probe-full", mk(adm, t0+11*mins+10*sec), storage.State{Failures: 3, LastFailure: t0, Reserved: 1, Slot: s0 + 22},
			kv{"a.full", true, "a.until_us", (s0 + 24) * lease}},
		{"admit/lease-zero", mk(adm, t0+sec, leaseOf(0)), storage.State{},
			kv{"a.admitted", true, "a.slot", 0, "s.reserved", 1, "s.slot", 0, "s.expires_at_us", 0}},
		{"admit/lease-zero-joins", mk(adm, t0+hr, leaseOf(0)), storage.State{Reserved: 1},
			kv{"a.admitted", true, "s.reserved", 2}},
		{"admit/clock-back-keeps-cohort", mk(adm, t0+5*sec), storage.State{Reserved: 1, Slot: s0 + 4},
			kv{"a.admitted", true, "a.slot", s0 + 4, "s.slot", s0 + 4, "s.reserved", 2}},
		{"admit/clock-back-idle-bucket", mk(adm, t0), storage.State{Failures: 1, LastFailure: t0 + 5*mins, Slot: s0 + 10},
			kv{"a.slot", s0, "s.slot", s0, "s.last_failure_us", t0 + 5*mins}},
		{"admit/older-lapse-locks-first", mk(adm, t0+40*sec), storage.State{Failures: 2, LastFailure: t0, Older: 1, Slot: s0},
			kv{"a.counted", true, "a.admitted", false, "a.failures", 4, "a.until_us", t0 + 40*sec + 10*mins}},
		{"admit/expired-state-is-fresh", mk(adm, t0+2*mins), storage.State{Failures: 3, LastFailure: t0, ExpiresAt: t0 + mins},
			kv{"a.admitted", true, "a.failures", 0}},

		// Lapses: cohort k lapses into failures at (k+2)·lease.
		{"lapse/none-before-boundary", mk(peek, t0+30*sec-1), storage.State{Reserved: 1, Older: 1, Slot: s0},
			kv{"a.in_flight", 2, "a.failures", 0, "s.slot", s0}},
		{"lapse/older-at-boundary", mk(peek, t0+30*sec), storage.State{Reserved: 1, Older: 1, Slot: s0},
			kv{"a.failures", 1, "a.last_failure_us", t0 + 30*sec, "s.older", 1, "s.reserved", 0, "s.slot", s0 + 1}},
		{"lapse/older-cohort", mk(peek, t0+45*sec), storage.State{Reserved: 1, Older: 1, Slot: s0},
			kv{"a.failures", 1, "a.last_failure_us", t0 + 30*sec, "a.in_flight", 1}},
		{"lapse/reserved-one-before", mk(peek, t0+60*sec-1), storage.State{Reserved: 2, Slot: s0},
			kv{"a.failures", 0, "s.older", 2, "s.slot", s0 + 1}},
		{"lapse/reserved-at-boundary", mk(peek, t0+60*sec), storage.State{Reserved: 2, Slot: s0},
			kv{"a.failures", 2, "a.in_flight", 0, "s.slot", 0}},
		{"lapse/both-cohorts", mk(peek, t0+65*sec), storage.State{Reserved: 1, Older: 1, Slot: s0},
			kv{"a.failures", 2, "a.last_failure_us", t0 + 60*sec, "a.in_flight", 0, "s.slot", 0}},
		{"lapse/both-into-lock", mk(peek, t0+2*mins), storage.State{Failures: 1, LastFailure: t0, Reserved: 1, Older: 1, Slot: s0},
			kv{"a.locked", true, "a.failures", 3, "a.until_us", t0 + 60*sec + 10*mins}},
		{"lapse/long-after", mk(peek, t0+20*mins), storage.State{Reserved: 1, Older: 1, Slot: s0},
			kv{"a.failures", 2, "a.last_failure_us", t0 + 60*sec}},
		{"lapse/then-forgotten", mk(peek, t0+60*sec+30*mins), storage.State{Reserved: 1, Older: 1, Slot: s0},
			kv{"a.failures", 0, "s.failures", 0}},
		{"lapse/forgetting-due-first", mk(peek, t0+2*mins), storage.State{Failures: 2, LastFailure: t0 - 30*mins + 40*sec, Reserved: 1, Slot: s0},
			kv{"a.failures", 1, "a.locked", false, "a.last_failure_us", t0 + 60*sec}},
		{"lapse/forgetting-at-lapse-time", mk(peek, t0+2*mins), storage.State{Failures: 2, LastFailure: t0 - 30*mins + 60*sec, Reserved: 1, Slot: s0},
			kv{"a.failures", 1, "a.locked", false}},
		{"lapse/forgetting-just-after-lapse", mk(peek, t0+2*mins), storage.State{Failures: 2, LastFailure: t0 - 30*mins + 60*sec + 1, Reserved: 1, Slot: s0},
			kv{"a.failures", 3, "a.locked", true, "a.until_us", t0 + 60*sec + 10*mins}},
		{"lapse/older-lapse-renews-window", mk(peek, t0+2*mins), storage.State{Failures: 2, LastFailure: t0 - 30*mins + 40*sec, Reserved: 1, Older: 1, Slot: s0},
			kv{"a.failures", 4, "a.locked", true, "a.until_us", t0 + 60*sec + 10*mins}},
		{"lapse/lock-over-by-now", mk(peek, t0+60*sec+10*mins), storage.State{Failures: 2, LastFailure: t0, Reserved: 1, Slot: s0},
			kv{"a.failures", 3, "a.locked", false}},
		{"lapse/lease-zero-never", mk(peek, t0+100*hr, leaseOf(0), window(0)), storage.State{Reserved: 2},
			kv{"a.in_flight", 2, "a.failures", 0, "s.expires_at_us", 0}},
		{"lapse/steady-traffic", mk(adm, t0+31*sec, tiers(5, 10*mins)), storage.State{Reserved: 2, Older: 1, Slot: s0},
			kv{"a.admitted", true, "a.slot", s0 + 1, "a.failures", 1, "s.older", 2, "s.reserved", 1}},
		{"lapse/late-fail-not-counted", mk(fail, t0+2*mins).held(s0), storage.State{Failures: 1, LastFailure: t0 + 60*sec},
			kv{"a.counted", false, "a.failures", 1}},
		{"lapse/late-fail-lapses-in-this-step", mk(fail, t0+65*sec).held(s0), storage.State{Reserved: 1, Slot: s0},
			kv{"a.counted", false, "a.failures", 1, "a.last_failure_us", t0 + 60*sec}},
		{"lapse/late-fail-keeps-newer-place", mk(fail, t0+40*sec).held(s0 - 1), storage.State{Reserved: 1, Older: 1, Slot: s0},
			kv{"a.counted", false, "a.failures", 1, "a.in_flight", 1, "s.older", 1, "s.slot", s0 + 1}},
		{"lapse/late-fail-newer-ticket-in-flight", mk(fail, t0+2*mins+10*sec).held(s0), storage.State{Failures: 1, LastFailure: t0 + 60*sec, Reserved: 1, Slot: s0 + 4},
			kv{"a.counted", false, "a.failures", 1, "s.reserved", 1}},
		{"lapse/late-release", mk(rel, t0+2*mins+10*sec).held(s0), storage.State{Failures: 1, LastFailure: t0 + 60*sec, Reserved: 1, Slot: s0 + 4},
			kv{"a.failures", 1, "s.reserved", 1}},
		{"lapse/late-clear-keeps-newer", mk(clr, t0+2*mins+10*sec).held(s0), storage.State{Failures: 1, LastFailure: t0 + 60*sec, Reserved: 1, Slot: s0 + 4},
			kv{"a.taken", 1, "a.failures", 0, "s.reserved", 1}},
		{"lapse/late-take-keeps-newer", mk(take, t0+2*mins+10*sec).held(s0).by("alice"), storage.State{Failures: 2, LastFailure: t0 + 60*sec, Shares: sh("alice", 1), Reserved: 1, Slot: s0 + 4},
			kv{"a.taken", 1, "a.failures", 1, "s.reserved", 1}},

		// Fail.
		{"fail/held-reserved", mk(fail, t0+10*sec).held(s0), storage.State{Reserved: 1, Slot: s0, ExpiresAt: t0 + 31*mins},
			kv{"a.counted", true, "a.failures", 1, "a.last_failure_us", t0 + 10*sec, "s.reserved", 0, "s.slot", 0, "s.expires_at_us", t0 + 31*mins}},
		{"fail/held-older", mk(fail, t0+40*sec).held(s0), storage.State{Older: 1, Slot: s0 + 1},
			kv{"a.counted", true, "a.in_flight", 0}},
		{"fail/held-one-of-two", mk(fail, t0+10*sec).held(s0), storage.State{Reserved: 2, Slot: s0},
			kv{"a.counted", true, "s.reserved", 1, "s.slot", s0}},
		{"fail/reaches-limit", mk(fail, t0+10*sec).held(s0), storage.State{Failures: 2, LastFailure: t0, Reserved: 1, Slot: s0},
			kv{"a.locked", true, "a.until_us", t0 + 10*sec + 10*mins, "a.forget_at_us", t0 + 10*sec + 30*mins}},
		{"fail/unheld", mk(fail, t0), storage.State{},
			kv{"a.counted", true, "a.failures", 1, "s.expires_at_us", t0 + 30*mins}},
		{"fail/unheld-while-locked", mk(fail, t0+mins), storage.State{Failures: 3, LastFailure: t0},
			kv{"a.failures", 4, "a.until_us", t0 + 11*mins}},
		{"fail/credits-user", mk(fail, t0).by("alice"), storage.State{},
			kv{"s.shares", sh("alice", 1)}},
		{"fail/existing-share", mk(fail, t0+sec).by("alice"), storage.State{Failures: 2, LastFailure: t0, Shares: sh("alice", 1, "bob", 1)},
			kv{"s.shares", sh("alice", 2, "bob", 1)}},
		{"fail/unknown-ticket", mk(fail, t0+10*sec).held(s0 + 5), storage.State{Reserved: 1, Slot: s0},
			kv{"a.counted", false, "s.reserved", 1}},
		{"fail/held-nothing-in-flight", mk(fail, t0+10*sec).held(0), storage.State{Failures: 1, LastFailure: t0},
			kv{"a.counted", false, "a.failures", 1}},
		{"fail/held-lease-zero", mk(fail, t0+hr, leaseOf(0)).held(0), storage.State{Reserved: 1},
			kv{"a.counted", true, "a.in_flight", 0}},
		{"fail/tier-first", mk(fail, t0+10*sec, tiers(3, mins, 5, 10*mins, 8, 0)), storage.State{Failures: 2, LastFailure: t0},
			kv{"a.locked", true, "a.until_us", t0 + 10*sec + mins, "a.forget_at_us", t0 + 10*sec + 30*mins}},
		{"fail/tier-just-below-next", mk(fail, t0+10*sec, tiers(3, mins, 5, 10*mins, 8, 0)), storage.State{Failures: 3, LastFailure: t0},
			kv{"a.failures", 4, "a.until_us", t0 + 10*sec + mins}},
		{"fail/tier-second", mk(fail, t0+2*mins, tiers(3, mins, 5, 10*mins, 8, 0)), storage.State{Failures: 4, LastFailure: t0},
			kv{"a.failures", 5, "a.until_us", t0 + 12*mins}},
		{"fail/tier-between", mk(fail, t0+mins, tiers(3, mins, 5, 10*mins, 8, 0)), storage.State{Failures: 5, LastFailure: t0},
			kv{"a.failures", 6, "a.until_us", t0 + 11*mins}},
		{"fail/tier-permanent", mk(fail, t0+mins, tiers(3, mins, 5, 10*mins, 8, 0)), storage.State{Failures: 7, LastFailure: t0, ExpiresAt: t0 + 30*mins},
			kv{"a.failures", 8, "a.locked", true, "a.until_us", 0, "a.forget_at_us", 0, "s.expires_at_us", 0}},
		{"fail/tier-cooloff-beyond-window", mk(fail, t0+mins, tiers(3, mins, 5, 2*hr)), storage.State{Failures: 4, LastFailure: t0, ExpiresAt: t0 + 30*mins},
			kv{"a.until_us", t0 + mins + 2*hr, "a.forget_at_us", t0 + mins + 2*hr, "s.expires_at_us", t0 + mins + 2*hr}},
		{"fail/record-only", mk(fail, t0+mins, recordOnly), storage.State{Failures: 3, LastFailure: t0},
			kv{"a.failures", 4, "a.locked", false}},
		{"fail/window-shorter-than-cooloff", mk(fail, t0, window(mins)), storage.State{Failures: 2, LastFailure: t0 - 30*sec, ExpiresAt: t0 + 30*sec},
			kv{"a.locked", true, "a.until_us", t0 + 10*mins, "a.forget_at_us", t0 + 10*mins, "s.expires_at_us", t0 + 10*mins}},
		{"fail/clock-back-keeps-last-failure", mk(fail, t0), storage.State{Failures: 1, LastFailure: t0 + 5*mins},
			kv{"a.failures", 2, "a.last_failure_us", t0 + 5*mins}},
		{"fail/after-window", mk(fail, t0+30*mins), storage.State{Failures: 2, LastFailure: t0},
			kv{"a.failures", 1, "a.last_failure_us", t0 + 30*mins}},

		// A 10-minute lock with a 1-minute window.
		{"window-short/locked-at-minute-2", mk(peek, t0+2*mins, window(mins)), storage.State{Failures: 3, LastFailure: t0, ExpiresAt: t0 + 10*mins},
			kv{"a.locked", true, "a.until_us", t0 + 10*mins}},
		{"window-short/admit-at-minute-2-counts", mk(adm, t0+2*mins, window(mins)), storage.State{Failures: 3, LastFailure: t0, ExpiresAt: t0 + 10*mins},
			kv{"a.counted", true, "a.until_us", t0 + 12*mins}},
		{"window-short/below-limit-forgotten", mk(peek, t0+2*mins, window(mins)), storage.State{Failures: 2, LastFailure: t0},
			kv{"a.failures", 0}},
		{"window-short/lock-over", mk(peek, t0+10*mins, window(mins)), storage.State{Failures: 3, LastFailure: t0},
			kv{"a.failures", 0, "a.locked", false}},

		// Release.
		{"release/held", mk(rel, t0+10*sec).held(s0), storage.State{Reserved: 2, Slot: s0},
			kv{"s.reserved", 1, "a.counted", false}},
		{"release/last-ticket-empties", mk(rel, t0+10*sec).held(s0), storage.State{Reserved: 1, Slot: s0, ExpiresAt: t0 + 31*mins},
			kv{"s.reserved", 0, "s.slot", 0, "s.expires_at_us", 0}},
		{"release/keeps-failures", mk(rel, t0+10*sec).held(s0), storage.State{Failures: 1, LastFailure: t0, Reserved: 1, Slot: s0},
			kv{"s.failures", 1, "s.slot", 0, "a.in_flight", 0}},
		{"release/unheld-changes-nothing", mk(rel, t0+10*sec), storage.State{Reserved: 1, Slot: s0},
			kv{"s.reserved", 1}},
		{"release/older-keeps-slot", mk(rel, t0+40*sec).held(s0 + 1), storage.State{Reserved: 1, Older: 1, Slot: s0 + 1},
			kv{"s.reserved", 0, "s.older", 1, "s.slot", s0 + 1}},
		{"release/older", mk(rel, t0+40*sec).held(s0), storage.State{Reserved: 1, Older: 1, Slot: s0 + 1},
			kv{"s.reserved", 1, "s.older", 0}},

		// Clear.
		{"clear/locked", mk(clr, t0+mins), storage.State{Failures: 3, LastFailure: t0, Shares: sh("alice", 2)},
			kv{"a.taken", 3, "a.locked", false, "a.failures", 0, "s.shares", nil}},
		{"clear/held-keeps-other-tickets", mk(clr, t0+10*sec).held(s0), storage.State{Failures: 2, LastFailure: t0, Reserved: 2, Slot: s0},
			kv{"a.taken", 2, "s.failures", 0, "s.reserved", 1, "s.last_failure_us", 0}},
		{"clear/unheld-keeps-tickets", mk(clr, t0+10*sec), storage.State{Failures: 2, LastFailure: t0, Shares: sh("alice", 1), Reserved: 1, Slot: s0},
			kv{"a.taken", 2, "s.reserved", 1, "s.shares", nil}},
		{"clear/empty", mk(clr, t0), storage.State{}, kv{"a.taken", 0}},
		{"clear/expiry-never-earlier", mk(clr, t0+10*sec), storage.State{Failures: 2, LastFailure: t0, Reserved: 1, Slot: s0, ExpiresAt: t0 + 2*hr},
			kv{"s.expires_at_us", t0 + 2*hr}},

		// Take.
		{"take/share", mk(take, t0+mins).by("alice"), storage.State{Failures: 5, LastFailure: t0, Shares: sh("alice", 2, "bob", 1)},
			kv{"a.taken", 2, "a.failures", 3, "a.locked", true, "s.shares", sh("bob", 1), "s.last_failure_us", t0}},
		{"take/unlocks", mk(take, t0+mins).by("alice"), storage.State{Failures: 3, LastFailure: t0, Shares: sh("alice", 1)},
			kv{"a.taken", 1, "a.locked", false, "a.failures", 2}},
		{"take/last-share-empties", mk(take, t0+mins).by("alice"), storage.State{Failures: 2, LastFailure: t0, Shares: sh("alice", 2)},
			kv{"a.taken", 2, "s.failures", 0, "s.last_failure_us", 0}},
		{"take/no-share", mk(take, t0+mins).by("carol"), storage.State{Failures: 2, LastFailure: t0, Shares: sh("alice", 2)},
			kv{"a.taken", 0, "a.failures", 2}},
		{"take/no-user", mk(take, t0+mins), storage.State{Failures: 2, LastFailure: t0, Shares: sh("alice", 2)},
			kv{"a.taken", 0, "a.failures", 2}},
		{"take/share-larger-than-failures", mk(take, t0+mins).by("alice"), storage.State{Failures: 2, LastFailure: t0, Shares: sh("alice", 5)},
			kv{"a.taken", 2, "a.failures", 0}},
		{"take/held", mk(take, t0+10*sec).held(s0).by("alice"), storage.State{Failures: 2, LastFailure: t0, Shares: sh("alice", 2), Reserved: 1, Slot: s0},
			kv{"a.taken", 2, "a.in_flight", 0, "s.failures", 0}},
		{"take/held-keeps-other-tickets", mk(take, t0+10*sec).held(s0).by("alice"), storage.State{Failures: 1, LastFailure: t0, Shares: sh("alice", 1), Reserved: 2, Slot: s0},
			kv{"a.taken", 1, "s.reserved", 1}},

		// Shares.
		{"shares/sorted-insert", mk(fail, t0+sec).by("alice"), storage.State{Failures: 1, LastFailure: t0, Shares: sh("bob", 1)},
			kv{"s.shares", sh("alice", 1, "bob", 1)}},
		{"shares/cap-drops-smallest", mk(fail, t0+sec, tiers(100, mins)).by("zz"),
			storage.State{Failures: 63, LastFailure: t0, Shares: crowd(storage.MaxShares, func(i int) int { return 2 - bool2int(i == 17) })},
			kv{"a.failures", 64}},
		{"shares/cap-tie-drops-first-user", mk(fail, t0+sec, tiers(100, mins)).by("a-new"),
			storage.State{Failures: 32, LastFailure: t0, Shares: crowd(storage.MaxShares, one)},
			kv{"a.failures", 33}},
		{"shares/cap-existing-user", mk(fail, t0+sec, tiers(100, mins)).by("u05"),
			storage.State{Failures: 32, LastFailure: t0, Shares: crowd(storage.MaxShares, one)},
			kv{"a.failures", 33}},
		{"shares/cap-admit-locked", mk(adm, t0+sec, tiers(32, mins)).by("zz"),
			storage.State{Failures: 32, LastFailure: t0, Shares: crowd(storage.MaxShares, one)},
			kv{"a.counted", true}},
		{"shares/lapse-credits-nobody", mk(peek, t0+65*sec), storage.State{Failures: 1, LastFailure: t0, Shares: sh("alice", 1), Reserved: 1, Slot: s0},
			kv{"a.failures", 2, "s.shares", sh("alice", 1)}},
		{"shares/forgotten-with-failures", mk(peek, t0+30*mins), storage.State{Failures: 2, LastFailure: t0, Shares: sh("alice", 2)},
			kv{"s.shares", nil, "a.failures", 0}},

		// A damaged store.
		{"sanitize/negative-counts", mk(adm, t0+sec), storage.State{Failures: -3, Reserved: -1, Older: -2, Slot: s0},
			kv{"a.admitted", true, "s.reserved", 1, "s.older", 0, "s.failures", 0}},
		{"sanitize/unsorted-shares", mk(peek, t0+sec), storage.State{Failures: 3, LastFailure: t0, Shares: sh("carol", 1, "alice", 1, "bob", 1)},
			kv{"s.shares", sh("alice", 1, "bob", 1, "carol", 1)}},
		{"sanitize/repeated-share-first-kept", mk(peek, t0+sec), storage.State{Failures: 4, LastFailure: t0, Shares: sh("bob", 2, "alice", 1, "bob", 1)},
			kv{"s.shares", sh("alice", 1, "bob", 2)}},
		{"sanitize/sorted-repeated-share", mk(peek, t0+sec), storage.State{Failures: 4, LastFailure: t0, Shares: sh("alice", 1, "bob", 2, "bob", 1)},
			kv{"s.shares", sh("alice", 1, "bob", 2)}},
		{"sanitize/empty-and-zero-shares", mk(peek, t0+sec), storage.State{Failures: 2, LastFailure: t0, Shares: sh("", 1, "alice", 0, "bob", -1, "carol", 1)},
			kv{"s.shares", sh("carol", 1)}},
		{"sanitize/shares-without-failures", mk(peek, t0+sec), storage.State{Shares: sh("alice", 1), LastFailure: t0, Reserved: 1, Slot: s0},
			kv{"s.shares", nil, "s.last_failure_us", 0}},
		{"sanitize/share-larger-than-failures", mk(fail, t0+sec).by("alice"), storage.State{Failures: 1, LastFailure: t0, Shares: sh("alice", 3)},
			kv{"a.failures", 2}},
		{"sanitize/slot-without-tickets", mk(peek, t0+sec), storage.State{Failures: 1, LastFailure: t0, Slot: 99},
			kv{"s.slot", 0}},
		{"sanitize/over-cap-shares", mk(fail, t0+sec, tiers(100, mins)).by("zz"),
			storage.State{Failures: 40, LastFailure: t0, Shares: crowd(storage.MaxShares+2, one)},
			kv{"a.failures", 41}},

		// Expiry.
		{"expiry/never-earlier", mk(fail, t0+mins), storage.State{Failures: 1, LastFailure: t0, ExpiresAt: t0 + 5*hr},
			kv{"s.expires_at_us", t0 + 5*hr}},
		{"expiry/never-stays-never", mk(fail, t0+mins), storage.State{Failures: 1, LastFailure: t0},
			kv{"s.expires_at_us", 0}},
		{"expiry/moves-later", mk(fail, t0+5*mins), storage.State{Failures: 1, LastFailure: t0, ExpiresAt: t0 + 30*mins},
			kv{"s.expires_at_us", t0 + 35*mins}},
		{"expiry/peek-never-earlier", mk(peek, t0+mins), storage.State{Failures: 1, LastFailure: t0, ExpiresAt: t0 + 5*hr},
			kv{"s.expires_at_us", t0 + 5*hr}},
		{"expiry/forgotten-bucket-starts-over", mk(adm, t0+40*mins), storage.State{Failures: 2, LastFailure: t0, ExpiresAt: t0 + 5*hr},
			kv{"a.admitted", true, "s.expires_at_us", t0 + 41*mins + 30*mins}},
		{"expiry/tickets-may-reach-permanent-tier", mk(peek, t0+10*sec, tiers(3, 10*mins, 4, 0)), storage.State{Failures: 2, LastFailure: t0, Reserved: 1, Older: 1, Slot: s0, ExpiresAt: t0 + 10*sec + 1},
			kv{"s.expires_at_us", 0}},
		{"expiry/tickets-below-permanent-tier", mk(peek, t0+10*sec, tiers(3, 10*mins, 5, 0)), storage.State{Failures: 2, LastFailure: t0, Reserved: 1, Older: 1, Slot: s0, ExpiresAt: t0 + 10*sec + 1},
			kv{"s.expires_at_us", t0 + 60*sec + 30*mins}},
		{"expiry/tickets-longest-cooloff", mk(peek, t0+10*sec, tiers(3, hr)), storage.State{Failures: 1, LastFailure: t0, Reserved: 2, Slot: s0, ExpiresAt: t0 + 10*sec + 1},
			kv{"s.expires_at_us", t0 + 60*sec + hr}},
		{"expiry/failures-outlast-tickets", mk(peek, t0+10*sec, tiers(3, hr)), storage.State{Failures: 3, LastFailure: t0, Reserved: 1, Slot: s0, ExpiresAt: t0 + 10*sec + 1},
			kv{"s.expires_at_us", t0 + 60*sec + hr}},
		{"expiry/tickets-window-zero", mk(adm, t0+sec, window(0)), storage.State{},
			kv{"s.expires_at_us", 0}},

		// The clock steps back.
		{"clock/back-slot-stays", mk(peek, t0+10*sec), storage.State{Reserved: 1, Slot: s0 + 2},
			kv{"s.slot", s0 + 2, "a.in_flight", 1}},
		{"clock/back-nothing-lapses", mk(peek, t0), storage.State{Reserved: 1, Older: 1, Slot: s0 + 2},
			kv{"a.in_flight", 2, "a.failures", 0}},
		{"clock/back-lock-from-later-failure", mk(peek, t0), storage.State{Failures: 3, LastFailure: t0 + 5*mins},
			kv{"a.locked", true, "a.until_us", t0 + 15*mins}},
		{"clock/lapse-keeps-later-failure", mk(peek, t0+65*sec), storage.State{Failures: 1, LastFailure: t0 + 5*mins, Reserved: 1, Slot: s0},
			kv{"a.failures", 2, "a.last_failure_us", t0 + 5*mins}},
		{"clock/back-fail-held-later-cohort", mk(fail, t0).held(s0 + 2), storage.State{Reserved: 1, Slot: s0 + 2},
			kv{"a.counted", true, "a.last_failure_us", t0}},
		{"clock/back-admit-after-later-failure", mk(adm, t0, window(mins), tiers(3, hr)), storage.State{Failures: 2, LastFailure: t0 + 20*mins, ExpiresAt: t0 + 21*mins},
			kv{"a.admitted", true, "a.slot", s0}},
	}
}

func bool2int(b bool) int {
	if b {
		return 1
	}
	return 0
}

// vectors computes the golden vectors from storage.Apply.
func vectors(t *testing.T) []refmodel.Vector {
	t.Helper()
	var vs []refmodel.Vector
	seen := map[string]bool{}
	for _, c := range goldenCases() {
		if seen[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		seen[c.name] = true
		s := storage.Step(c.step)
		st, a := storage.Apply(&s, c.state)
		vs = append(vs, refmodel.Vector{Name: c.name, Step: s, State: c.state, WantState: st, WantAnswer: a})
	}
	return vs
}

func encodeVectors(t *testing.T, vs []refmodel.Vector) []byte {
	t.Helper()
	b, err := json.MarshalIndent(vs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestGoldenVectors checks testdata/steps.json against storage.Apply and
// the cases above; with -update it rewrites the file and its copy.
func TestGoldenVectors(t *testing.T) {
	vs := vectors(t)
	fresh := encodeVectors(t, vs)
	if *update {
		for _, p := range []string{goldenPath, copyPath} {
			if err := os.WriteFile(p, fresh, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d vectors to %s and %s", len(vs), goldenPath, copyPath)
	}
	stored, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test ./storage -run TestGoldenVectors -update)", err)
	}
	copied, err := os.ReadFile(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, copied) || (!*update && !bytes.Equal(stored, refmodel.StepsJSON)) {
		t.Errorf("%s and %s differ: run go test ./storage -run TestGoldenVectors -update", goldenPath, copyPath)
	}
	var old []refmodel.Vector
	if err := json.Unmarshal(stored, &old); err != nil {
		t.Fatal(err)
	}
	byName := map[string]refmodel.Vector{}
	for _, v := range old {
		byName[v.Name] = v
	}
	for _, v := range vs {
		o, ok := byName[v.Name]
		delete(byName, v.Name)
		switch {
		case !ok:
			t.Errorf("%s: not in %s (run with -update)", v.Name, goldenPath)
		case !bytes.Equal(inputJSON(t, o), inputJSON(t, v)):
			t.Errorf("%s: the input changed (run with -update)", v.Name)
		default:
			for _, d := range refmodel.Diff(o.WantState, o.WantAnswer, v.WantState, v.WantAnswer) {
				t.Errorf("%s: Apply now gives %s", v.Name, d)
			}
		}
	}
	for name := range byName {
		t.Errorf("%s: in %s but no longer a case (run with -update)", name, goldenPath)
	}
	if !t.Failed() && !bytes.Equal(stored, fresh) {
		t.Errorf("%s is not as -update writes it (order or formatting): run with -update", goldenPath)
	}
}

// inputJSON is the input of a vector, as JSON.
func inputJSON(t *testing.T, v refmodel.Vector) []byte {
	t.Helper()
	b, err := json.Marshal([]any{v.Step, v.State})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenVectorsReplay runs the stored vectors, as decoded from JSON,
// through storage.Apply: the JSON carries every input a port needs.
func TestGoldenVectorsReplay(t *testing.T) {
	vs, err := refmodel.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) < 60 {
		t.Errorf("only %d vectors", len(vs))
	}
	for _, v := range vs {
		st, a := storage.Apply(&v.Step, v.State)
		for _, d := range refmodel.Diff(v.WantState, v.WantAnswer, st, a) {
			t.Errorf("%s: %s", v.Name, d)
		}
	}
}

// TestGoldenExpectations checks the hand-written expectations of the cases.
func TestGoldenExpectations(t *testing.T) {
	for _, c := range goldenCases() {
		s := storage.Step(c.step)
		st, a := storage.Apply(&s, c.state)
		for _, msg := range checkKV(c.want, st, a) {
			t.Errorf("%s: %s", c.name, msg)
		}
	}
}

// checkKV checks expectations against a result and returns what is wrong.
func checkKV(want kv, st storage.State, a storage.Answer) []string {
	fields := func(v any) map[string]json.RawMessage {
		b, _ := json.Marshal(v)
		m := map[string]json.RawMessage{}
		_ = json.Unmarshal(b, &m)
		return m
	}
	got := map[string]map[string]json.RawMessage{"a": fields(a), "s": fields(st)}
	known := map[string]map[string]bool{"a": jsonNames(storage.Answer{}), "s": jsonNames(storage.State{})}
	var out []string
	for i := 0; i+1 < len(want); i += 2 {
		key := want[i].(string)
		side, name, _ := strings.Cut(key, ".")
		if !known[side][name] {
			out = append(out, fmt.Sprintf("unknown field %q", key))
			continue
		}
		w, _ := json.Marshal(want[i+1])
		g, ok := got[side][name]
		if !ok {
			g = zeroJSON(w)
		}
		if !bytes.Equal(g, w) {
			out = append(out, fmt.Sprintf("%s = %s, want %s", key, g, w))
		}
	}
	return out
}

// zeroJSON is what an omitted field stands for, in the JSON type of w.
func zeroJSON(w []byte) []byte {
	switch {
	case bytes.Equal(w, []byte("true")) || bytes.Equal(w, []byte("false")):
		return []byte("false")
	case len(w) > 0 && (w[0] == '[' || w[0] == 'n'):
		return []byte("null")
	}
	return []byte("0")
}

func jsonNames(v any) map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}

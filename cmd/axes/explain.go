package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/internal/norm"
	"github.com/goaxes/axes/internal/setting"
	"github.com/goaxes/axes/storage"
)

// bucketJSON is one bucket of axes explain --json.
type bucketJSON struct {
	Bucket      string    `json:"bucket"`
	IP          string    `json:"ip,omitempty"`
	Username    string    `json:"username,omitempty"`
	UserAgent   string    `json:"user_agent,omitempty"`
	Failures    int       `json:"failures"`
	Limit       int       `json:"limit"`
	LastFailure time.Time `json:"last_failure,omitzero"`
	Locked      bool      `json:"locked"`
	Permanent   bool      `json:"permanent,omitempty"`   // locked until reset
	LockedUntil time.Time `json:"locked_until,omitzero"` // zero: not locked, or until reset
	ExpiresAt   time.Time `json:"expires_at,omitzero"`   // zero: never (or no failures)
	Unlock      []string  `json:"unlock,omitempty"`
}

// explainJSON is the output of axes explain --json.
type explainJSON struct {
	IP           string       `json:"ip,omitempty"`
	Username     string       `json:"username,omitempty"`
	UserAgent    string       `json:"user_agent,omitempty"`
	Now          time.Time    `json:"now"`
	Verdict      string       `json:"verdict"`
	Reason       string       `json:"reason"`
	Limit        int          `json:"limit"`
	Buckets      []bucketJSON `json:"buckets"`
	OtherBuckets []bucketJSON `json:"other_buckets"`
	Unlock       []string     `json:"unlock"`
}

// explain says why a client is locked out or not.
func (c *cli) explain(ctx context.Context, args []string) error {
	cmd := newCommand("explain", "<ip | username | ip username> [--user-agent UA] [--json] [--store DSN] [--config FILE]",
		`Explain the verdict the guard would give a client now, without counting
anything: whether the allow/deny lists or the operators' rules decide, and
the state of every bucket the client is counted in (failures and limit,
last failure, until when it is locked, when its count is forgotten), with
what would unlock it. An argument that is an IP address is the address;
the other is the username. Other buckets in the store that name the same
address or username (say, other usernames from the address) are listed too.`)
	var cf commonFlags
	cf.register(cmd.fs, c.lookup)
	ua := cmd.fs.String("user-agent", "", "the client's User-Agent `UA`, for buckets counted by user_agent")
	jsonOut := cmd.fs.Bool("json", false, "print JSON")
	cmd.withSettings()
	pos, err := cmd.parse(args, 1, 2, c.stdout, c.stderr)
	if err != nil {
		return err
	}
	id := axes.Identity{UserAgent: *ua}
	for _, a := range pos {
		if strings.TrimSpace(a) == "" {
			return cmd.usageError(c.stderr, "an empty argument: give an IP address, a username, or both")
		}
		if ip, err := netip.ParseAddr(a); err == nil && !id.IP.IsValid() {
			id.IP = ip
			continue
		}
		if id.Username != "" {
			return cmd.usageError(c.stderr, "give one IP address and one username, got %q and %q", pos[0], pos[1])
		}
		id.Username = a
	}
	all, err := loadSettings(cmd.fs, cf, cmd.settings, c.lookup).valid()
	if err != nil {
		return err
	}
	cfg := all.core // explain needs only the guard's policy
	s, err := c.storeFor(ctx, cf.store)
	if err != nil {
		return err
	}
	defer s.Close()

	// Without an address, only the groups without ip_address apply.
	gcfg := cfg
	eff := cfg.Effective()
	allNeedIP := false
	if !id.IP.IsValid() {
		gcfg.LockoutParameters = slices.DeleteFunc(slices.Clone(eff.LockoutParameters), func(g axes.Group) bool {
			return slices.Contains(g, axes.ParamIPAddress)
		})
		allNeedIP = len(gcfg.LockoutParameters) == 0
	}
	g, err := axes.New(s, gcfg, axes.WithClock(c.now))
	if err != nil {
		return err
	}
	ex, err := g.Explain(ctx, id)
	switch {
	case allNeedIP && errors.Is(err, axes.ErrNoIP):
		ex.Verdict = axes.Allowed
		ex.Reason = "every lockout parameter group includes ip_address: a username alone is never locked, only together with an address"
	case err != nil:
		return storeError(err, cf.store)
	}
	now := ex.Now

	out := explainJSON{IP: ipText(ex.Identity.IP), Username: ex.Identity.Username, UserAgent: ex.Identity.UserAgent,
		Now: now.UTC(), Verdict: ex.Verdict.String(), Reason: ex.Reason, Limit: ex.Limit,
		Buckets: []bucketJSON{}, OtherBuckets: []bucketJSON{}, Unlock: []string{}}
	seen := map[string]bool{}
	add := func(list *[]bucketJSON, b axes.BucketState) {
		seen[b.Bucket.Key] = true
		j := bucketJSON{Bucket: b.Bucket.Params, IP: b.Bucket.IP, Username: b.Bucket.Username, UserAgent: b.Bucket.UserAgent,
			Failures: b.Failures, Limit: ex.Limit, LastFailure: b.LastFailure.UTC(), Locked: b.Locked, ExpiresAt: b.ForgetAt.UTC()}
		if b.Locked {
			j.Permanent = b.LockedUntil.IsZero()
			j.LockedUntil = b.LockedUntil.UTC()
			j.Unlock = unlockHints(b.Bucket, b.LockedUntil)
		}
		*list = append(*list, j)
	}
	for _, b := range ex.Buckets {
		add(&out.Buckets, b)
	}
	// Other buckets that name the address or the username.
	if _, ok := storage.Find[storage.Lister](s); ok {
		var filters []axes.Filter
		if id.IP.IsValid() {
			filters = append(filters, axes.Filter{IP: norm.GroupIP(id.IP, eff.IPv6Prefix)})
		}
		if ex.Identity.Username != "" {
			filters = append(filters, axes.Filter{Username: ex.Identity.Username})
		}
		for _, f := range filters {
			states, err := g.List(ctx, f)
			if err != nil {
				return storeError(err, cf.store)
			}
			for _, b := range states {
				if !seen[b.Bucket.Key] {
					add(&out.OtherBuckets, b)
				}
			}
		}
	}
	switch ex.Verdict {
	case axes.Denied:
		out.Unlock = c.denyHints(ctx, s, eff, ex.Identity.IP, now)
	case axes.Locked:
		out.Unlock = lockHints(out.Buckets, out.IP, norm.GroupIP(ex.Identity.IP, eff.IPv6Prefix), out.Username)
	}
	if *jsonOut {
		return writeJSON(c.stdout, out)
	}
	printExplanation(c.stdout, out, ex.Policy)
	return nil
}

func ipText(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}

// unlockHints says what unlocks a locked bucket: the reset that removes
// it, or waiting for the end of the lock. The stored values are written as
// shell words (shellWord): the hint is one command, and inert.
func unlockHints(b storage.Bucket, until time.Time) []string {
	var cmd string
	switch {
	case b.IP != "" && b.Username != "":
		cmd = "axes reset --ip " + shellWord(b.IP) + " --username " + shellWord(b.Username)
	case b.IP != "":
		cmd = "axes reset --ip " + shellWord(b.IP)
	case b.Username != "":
		cmd = "axes reset --username " + shellWord(b.Username)
	default: // counted by user agent alone: no filter selects it
		cmd = "axes reset"
	}
	hints := []string{cmd}
	if !until.IsZero() {
		hints = append(hints, "wait until "+rfc3339(until))
	}
	return hints
}

// lockHints says what unlocks a locked client: one reset that removes
// every locked bucket when there is one, otherwise a reset per bucket; or
// waiting until the last lock ends, when every lock ends.
func lockHints(bs []bucketJSON, ip, ipValue, username string) []string {
	var locked []bucketJSON
	for _, b := range bs {
		if b.Locked {
			locked = append(locked, b)
		}
	}
	if len(locked) == 0 {
		return []string{}
	}
	all := func(f func(b bucketJSON) bool) bool {
		return !slices.ContainsFunc(locked, func(b bucketJSON) bool { return !f(b) })
	}
	var hints []string
	switch {
	case ip != "" && all(func(b bucketJSON) bool { return b.IP == ipValue }):
		hints = append(hints, "axes reset --ip "+shellWord(ipValue))
	case username != "" && all(func(b bucketJSON) bool { return b.Username == username }):
		hints = append(hints, "axes reset --username "+shellWord(username))
	default:
		var cmds []string
		for _, b := range locked {
			if !slices.Contains(cmds, b.Unlock[0]) {
				cmds = append(cmds, b.Unlock[0])
			}
		}
		hints = append(hints, strings.Join(cmds, " && "))
	}
	if all(func(b bucketJSON) bool { return !b.Permanent }) {
		last := locked[0].LockedUntil
		for _, b := range locked {
			if b.LockedUntil.After(last) {
				last = b.LockedUntil
			}
		}
		hints = append(hints, "wait until "+rfc3339(last))
	}
	return hints
}

// denyHints says what lifts a denial of ip.
func (c *cli) denyHints(ctx context.Context, s storage.Store, eff axes.Config, ip netip.Addr, now time.Time) []string {
	var hints []string
	for _, p := range eff.IPDenylist {
		if p.Contains(ip) {
			hints = append(hints, fmt.Sprintf("remove %s from ip_blacklist (AXES_IP_BLACKLIST)", ruleText(p)))
		}
	}
	if rs, ok := storage.Find[storage.RuleStore](s); ok {
		if rules, err := rs.Rules(ctx, now); err == nil {
			for _, r := range rules {
				if r.Action == storage.ActionDeny && r.ActiveAt(now) && r.Prefix.Contains(ip) {
					h := "axes deny remove " + ruleText(r.Prefix)
					if !r.Expires.IsZero() {
						h += " (or wait until " + rfc3339(r.Expires) + ")"
					}
					hints = append(hints, h)
				}
			}
		}
	}
	if len(hints) > 1 { // every one denies by itself
		hints = []string{strings.Join(hints, "; and ")}
	}
	if len(hints) == 0 && eff.OnlyAllowlist {
		hints = append(hints, fmt.Sprintf("add %s to ip_whitelist (AXES_IP_WHITELIST): only the allow list may log in", ip))
	}
	return hints
}

// printExplanation writes an explanation for people. Every stored value
// is made inert; the unlock hints are already (see unlockHints).
func printExplanation(w io.Writer, ex explainJSON, p storage.Policy) {
	var who []string
	if ex.IP != "" {
		who = append(who, "ip "+inert(ex.IP))
	}
	if ex.Username != "" {
		who = append(who, "username "+inert(ex.Username))
	}
	if ex.UserAgent != "" {
		who = append(who, fmt.Sprintf("user agent %q", ex.UserAgent))
	}
	fmt.Fprintf(w, "Client:   %s\n", strings.Join(who, ", "))
	fmt.Fprintf(w, "Time:     %s\n", rfc3339(ex.Now))
	fmt.Fprintf(w, "Verdict:  %s\n", ex.Verdict)
	fmt.Fprintf(w, "Reason:   %s\n", inertMessage(ex.Reason))
	fmt.Fprintf(w, "Policy:   %s\n", policyText(p))
	printBuckets := func(title string, bs []bucketJSON) {
		if len(bs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s\n", title)
		for _, b := range bs {
			var vals []string
			if b.IP != "" {
				vals = append(vals, "ip "+inert(b.IP))
			}
			if b.Username != "" {
				vals = append(vals, "username "+inert(b.Username))
			}
			if b.UserAgent != "" {
				vals = append(vals, fmt.Sprintf("user agent %q", b.UserAgent))
			}
			fmt.Fprintf(w, "  %s (%s)\n", inert(b.Bucket), strings.Join(vals, ", "))
			fmt.Fprintf(w, "    failures:      %d of %d\n", b.Failures, b.Limit)
			if b.Failures == 0 {
				continue
			}
			fmt.Fprintf(w, "    last failure:  %s\n", rfc3339(b.LastFailure))
			until := "-"
			switch {
			case b.Permanent:
				until = "reset (by an operator)"
			case b.Locked:
				until = rfc3339(b.LockedUntil)
			}
			fmt.Fprintf(w, "    locked until:  %s\n", until)
			forgotten := "never (until reset)"
			if !b.ExpiresAt.IsZero() {
				forgotten = rfc3339(b.ExpiresAt)
			}
			fmt.Fprintf(w, "    forgotten at:  %s\n", forgotten)
			if len(b.Unlock) > 0 {
				fmt.Fprintf(w, "    unlock:        %s\n", strings.Join(b.Unlock, ", or "))
			}
		}
	}
	printBuckets("Buckets:", ex.Buckets)
	printBuckets("Other buckets in the store with this address or username:", ex.OtherBuckets)
	if len(ex.Unlock) > 0 {
		fmt.Fprintf(w, "\nTo unlock: %s\n", strings.Join(ex.Unlock, "\n       or: "))
	}
}

// policyText describes the lockout policy in one line.
func policyText(p storage.Policy) string {
	if p.RecordOnly {
		return fmt.Sprintf("failures are counted but never lock (lock_out_at_failure false); limit %d", p.Limit)
	}
	var lock string
	switch {
	case len(p.Tiers) > 1:
		parts := make([]string, len(p.Tiers))
		for i, t := range p.Tiers {
			c := setting.FormatDuration(micros(t.CoolOff))
			if t.CoolOff == 0 {
				c = "until reset"
			}
			parts[i] = fmt.Sprintf("%d failures: %s", t.Failures, c)
		}
		lock = "tiers " + strings.Join(parts, "; ")
	case len(p.Tiers) == 1 && p.Tiers[0].CoolOff > 0:
		lock = "locked for " + setting.FormatDuration(micros(p.Tiers[0].CoolOff)) + " after the last failure"
	default:
		lock = "locked until reset"
	}
	window := "never"
	if p.Window > 0 {
		window = setting.FormatDuration(micros(p.Window)) + " after the last failure"
	}
	return fmt.Sprintf("limit %d; %s; count forgotten: %s", p.Limit, lock, window)
}

// micros converts the integer microseconds of a storage.Policy.
func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

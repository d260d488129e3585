package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/goaxes/axes"
)

// recordJSON is one record of axes list --json.
type recordJSON struct {
	Bucket      string    `json:"bucket"`
	IP          string    `json:"ip,omitempty"`
	Username    string    `json:"username,omitempty"`
	UserAgent   string    `json:"user_agent,omitempty"`
	Failures    int       `json:"failures"`
	LastFailure time.Time `json:"last_failure,omitzero"`
	Locked      bool      `json:"locked"`
	// LockedUntil is zero when the lock lasts until reset (or there is none).
	LockedUntil time.Time `json:"locked_until,omitzero"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
}

// lockedUntil says until when a bucket is locked: "-" when it is not,
// "reset" when the lock lasts until an operator resets it.
func lockedUntil(b axes.BucketState) string {
	switch {
	case !b.Locked:
		return "-"
	case b.LockedUntil.IsZero():
		return "reset"
	}
	return rfc3339(b.LockedUntil)
}

// list prints the lockout records.
func (c *cli) list(ctx context.Context, args []string) error {
	cmd := newCommand("list", "[--ip IP] [--username U] [--locked] [--json] [--store DSN] [--config FILE]",
		`List the failure records in the store, newest failure first: the bucket (the
lockout parameters it counts by), its IP address, username and user agent,
the failures, the last failure and until when it is locked at the time of
the command ("-": not locked; "reset": until an operator resets it). Expired
records are left out. --ip and --username narrow the list (both: AND).`)
	var cf commonFlags
	cf.register(cmd.fs, c.lookup)
	ip := cmd.fs.String("ip", "", "only records of this `IP` address (or IPv6 group prefix)")
	username := cmd.fs.String("username", "", "only records of this username `U`")
	locked := cmd.fs.Bool("locked", false, "only records that are locked now")
	jsonOut := cmd.fs.Bool("json", false, "print a JSON array")
	cmd.withSettings()
	if _, err := cmd.parse(args, 0, 0, c.stdout, c.stderr); err != nil {
		return err
	}
	if err := cmd.requireNonBlank(c.stderr, "ip", "username"); err != nil {
		return err
	}
	g, s, err := c.guardFor(ctx, cmd, cf)
	if err != nil {
		return err
	}
	defer s.Close()
	eff := g.Config().Effective()
	f := axes.Filter{LockedOnly: *locked}
	if *ip != "" {
		if f.IP, err = filterIP(*ip, eff.IPv6Prefix); err != nil {
			return cmd.usageError(c.stderr, "--ip: %v", err)
		}
	}
	f.Username = *username
	recs, err := g.List(ctx, f)
	if err != nil {
		return storeError(err, cf.store)
	}
	if *jsonOut {
		out := make([]recordJSON, 0, len(recs))
		for _, r := range recs {
			b := &r.Bucket
			j := recordJSON{Bucket: b.Params, IP: b.IP, Username: b.Username, UserAgent: b.UserAgent,
				Failures: r.Failures, LastFailure: r.LastFailure.UTC(), Locked: r.Locked, ExpiresAt: r.ForgetAt.UTC()}
			if j.Locked {
				j.LockedUntil = r.LockedUntil.UTC()
			}
			out = append(out, j)
		}
		return writeJSON(c.stdout, out)
	}
	if len(recs) == 0 {
		fmt.Fprintln(c.stdout, "No attempts found.")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUCKET\tIP\tUSERNAME\tUSER AGENT\tFAILURES\tLAST FAILURE\tLOCKED UNTIL")
	for _, r := range recs {
		b := &r.Bucket
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", inert(b.Params), orDash(inert(b.IP)), orDash(inert(b.Username)),
			orDash(inert(shorten(b.UserAgent, 40))), strconv.Itoa(r.Failures), rfc3339(r.LastFailure), lockedUntil(r))
	}
	return tw.Flush()
}

// shorten cuts s to n runes, marking the cut with "...".
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/storage"
)

// reset removes failure records, as django-axes' axes_reset,
// axes_reset_ip, axes_reset_username and axes_reset_ip_username do.
func (c *cli) reset(ctx context.Context, args []string) error {
	cmd := newCommand("reset", "[--ip IP] [--username U] [--store DSN] [--config FILE]",
		`Remove failure records, unlocking who they lock: with --ip those of an IP
address (an IPv6 address stands for the prefix its clients are grouped by,
AXES_IPV6_PREFIX; a prefix such as 2001:db8::/64 names that group, not
every address in it), with --username those of a username, with both those of that pair (AND), and with neither every
record. An empty or blank --ip or --username is a usage error, never "every
record". Resetting a username also takes back the failures that username
caused in buckets counted by IP address alone. Prints "N attempts removed."
or "No attempts found.", as django-axes does.`)
	var cf commonFlags
	cf.register(cmd.fs, c.lookup)
	ip := cmd.fs.String("ip", "", "the `IP` address (or the IPv6 group prefix)")
	username := cmd.fs.String("username", "", "the username `U`")
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
	f := axes.Filter{Username: *username}
	if *ip != "" {
		if f.IP, err = filterIP(*ip, g.Config().Effective().IPv6Prefix); err != nil {
			return cmd.usageError(c.stderr, "--ip: %v", err)
		}
	}
	n, err := g.Reset(ctx, f)
	if err != nil {
		return storeError(err, cf.store)
	}
	if n == 0 {
		fmt.Fprintln(c.stdout, "No attempts found.")
	} else {
		fmt.Fprintf(c.stdout, "%d attempts removed.\n", n)
	}
	return nil
}

// resetLogs removes old entries of the access log (reset-logs) or the
// failure log (reset-failure-logs).
func (c *cli) resetLogs(ctx context.Context, args []string, name string) error {
	which := "successful-login log (django-axes' AccessLog)"
	if name == "reset-failure-logs" {
		which = "failure log (django-axes' AccessFailureLog)"
	}
	cmd := newCommand(name, "[--age DAYS] [--store DSN]",
		fmt.Sprintf(`Remove the entries of the %s
older than --age days. --age 0 removes every entry. Prints "N logs removed." or
"No logs found.", as django-axes does.`, which))
	var cf commonFlags
	cf.registerStore(cmd.fs, c.lookup)
	age := cmd.fs.Int("age", 30, "remove entries older than this many `DAYS`")
	if _, err := cmd.parse(args, 0, 0, c.stdout, c.stderr); err != nil {
		return err
	}
	if *age < 0 {
		return cmd.usageError(c.stderr, "--age %d: must be 0 or more days", *age)
	}
	s, err := c.storeFor(ctx, cf.store)
	if err != nil {
		return err
	}
	defer s.Close()
	p, ok := storage.Find[storage.LogPruner](s)
	if !ok {
		return unsupported(cf.store, "prune its audit log")
	}
	var before time.Time // zero: every entry
	if *age > 0 {
		before = c.now().AddDate(0, 0, -*age)
	}
	prune := p.PruneAccessLog
	if name == "reset-failure-logs" {
		prune = p.PruneFailureLog
	}
	n, err := prune(ctx, before)
	if err != nil {
		return storeError(err, cf.store)
	}
	if n == 0 {
		fmt.Fprintln(c.stdout, "No logs found.")
	} else {
		fmt.Fprintf(c.stdout, "%d logs removed.\n", n)
	}
	return nil
}

// prune removes expired records.
func (c *cli) prune(ctx context.Context, args []string) error {
	cmd := newCommand("prune", "[--store DSN]",
		`Remove the failure records whose count has been forgotten (their failure
window has passed). They no longer count for anything; pruning only frees
the space. Prints "N expired records removed." or "No expired records found."`)
	var cf commonFlags
	cf.registerStore(cmd.fs, c.lookup)
	if _, err := cmd.parse(args, 0, 0, c.stdout, c.stderr); err != nil {
		return err
	}
	s, err := c.storeFor(ctx, cf.store)
	if err != nil {
		return err
	}
	defer s.Close()
	p, ok := storage.Find[storage.Purger](s)
	if !ok {
		return unsupported(cf.store, "remove expired records")
	}
	n, err := p.Purge(ctx, c.now())
	if err != nil {
		return storeError(err, cf.store)
	}
	if n == 0 {
		fmt.Fprintln(c.stdout, "No expired records found.")
	} else {
		fmt.Fprintf(c.stdout, "%d expired records removed.\n", n)
	}
	return nil
}

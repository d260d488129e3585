package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/internal/setting"
	"github.com/goaxes/axes/storage"
)

// rules runs axes allow ... and axes deny ...
func (c *cli) rules(ctx context.Context, args []string, action storage.Action) error {
	if len(args) == 0 {
		c.rulesHelp(c.stderr, action)
		return errUsage
	}
	switch args[0] {
	case "add":
		return c.ruleAdd(ctx, args[1:], action)
	case "remove", "rm", "delete":
		return c.ruleRemove(ctx, args[1:], action)
	case "list", "ls":
		return c.ruleList(ctx, args[1:], action)
	case "-h", "-help", "--help", "help":
		c.rulesHelp(c.stdout, action)
		return errHelp
	}
	fmt.Fprintf(c.stderr, "axes %s: unknown subcommand %q\n\n", action, args[0])
	c.rulesHelp(c.stderr, action)
	return errUsage
}

func (c *cli) rulesHelp(w io.Writer, action storage.Action) {
	what := "never locked and never counted."
	if action == storage.ActionDeny {
		what = "refused at once, without counting\n(deny rules win over allow rules)."
	}
	fmt.Fprintf(w, `Usage:
  axes %[1]s add IP-OR-CIDR [--ttl DURATION] [--reason TEXT] [--store DSN]
  axes %[1]s remove IP-OR-CIDR [--store DSN]
  axes %[1]s list [IP-OR-CIDR] [--json] [--store DSN]

Operators' %[1]s rules: clients whose address is in a rule's prefix are
%[2]s

The rules are kept in the store, so every instance of the application that
shares it applies them (within its rule refresh time, 5 s by default). A
rule with --ttl ends by itself.

Run "axes %[1]s add --help" for the flags of a subcommand.

%[3]s
`, action, what, precedence)
}

// ruleText shows a prefix as the operator would write it: a plain address
// for a single one.
func ruleText(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// rulePrefix parses the IP-OR-CIDR argument.
func rulePrefix(cmd *command, stderr io.Writer, arg string) (netip.Prefix, error) {
	p, err := setting.ParsePrefix(arg)
	if err != nil {
		return p, cmd.usageError(stderr, "bad IP-OR-CIDR argument %q: %v", arg, err)
	}
	return p, nil
}

// ruleGuard opens the store and builds a guard to change its rules.
func (c *cli) ruleGuard(ctx context.Context, dsn string) (*axes.Guard, storage.Store, error) {
	s, err := c.storeFor(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	g, err := axes.New(s, axes.Config{}, axes.WithClock(c.now))
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return g, s, nil
}

func noRules(dsn string) error {
	return unsupported(dsn, "keep allow/deny rules")
}

func (c *cli) ruleAdd(ctx context.Context, args []string, action storage.Action) error {
	cmd := newCommand(string(action)+" add", "IP-OR-CIDR [--ttl DURATION] [--reason TEXT] [--store DSN]",
		fmt.Sprintf("Add a %s rule for an address or CIDR prefix, or replace the one with the same\nprefix. Without --ttl it lasts until removed.", action))
	var cf commonFlags
	cf.registerStore(cmd.fs, c.lookup)
	ttl := cmd.fs.String("ttl", "", "how long the rule lasts, a `DURATION` such as 30m or 24h (default: until removed)")
	reason := cmd.fs.String("reason", "", "why, shown by list (`TEXT`)")
	pos, err := cmd.parse(args, 1, 1, c.stdout, c.stderr)
	if err != nil {
		return err
	}
	p, err := rulePrefix(cmd, c.stderr, pos[0])
	if err != nil {
		return err
	}
	var life time.Duration
	if *ttl != "" {
		if life, err = setting.ParseDuration(*ttl); err != nil {
			return cmd.usageError(c.stderr, "--ttl %q: %v", *ttl, err)
		}
	}
	g, s, err := c.ruleGuard(ctx, cf.store)
	if err != nil {
		return err
	}
	defer s.Close()
	now := c.now()
	r := storage.Rule{Prefix: p, Action: action, Reason: *reason, Created: now}
	if life > 0 {
		r.Expires = now.Add(life)
	}
	verb := "Added"
	if rs, ok := storage.Find[storage.RuleStore](s); ok {
		existing, err := rs.Rules(ctx, now)
		if err != nil {
			return storeError(err, cf.store)
		}
		if slices.ContainsFunc(existing, func(e storage.Rule) bool { return e.Prefix == p && e.Action == action }) {
			verb = "Replaced"
		}
	}
	if err := g.AddRule(ctx, r); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return noRules(cf.store)
		}
		return storeError(err, cf.store)
	}
	until := "until removed"
	if !r.Expires.IsZero() {
		until = "expires " + rfc3339(r.Expires)
	}
	fmt.Fprintf(c.stdout, "%s %s rule for %s (%s).\n", verb, action, ruleText(p), until)
	return nil
}

func (c *cli) ruleRemove(ctx context.Context, args []string, action storage.Action) error {
	cmd := newCommand(string(action)+" remove", "IP-OR-CIDR [--store DSN]",
		fmt.Sprintf("Remove the %s rule with exactly this prefix.", action))
	var cf commonFlags
	cf.registerStore(cmd.fs, c.lookup)
	pos, err := cmd.parse(args, 1, 1, c.stdout, c.stderr)
	if err != nil {
		return err
	}
	p, err := rulePrefix(cmd, c.stderr, pos[0])
	if err != nil {
		return err
	}
	g, s, err := c.ruleGuard(ctx, cf.store)
	if err != nil {
		return err
	}
	defer s.Close()
	found, err := g.RemoveRule(ctx, p, action)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return noRules(cf.store)
		}
		return storeError(err, cf.store)
	}
	if found {
		fmt.Fprintf(c.stdout, "Removed %s rule for %s.\n", action, ruleText(p))
	} else {
		fmt.Fprintf(c.stdout, "No %s rule for %s.\n", action, ruleText(p))
	}
	return nil
}

// ruleJSON is one rule of axes allow|deny list --json.
type ruleJSON struct {
	Prefix  string    `json:"prefix"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
}

func (c *cli) ruleList(ctx context.Context, args []string, action storage.Action) error {
	cmd := newCommand(string(action)+" list", "[IP-OR-CIDR] [--json] [--store DSN]",
		fmt.Sprintf("List the %s rules in force, or those that overlap IP-OR-CIDR.", action))
	var cf commonFlags
	cf.registerStore(cmd.fs, c.lookup)
	jsonOut := cmd.fs.Bool("json", false, "print a JSON array")
	pos, err := cmd.parse(args, 0, 1, c.stdout, c.stderr)
	if err != nil {
		return err
	}
	var only netip.Prefix
	if len(pos) == 1 {
		if only, err = rulePrefix(cmd, c.stderr, pos[0]); err != nil {
			return err
		}
	}
	s, err := c.storeFor(ctx, cf.store)
	if err != nil {
		return err
	}
	defer s.Close()
	rs, ok := storage.Find[storage.RuleStore](s)
	if !ok {
		return noRules(cf.store)
	}
	now := c.now()
	all, err := rs.Rules(ctx, now)
	if err != nil {
		return storeError(err, cf.store)
	}
	var rules []storage.Rule
	for _, r := range all {
		if r.Action == action && r.ActiveAt(now) && (!only.IsValid() || only.Overlaps(r.Prefix)) {
			rules = append(rules, r)
		}
	}
	slices.SortFunc(rules, func(a, b storage.Rule) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
	if *jsonOut {
		out := make([]ruleJSON, 0, len(rules))
		for _, r := range rules {
			out = append(out, ruleJSON{Prefix: ruleText(r.Prefix), Reason: r.Reason, Created: r.Created.UTC(), Expires: r.Expires.UTC()})
		}
		return writeJSON(c.stdout, out)
	}
	if len(rules) == 0 {
		fmt.Fprintf(c.stdout, "No %s rules.\n", action)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tREASON\tCREATED\tEXPIRES")
	for _, r := range rules {
		exp := "never"
		if !r.Expires.IsZero() {
			exp = rfc3339(r.Expires)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ruleText(r.Prefix), orDash(inert(r.Reason)), rfc3339(r.Created), exp)
	}
	return tw.Flush()
}

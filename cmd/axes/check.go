package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/internal/finding"
)

// The codes of the findings the command makes itself; their levels and
// summaries are in the core's table (axes.Checks).
const (
	codeInvalidValue     = "axes.W005"
	codeTiersInvalid     = "axes.W008"
	codeStoreUnreachable = "axes.E101"
)

// check reports the findings about the configuration, the environment and
// the store.
func (c *cli) check(ctx context.Context, args []string) error {
	cmd := newCommand("check", "[--store DSN] [--config FILE] [--json] [--strict] [--list] [--SETTING VALUE ...]",
		`Check the configuration (file, environment and flags), the deprecated
settings in the environment, and the store (it opens, answers, and has the
schema this build needs). Each finding has a code, a level, a message and a
hint; the codes listed in silenced_checks (AXES_SILENCED_CHECKS) are left out.

axes.W002 and axes.W003 are about the running application (is the lockout
response wired, is the credential check guarded): axes check cannot see the
application and does not report them. Call Guard.Check at start-up for those.

Exit status: 1 when any finding is an error (or, with --strict, a warning),
0 otherwise; 2 for a usage error.`)
	var cf commonFlags
	cf.register(cmd.fs, c.lookup)
	jsonOut := cmd.fs.Bool("json", false, `print the findings as a JSON array of {"code", "level", "message", "hint"}`)
	strict := cmd.fs.Bool("strict", false, "fail on warnings too")
	list := cmd.fs.Bool("list", false, "list every check code with what it means, and exit")
	sf := cmd.withSettings()
	if _, err := cmd.parse(args, 0, 0, c.stdout, c.stderr); err != nil {
		return err
	}
	if *list {
		return c.listChecks()
	}

	s := loadSettings(cmd.fs, cf, sf, c.lookup)
	var all []axes.Finding
	for _, p := range s.problems {
		code := codeInvalidValue
		var ce *axes.ConfigError
		if errors.As(p, &ce) && ce.Field == "Tiers" {
			code = codeTiersInvalid
		}
		all = append(all, finding.New(code, p.Error(), "Fix the value; the guard refuses to start with it."))
	}
	all = append(all, s.cfg.core.Check()...)
	all = append(all, s.cfg.http.Check()...)
	all = append(all, axes.CheckEnv(c.lookup)...)
	st, err := c.open(ctx, cf.store)
	if err != nil {
		all = append(all, finding.New(codeStoreUnreachable, fmt.Sprintf("The store cannot be opened: %v", err),
			"Check --store (or AXES_STORE)."))
	} else {
		defer st.Close()
		for _, f := range axes.CheckStore(ctx, st) {
			if f.Hint == "Run axes migrate." {
				f.Hint = "Run axes migrate --store " + shellWord(maskDSN(cf.store)) + "."
			}
			all = append(all, f)
		}
	}
	shown := axes.Silence(all, s.cfg.core.SilencedChecks)
	silenced := len(all) - len(shown)

	if *jsonOut {
		if shown == nil {
			shown = []axes.Finding{}
		}
		if err := writeJSON(c.stdout, shown); err != nil {
			return err
		}
	} else {
		printFindings(c.stdout, shown, silenced)
	}
	for _, f := range shown {
		if f.Level >= axes.LevelError || (*strict && f.Level >= axes.LevelWarning) {
			return errReported
		}
	}
	return nil
}

// printFindings writes the findings as Django's check command does, one
// block per finding, then the count.
func printFindings(w io.Writer, fs []axes.Finding, silenced int) {
	for _, f := range fs {
		// Messages quote values from the file, the environment and the
		// store's errors.
		f.Message, f.Hint = inertMessage(f.Message), inertMessage(f.Hint)
		fmt.Fprintf(w, "%s\n\n", f)
	}
	switch len(fs) {
	case 0:
		fmt.Fprintf(w, "System check identified no issues (%d silenced).\n", silenced)
	case 1:
		fmt.Fprintf(w, "System check identified 1 issue (%d silenced).\n", silenced)
	default:
		fmt.Fprintf(w, "System check identified %d issues (%d silenced).\n", len(fs), silenced)
	}
}

func (c *cli) listChecks() error {
	for _, k := range axes.Checks() {
		fmt.Fprintf(c.stdout, "%-10s %s\n", k.Code, k.Summary)
	}
	return nil
}

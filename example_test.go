package axes_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/memstore"
)

// New builds a guard over a store. The zero Config is django-axes' default
// policy: three failures from one IP address lock it until reset.
func ExampleNew() {
	guard, err := axes.New(memstore.New(), axes.Config{
		FailureLimit: 5,
		CoolOff:      15 * time.Minute,
		LockoutParameters: []axes.Group{
			{axes.ParamUsername, axes.ParamIPAddress}, // the pair...
			{axes.ParamIPAddress},                     // ...or the address alone
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(guard.Policy(axes.Identity{}).Limit)

	// Validate reports every problem at once.
	_, err = axes.New(memstore.New(), axes.Config{FailureLimit: -1, IPv6Prefix: 129})
	fmt.Println(err)
	// Output:
	// 5
	// axes: FailureLimit (AXES_FAILURE_LIMIT): must be at least 1, got -1
	// axes: IPv6Prefix (AXES_IPV6_PREFIX): must be between 1 and 128, got 129
}

// Authenticate wraps the application's credential check: a locked-out
// client is refused before the check runs, so its password is never tried.
func ExampleGuard_Authenticate() {
	guard, _ := axes.New(memstore.New(), axes.Config{})
	client := axes.Identity{IP: netip.MustParseAddr("203.0.113.7"), Username: "alice"}
	checks := 0
	checkPassword := func(password string) func(context.Context) (bool, error) {
		return func(context.Context) (bool, error) {
			checks++
			return password == "correct-horse", nil
		}
	}
	for _, pw := range []string{"guess1", "guess2", "guess3", "correct-horse"} {
		res, err := guard.Authenticate(context.Background(), client, checkPassword(pw))
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println(res.Verdict, res.Failures)
	}
	fmt.Println("password checks:", checks)
	// Output:
	// invalid 1
	// invalid 2
	// locked 3
	// locked 4
	// password checks: 3
}

// The explicit cycle: Admit before the check, then settle the ticket.
func ExampleGuard_Admit() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	guard, _ := axes.New(memstore.New(), axes.Config{CoolOff: 10 * time.Minute},
		axes.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	client := axes.Identity{IP: netip.MustParseAddr("198.51.100.4"), Username: "bob"}

	for range 3 {
		ticket, err := guard.Admit(ctx, client)
		if err != nil {
			fmt.Println(err)
			return
		}
		// ... the password is wrong:
		res, _ := ticket.Fail(ctx)
		fmt.Println(res.Verdict, res.RetryAfter(now))
	}

	_, err := guard.Admit(ctx, client)
	var lockout *axes.LockoutError
	if errors.As(err, &lockout) {
		fmt.Println("refused:", errors.Is(err, axes.ErrLockedOut), lockout.Result.RetryAfter(now))
	}

	now = now.Add(10 * time.Minute) // the cool-off has passed
	ticket, err := guard.Admit(ctx, client)
	if err == nil {
		res, _ := ticket.Succeed(ctx)
		fmt.Println(res.Verdict)
	}
	// Output:
	// invalid 0s
	// invalid 0s
	// locked 10m0s
	// refused: true 10m0s
	// allowed
}

package axes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/goaxes/axes/internal/wire"
	"github.com/goaxes/axes/storage"
)

// attempt is the buckets of one identity and the policy that judges them.
// users[i] is the username that failures in buckets[i] are credited to (the
// identity's username on a bucket whose key has none), or "".
type attempt struct {
	buckets []storage.Bucket
	users   []string
	policy  storage.Policy
}

// ops returns one step of kind per bucket at now. slots, when not nil, are
// the ticket's cohorts: the steps settle the ticket.
func (a *attempt) ops(kind storage.Kind, now int64, slots []int64) []storage.Op {
	ops := make([]storage.Op, len(a.buckets))
	for i, b := range a.buckets {
		ops[i] = storage.Op{Bucket: b, Step: storage.Step{Kind: kind, Now: now, Policy: a.policy, User: a.users[i]}}
		if slots != nil {
			ops[i].Step.Held, ops[i].Step.Slot = true, slots[i]
		}
	}
	return ops
}

// bounded runs ops for an attempt: under the store deadline
// (Config.StoreTimeout) on top of ctx.
func (g *Guard) bounded(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	ctx, cancel := g.deadline(ctx)
	defer cancel()
	return g.do(ctx, ops)
}

// deadline returns ctx bounded by Config.StoreTimeout: every store call
// made for a request (steps, the audit log, the rules) runs under it, so
// that no login hangs on the store.
func (g *Guard) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if g.cfg.StoreTimeout > 0 {
		return context.WithTimeout(ctx, g.cfg.StoreTimeout)
	}
	return ctx, func() {}
}

// admitFailed applies the outage policy when the store fails an admission:
// fail closed (the error goes back, and the login is refused), or, with
// Config.FailOpen, a ticket without places, whose failure is counted when
// it settles if the store answers again by then. Either way the log says
// so at most once a minute.
func (g *Guard) admitFailed(ctx context.Context, t *Ticket, a *attempt, err error) (*Ticket, error) {
	if ctx.Err() != nil {
		// The request went away: not an outage.
		return nil, fmt.Errorf("axes: admit: %w", err)
	}
	policy := "refused (fail closed)"
	if g.cfg.FailOpen {
		policy = "let through to the credential check (fail open)"
	}
	if g.quiet.ok("store", t.at) {
		g.log.ErrorContext(ctx, "axes: the store is failing; logins are "+policy, "err", err)
	}
	if !g.cfg.FailOpen {
		return nil, fmt.Errorf("axes: admit: %w", err)
	}
	t.a, t.open = a, true
	return t, nil
}

// do runs ops on the store and checks that it answered each one.
func (g *Guard) do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	ans, err := g.store.Do(ctx, ops)
	if err == nil && len(ans) != len(ops) {
		err = fmt.Errorf("the store answered %d of %d steps", len(ans), len(ops))
	}
	return ans, err
}

// summary is the verdict of an attempt's buckets: the strongest lock among
// them (zero, until reset, is the strongest), or else the bucket with the
// most failures (the first on a tie).
type summary struct {
	locked   bool
	until    int64
	bucket   storage.Bucket
	failures int
}

func summarise(buckets []storage.Bucket, ans []storage.Answer) summary {
	var s summary
	for i, a := range ans {
		switch {
		case a.Locked && (!s.locked || later(a.Until, s.until)):
			s.locked, s.until, s.bucket = true, a.Until, buckets[i]
		case !s.locked && (s.bucket.Key == "" || a.Failures > s.failures):
			s.bucket = buckets[i]
		}
		s.failures = max(s.failures, a.Failures)
	}
	return s
}

// later reports whether lock end a is later than b, where 0 means never.
func later(a, b int64) bool {
	if b == 0 {
		return false
	}
	return a == 0 || a > b
}

func (g *Guard) resultOf(v Verdict, id Identity, p *storage.Policy, s summary) Result {
	res := Result{Verdict: v, Identity: id, Failures: s.failures, Limit: p.Limit, Bucket: s.bucket}
	if v == Locked {
		res.LockedUntil = storage.Time(s.until)
	}
	if s.failures >= p.Limit {
		res.CoolOff = time.Duration(p.CoolOff(s.failures)) * time.Microsecond
	}
	return res
}

// Ticket is an admitted attempt: it holds a place under the limit on each
// of its buckets while the credentials are checked. Settle it with exactly
// one of Fail, Succeed or Release. A ticket that is never settled keeps its
// places, and lapses into a failure between one and two leases after it was
// admitted ([WithReservationLease]), so a crash or panic during the check
// errs on the safe side.
type Ticket struct {
	g     *Guard
	id    Identity
	at    time.Time
	a     *attempt // nil when nothing was reserved (disabled, allowlisted)
	slots []int64
	open  bool // admitted without places: the store failed, and FailOpen
	// exact: the username was given in its normal form, so a success may
	// reset the failures counted under it (see Config.ResetOnSuccess).
	exact    bool
	settled  atomic.Bool
	disabled bool
}

// Identity returns the normalised identity of the attempt.
func (t *Ticket) Identity() Identity { return t.id }

// Admit decides whether id may attempt to log in, before its credentials are
// checked. It returns a ticket to settle after the check, or a
// *[LockoutError] (ErrLockedOut, ErrDenied) when the client is refused,
// [ErrInvalidUsername] for a username with NUL in it (unless the guard is
// disabled), or another error when the store fails. Each bucket decides
// and reserves in one atomic step, so no more than the failure limit of
// checks run for a bucket at once; when one bucket refuses, the places
// taken on the others are given back. When checks in flight hold every
// place of a bucket, Admit waits for one (Config.MaxWait).
func (g *Guard) Admit(ctx context.Context, id Identity) (*Ticket, error) {
	now := g.now()
	if !g.wired[wire.Check].Load() {
		g.wired[wire.Check].Store(true)
	}
	if g.cfg.Disabled {
		return &Ticket{g: g, id: id, at: now, disabled: true}, nil
	}
	if strings.IndexByte(id.Username, 0) >= 0 {
		return nil, ErrInvalidUsername
	}
	raw := id.Username
	id = g.normalize(id)
	t := &Ticket{g: g, id: id, at: now, exact: raw == id.Username}
	v, _ := g.screen(ctx, id, now)
	if v == Denied {
		res := Result{Verdict: Denied, Identity: id, Limit: g.policy(id).Limit}
		g.log.WarnContext(ctx, "axes: denied client", "ip", id.IP, "username", id.Username)
		g.fire(ctx, g.hooks.LockedOut, res, now)
		return nil, &LockoutError{Result: res}
	}
	if v == Allowed {
		return t, nil
	}
	a, err := g.attempt(id)
	if err != nil {
		return nil, err
	}
	if len(a.buckets) == 0 {
		return t, nil
	}
	var deadline time.Time // of the wait for a place, in real time
	for tries := 0; ; tries++ {
		if tries > 0 {
			now = g.now()
		}
		us := storage.Micros(now)
		ans, err := g.admitAll(ctx, a, us)
		if err != nil {
			return g.admitFailed(ctx, t, a, err)
		}
		admitted, locked := true, false
		for _, x := range ans {
			admitted = admitted && x.Admitted
			locked = locked || (!x.Admitted && x.Locked)
		}
		if admitted {
			t.a, t.slots = a, make([]int64, len(ans))
			for i, x := range ans {
				t.slots[i] = x.Slot
			}
			return t, nil
		}
		ans = g.undo(ctx, a, us, ans)
		if locked {
			return nil, g.refuseLocked(ctx, id, a, ans, now)
		}
		// Checks in flight hold every place left on a bucket: wait for one
		// of them to settle, then ask again.
		full := fullBucket(a.buckets, ans)
		waited, seen, err := g.waitForPlace(ctx, a, full, &deadline, &tries)
		if err != nil {
			return nil, fmt.Errorf("axes: admit: %w", err)
		}
		if waited && seen.Locked {
			// The checks it waited for locked the bucket: refuse, and count
			// nothing, as for any attempt that never held a place. (A burst
			// of guesses ends here: one read each, not a write each.)
			now = g.now()
			res := g.resultOf(Locked, id, &a.policy, summary{locked: true, until: seen.Until, bucket: full, failures: seen.Failures})
			if g.quiet.ok("locked "+full.Key, now) {
				g.logLockout(ctx, res, "refused after waiting: the bucket locked meanwhile")
			}
			g.fire(ctx, g.hooks.LockedOut, res, now)
			return nil, &LockoutError{Result: res}
		}
		if waited {
			continue
		}
		// No place came free in time (or too many wait): refuse without
		// counting; the client may come back when a check has settled.
		res := g.resultOf(Allowed, id, &a.policy, summarise(a.buckets, ans))
		res.Verdict, res.Bucket = Locked, full
		res.LockedUntil = now.Add(g.check.retryAfter())
		if g.quiet.ok("full "+full.Key, now) {
			g.log.InfoContext(ctx, "axes: refused while other attempts are verified", "bucket", full.Params,
				"ip", id.IP, "username", id.Username, "waited", !deadline.IsZero())
		}
		return nil, &LockoutError{Result: res}
	}
}

// waitForPlace waits until a look at bucket b shows a place free (or the
// bucket locked): woken by this guard's settlements, looking again after a
// growing pause for other processes'. It reports false when the attempt
// may not wait (MaxWait off, MaxWaiters reached) or the wait is over. The
// looks are peeks, which write nothing, so many waiters cost a shared
// store reads, not write locks.
func (g *Guard) waitForPlace(ctx context.Context, a *attempt, b storage.Bucket, deadline *time.Time, tries *int) (bool, storage.Answer, error) {
	if g.cfg.MaxWait <= 0 {
		return false, storage.Answer{}, nil
	}
	if deadline.IsZero() {
		*deadline = time.Now().Add(g.cfg.MaxWait)
	}
	wake, ok := g.waits.join(b.Key, g.cfg.MaxWaiters)
	if !ok {
		return false, storage.Answer{}, nil
	}
	defer g.waits.leave(b.Key, wake)
	for ; ; *tries++ {
		d := min(pollInterval(*tries), time.Until(*deadline))
		if d <= 0 {
			return false, storage.Answer{}, nil
		}
		if err := sleep(ctx, d, wake); err != nil {
			return false, storage.Answer{}, err
		}
		if x, ok := g.hasRoom(ctx, a, b); ok {
			return true, x, nil
		}
	}
}

// hasRoom peeks at bucket b: is a place free there, or is it locked? It
// returns the peek's answer. A store error says yes, with a zero answer:
// the admission reports the error.
func (g *Guard) hasRoom(ctx context.Context, a *attempt, b storage.Bucket) (storage.Answer, bool) {
	op := storage.Op{Bucket: b, Step: storage.Step{Kind: storage.Peek, Now: storage.Micros(g.now()), Policy: a.policy}}
	ans, err := g.bounded(ctx, []storage.Op{op})
	if err != nil {
		return storage.Answer{}, true
	}
	x := ans[0]
	return x, x.Locked || a.policy.RecordOnly || x.InFlight == 0 || x.Failures+x.InFlight < a.policy.Limit
}

// admitAll asks every bucket of the attempt for a place and returns their
// answers. Buckets this guard saw locked lately are asked first, alone:
// when one of them still refuses, the others are not asked at all (their
// answers stay zero), so a locked client's attempts never take, even for
// a moment, a place in another bucket.
func (g *Guard) admitAll(ctx context.Context, a *attempt, now int64) ([]storage.Answer, error) {
	ops := a.ops(storage.Admit, now, nil)
	first := g.locks.locked(a.buckets, now)
	if len(first) == 0 || len(first) == len(ops) {
		ans, err := g.bounded(ctx, ops)
		if err == nil {
			g.locks.note(a.buckets, ans)
		}
		return ans, err
	}
	ans := make([]storage.Answer, len(ops))
	pick := func(idx []int) []storage.Op {
		sub := make([]storage.Op, len(idx))
		for j, i := range idx {
			sub[j] = ops[i]
		}
		return sub
	}
	got, err := g.bounded(ctx, pick(first))
	if err != nil {
		return nil, err
	}
	stillLocked := false
	for j, i := range first {
		ans[i] = got[j]
		stillLocked = stillLocked || (!got[j].Admitted && got[j].Locked)
	}
	if stillLocked {
		g.locks.note(a.buckets, ans)
		return ans, nil
	}
	g.locks.forget(a.buckets, first)
	var rest []int
	for i := range ops {
		if !slices.Contains(first, i) {
			rest = append(rest, i)
		}
	}
	more, err := g.bounded(ctx, pick(rest))
	if err != nil {
		// The places taken on the first buckets lapse after the lease,
		// as for any store error mid-attempt.
		return nil, err
	}
	for j, i := range rest {
		ans[i] = more[j]
	}
	g.locks.note(a.buckets, ans)
	return ans, nil
}

// fullBucket returns the first bucket that refused for want of a place.
func fullBucket(buckets []storage.Bucket, ans []storage.Answer) storage.Bucket {
	for i, x := range ans {
		if x.Full {
			return buckets[i]
		}
	}
	return buckets[0]
}

// refuseLocked reports, logs and fires the refusal of an attempt by a lock.
func (g *Guard) refuseLocked(ctx context.Context, id Identity, a *attempt, ans []storage.Answer, now time.Time) error {
	res := g.resultOf(Locked, id, &a.policy, summarise(a.buckets, ans))
	g.logLockout(ctx, res, "refused while locked")
	if !a.policy.FixedCoolOff {
		g.fire(ctx, g.hooks.LoginFailed, res, now)
		g.logFailure(ctx, id, now, true)
	}
	g.fire(ctx, g.hooks.LockedOut, res, now)
	return &LockoutError{Result: res}
}

// undo gives back the places that a refused admission took on its other
// buckets, and returns the answers updated with those of the releases. A
// refusal counts only in the bucket whose lock refused it (its Admit step
// counted it, unless FixedCoolOff), as in django-axes: never in the other
// buckets of the attempt, which it would otherwise create by the
// thousand (a locked address trying fresh usernames) and lock for no
// checked password. Should the store fail here, the places taken lapse
// into failures after the lease, which errs on the safe side.
func (g *Guard) undo(ctx context.Context, a *attempt, now int64, ans []storage.Answer) []storage.Answer {
	var ops []storage.Op
	var idx []int
	for i, x := range ans {
		if x.Admitted {
			ops = append(ops, storage.Op{Bucket: a.buckets[i], Step: storage.Step{
				Kind: storage.Release, Now: now, Policy: a.policy, User: a.users[i], Held: true, Slot: x.Slot}})
			idx = append(idx, i)
		}
	}
	if len(ops) == 0 {
		return ans
	}
	// Not cut short by the client: a request that goes away between the
	// admission and here must not leave its places to lapse into failures.
	more, err := g.bounded(context.WithoutCancel(ctx), ops)
	for _, op := range ops {
		g.waits.wake(op.Bucket.Key, false)
	}
	if err != nil {
		g.log.ErrorContext(ctx, "axes: could not give back the places of a refused attempt; they lapse after the lease", "err", err)
		return ans
	}
	for j, i := range idx {
		ans[i] = more[j]
	}
	return ans
}

// settle runs one settling step per bucket of the ticket, then wakes the
// attempts of this process that wait for a place in those buckets.
func (t *Ticket) settle(ctx context.Context, kind func(i int) storage.Kind) ([]storage.Answer, error) {
	g := t.g
	now := g.now()
	g.check.observe(now.Sub(t.at))
	ops := t.a.ops(storage.Release, storage.Micros(now), t.slots)
	for i := range ops {
		ops[i].Step.Kind = kind(i)
	}
	// A settlement is not cut short by the client either: a user who
	// closes the tab after a right password must get the place back, not
	// a failure when it lapses.
	ans, err := g.bounded(context.WithoutCancel(ctx), ops)
	if err == nil {
		g.locks.note(t.a.buckets, ans)
	}
	for i, b := range t.a.buckets {
		// A lock refuses every waiter; a place freed admits one.
		g.waits.wake(b.Key, err == nil && ans[i].Locked)
	}
	return ans, err
}

// Fail settles the attempt as failed: its places become failures. The
// result is Locked when this failure reached the limit (the failure that
// locks is itself answered with the lockout response, as in django-axes),
// and Invalid otherwise.
func (t *Ticket) Fail(ctx context.Context) (Result, error) {
	if !t.settled.CompareAndSwap(false, true) {
		return Result{}, ErrSettled
	}
	g := t.g
	if t.disabled || t.a == nil {
		return Result{Verdict: Invalid, Identity: t.id}, nil
	}
	ans, err := t.settle(ctx, func(int) storage.Kind { return storage.Fail })
	if err != nil {
		// The places stay taken and lapse into a failure after the lease.
		return Result{Verdict: Invalid, Identity: t.id, Limit: t.a.policy.Limit}, fmt.Errorf("axes: settle failure: %w", err)
	}
	s := summarise(t.a.buckets, ans)
	v := Invalid
	if s.locked {
		v = Locked
	}
	res := g.resultOf(v, t.id, &t.a.policy, s)
	g.fire(ctx, g.hooks.LoginFailed, res, t.at)
	g.logFailure(ctx, t.id, t.at, v == Locked)
	if v == Locked {
		g.logLockout(ctx, res, "failure limit reached")
		g.fire(ctx, g.hooks.LockedOut, res, t.at)
	}
	return res, nil
}

// Succeed settles the attempt as a successful login: its places are given
// back (and, with ResetOnSuccess, the user's failures are cleared) and the
// login is recorded in the audit log.
func (t *Ticket) Succeed(ctx context.Context) (Result, error) {
	return t.SucceedSession(ctx, "")
}

// SucceedSession is [Ticket.Succeed] for applications with sessions: the
// audit entry carries a hash of sessionID, so that [Guard.Logout] closes the
// entry of this session only. The session identifier itself is not stored.
func (t *Ticket) SucceedSession(ctx context.Context, sessionID string) (Result, error) {
	if !t.settled.CompareAndSwap(false, true) {
		return Result{}, ErrSettled
	}
	g := t.g
	res := Result{Verdict: Allowed, Identity: t.id}
	if t.disabled {
		return res, nil
	}
	var storeErr error
	if t.a != nil {
		ans, err := t.settle(ctx, func(i int) storage.Kind {
			switch {
			case !g.cfg.ResetOnSuccess || !t.exact:
				return storage.Release
			case t.a.buckets[i].Username != "":
				return storage.Clear
			case t.a.users[i] != "":
				return storage.Take
			}
			return storage.Release
		})
		if err != nil {
			storeErr = fmt.Errorf("axes: settle success: %w", err)
			g.log.ErrorContext(ctx, "axes: could not give back a reservation", "err", err)
		} else {
			s := summarise(t.a.buckets, ans)
			res.Failures, res.Bucket = s.failures, s.bucket
		}
		res.Limit = t.a.policy.Limit
	}
	if g.audit != nil && !g.cfg.DisableAccessLog {
		e := storage.AccessEntry{Time: t.at, Username: t.id.Username, IP: ipString(t.id.IP), UserAgent: t.id.UserAgent, Path: t.id.Path, SessionHash: sessionHash(sessionID)}
		actx, cancel := g.deadline(ctx)
		err := g.audit.LogLogin(actx, e)
		cancel()
		if err != nil {
			g.log.ErrorContext(ctx, "axes: could not record a login", "err", err)
		}
	}
	g.fire(ctx, g.hooks.LoggedIn, res, t.at)
	return res, storeErr
}

// Release gives the places back without a verdict: use it when the
// credentials could not be checked at all (the user database was down).
func (t *Ticket) Release(ctx context.Context) error {
	if !t.settled.CompareAndSwap(false, true) {
		return ErrSettled
	}
	if t.disabled || t.a == nil {
		return nil
	}
	if _, err := t.settle(ctx, func(int) storage.Kind { return storage.Release }); err != nil {
		return fmt.Errorf("axes: release: %w", err)
	}
	return nil
}

// Authenticate runs check, the application's credential check, under the
// guard: a locked-out or denied client is refused before check runs (the
// counterpart of django-axes' AxesBackend). check returns true for right
// credentials and false for wrong ones; an error from check means the
// credentials could not be checked, gives the places back and is returned
// with the verdict Undecided. Lockouts are not errors: the verdict says
// Locked or Denied.
func (g *Guard) Authenticate(ctx context.Context, id Identity, check func(context.Context) (bool, error)) (Result, error) {
	t, err := g.Admit(ctx, id)
	if err != nil {
		var le *LockoutError
		if errors.As(err, &le) {
			return le.Result, nil
		}
		return Result{Verdict: Undecided, Identity: id}, err
	}
	ok, err := check(ctx)
	if err != nil {
		if rerr := t.Release(ctx); rerr != nil {
			g.log.ErrorContext(ctx, "axes: could not give back a reservation", "err", rerr)
		}
		return Result{Verdict: Undecided, Identity: t.id}, err
	}
	if ok {
		return t.Succeed(ctx)
	}
	return t.Fail(ctx)
}

package axestest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/storage"
)

// oracleStore is the reference store of the property test: a map behind a
// mutex that runs each op through [oracle] exactly as the contract says, and
// counts the outcomes it sees, so that the test can tell whether its
// random sequences reached every class of outcome.
type oracleStore struct {
	mu      sync.Mutex
	entries map[string]storage.Entry
	seen    map[string]int
}

func newOracleStore() *oracleStore {
	return &oracleStore{entries: map[string]storage.Entry{}, seen: map[string]int{}}
}

func (s *oracleStore) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ans := make([]storage.Answer, len(ops))
	for i := range ops {
		op := &ops[i]
		e, ok := s.entries[op.Bucket.Key]
		in := e.State
		in.Shares = slices.Clone(in.Shares)
		st, a := oracle(&op.Step, in)
		ans[i] = a
		if op.Step.Kind == storage.Peek {
			continue
		}
		s.classify(&op.Step, &e.State, a)
		if st.Empty() {
			delete(s.entries, op.Bucket.Key)
			continue
		}
		if !ok {
			e.Bucket = op.Bucket
		}
		e.State = st
		s.entries[op.Bucket.Key] = e
	}
	return ans, nil
}

// classify counts the outcome classes of one writing step on the stored
// state in.
func (s *oracleStore) classify(st *storage.Step, in *storage.State, a storage.Answer) {
	switch {
	case st.Kind == storage.Admit && a.Admitted:
		s.seen["admitted"]++
	case st.Kind == storage.Admit && a.Full:
		s.seen["full"]++
	case st.Kind == storage.Admit && a.Locked:
		s.seen["locked"]++
	case st.Kind == storage.Take && a.Taken > 0:
		s.seen["share take"]++
	case st.Kind == storage.Fail && st.Held && !a.Counted:
		s.seen["late settlement"]++
	}
	l := st.Policy.Lease
	live := in.ExpiresAt == 0 || st.Now < in.ExpiresAt
	if live && l > 0 && ((in.Older > 0 && st.Now >= (in.Slot+1)*l) || (in.Reserved > 0 && st.Now >= (in.Slot+2)*l)) {
		s.seen["lapse"]++
	}
}

func (s *oracleStore) List(ctx context.Context, f storage.Filter) ([]storage.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Entry
	for _, e := range s.entries {
		b := &e.Bucket
		if (f.IP != "" && b.IP != f.IP) || (f.Username != "" && b.Username != f.Username) ||
			(f.ShareOf != "" && e.State.Share(f.ShareOf) == 0) {
			continue
		}
		e.State.Shares = slices.Clone(e.State.Shares)
		out = append(out, e)
	}
	return out, nil
}

func (s *oracleStore) Close() error { return nil }

// Sizes of the property test.
const (
	propSequences = 200
	propActions   = 80
)

// propGroups are the lockout parameters a sequence may count by.
var propGroups = [][]axes.Group{
	{{axes.ParamIPAddress}},
	{{axes.ParamIPAddress}, {axes.ParamUsername}},
	{{axes.ParamUsername, axes.ParamIPAddress}},
	{{axes.ParamIPAddress}, {axes.ParamUsername}, {axes.ParamUsername, axes.ParamIPAddress}},
	{{axes.ParamIPAddress, axes.ParamUserAgent}, {axes.ParamUsername}},
}

// randConfig returns a random policy: limits of 1 to 4; cool-offs of a
// minute, ten minutes or until reset, or three tiers; windows as the
// default, shorter or longer than the cool-off; RecordOnly, FixedCoolOff,
// ResetOnSuccess; and a lease of 30 s to 5 min, some of them odd.
func randConfig(r *rand.Rand) (axes.Config, time.Duration) {
	var c axes.Config
	c.FailureLimit = 1 + r.IntN(4)
	switch r.IntN(4) {
	case 0: // until reset
	case 1:
		c.CoolOff = time.Minute
	case 2:
		c.CoolOff = 10 * time.Minute
	case 3:
		last := []time.Duration{0, time.Hour}[r.IntN(2)]
		c.Tiers = []axes.Tier{{Failures: c.FailureLimit, CoolOff: time.Minute},
			{Failures: c.FailureLimit + 2, CoolOff: 10 * time.Minute}, {Failures: c.FailureLimit + 4, CoolOff: last}}
	}
	c.FailureWindow = []time.Duration{0, 0, 2 * time.Minute, 30 * time.Minute}[r.IntN(4)]
	c.RecordOnly = r.IntN(8) == 0
	c.FixedCoolOff = r.IntN(2) == 0
	c.ResetOnSuccess = r.IntN(2) == 0
	c.LockoutParameters = propGroups[r.IntN(len(propGroups))]
	// An odd lease puts the cohorts' ends at odd microseconds.
	odd := 47*time.Second + 123457*time.Microsecond
	return c, []time.Duration{30 * time.Second, time.Minute, odd, odd, 5 * time.Minute}[r.IntN(5)]
}

// testProperty runs random sequences of login attempts through a guard on
// the store under test and, in parallel, through a guard with the same
// configuration and clock on an oracleStore, and requires the same result
// from both at every call, and the same buckets at the end. The sequences
// admit tickets and settle them (some late, after their lease lapsed, some
// never), fail, succeed, reset, and move the clock by microseconds, leases
// and hours, often to the exact instant a lock, a count, a cohort or a
// bucket ends, or 1µs before it. Each sequence uses addresses and
// usernames of its own, so sequences share the store without meeting.
func testProperty(t *testing.T, e *env) {
	r := rand.New(rand.NewPCG(0x61786573, 0x70726f70))
	_, canList := lister(e.s)
	if !canList {
		t.Log("the store cannot list: resets are left out, and the final state is compared through Explain")
	}
	seen := map[string]int{}
	for seq := range propSequences {
		w := newWorld(t, e.s, r, seq, canList)
		for range propActions {
			w.act()
		}
		w.final()
		for k, n := range w.os.seen {
			seen[k] += n
		}
	}
	t.Logf("outcomes: %v", seen)
	for _, class := range []string{"admitted", "locked", "full", "lapse", "share take", "late settlement"} {
		if seen[class] < 10 {
			t.Errorf("the random sequences produced %q only %d times; the generator is too weak", class, seen[class])
		}
	}
}

// world is one sequence of the property test.
type world struct {
	t       *testing.T
	r       *rand.Rand
	seq     int
	cfg     axes.Config
	lease   time.Duration
	clk     *Clock
	gs, gm  *axes.Guard // on the store under test, on the oracle store
	os      *oracleStore
	canList bool
	ips     []string
	users   []string
	agents  []string
	open    []ticketPair
	history []string
}

// ticketPair is one attempt admitted by both guards.
type ticketPair struct {
	s, m *axes.Ticket
	id   axes.Identity
}

func newWorld(t *testing.T, s storage.Store, r *rand.Rand, seq int, canList bool) *world {
	t.Helper()
	cfg, lease := randConfig(r)
	w := &world{t: t, r: r, seq: seq, cfg: cfg, lease: lease, clk: NewClock(base), os: newOracleStore(), canList: canList,
		ips: []string{
			fmt.Sprintf("10.%d.%d.1", seq/256, seq%256), fmt.Sprintf("10.%d.%d.2", seq/256, seq%256),
			fmt.Sprintf("2001:db8:%x::1", seq), fmt.Sprintf("2001:db8:%x::2", seq), // one /64
		},
		users:  []string{fmt.Sprintf("alice-%d", seq), fmt.Sprintf("bob-%d", seq), ""},
		agents: []string{"agent/1", "agent/2"},
	}
	w.gs = newGuard(t, s, cfg, w.clk, axes.WithReservationLease(lease))
	w.gm = newGuard(t, w.os, cfg, w.clk, axes.WithReservationLease(lease))
	return w
}

func (w *world) note(format string, args ...any) {
	w.history = append(w.history, fmt.Sprintf("%3d +%-12v ", len(w.history), w.clk.Now().Sub(base))+fmt.Sprintf(format, args...))
}

// fatal reports a difference with the sequence that led to it.
func (w *world) fatal(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("sequence %d: %s\nconfig: limit %d, cool-off %v, tiers %v, window %v, record only %v, fixed cool-off %v, reset on success %v, groups %v, lease %v\nactions:\n%s",
		w.seq, fmt.Sprintf(format, args...), w.cfg.FailureLimit, w.cfg.CoolOff, w.cfg.Tiers, w.cfg.FailureWindow,
		w.cfg.RecordOnly, w.cfg.FixedCoolOff, w.cfg.ResetOnSuccess, w.cfg.LockoutParameters, w.lease, strings.Join(w.history, "\n"))
}

func (w *world) identity() axes.Identity {
	id := ident(w.ips[w.r.IntN(len(w.ips))], w.users[w.r.IntN(len(w.users))])
	id.UserAgent = w.agents[w.r.IntN(len(w.agents))]
	return id
}

func who(id axes.Identity) string { return fmt.Sprintf("%s@%v/%s", id.Username, id.IP, id.UserAgent) }

// act makes one random move on both guards and compares what they say.
func (w *world) act() {
	w.t.Helper()
	ctx := w.t.Context()
	switch n := w.r.IntN(100); {
	case n < 25 && len(w.open) < 8:
		id := w.identity()
		w.note("admit %s", who(id))
		ts, errS := w.gs.Admit(ctx, id)
		tm, errM := w.gm.Admit(ctx, id)
		w.sameErr("Admit", errS, errM)
		if errS == nil {
			w.open = append(w.open, ticketPair{s: ts, m: tm, id: id})
		}
	case n < 45:
		id := w.identity()
		ok := w.r.IntN(5) < 2
		w.note("authenticate %s (right password: %v)", who(id), ok)
		check := func(context.Context) (bool, error) { return ok, nil }
		rs, errS := w.gs.Authenticate(ctx, id, check)
		rm, errM := w.gm.Authenticate(ctx, id, check)
		w.sameErr("Authenticate", errS, errM)
		w.sameResult("Authenticate", rs, rm)
	case n < 65 && len(w.open) > 0:
		i := w.r.IntN(len(w.open))
		tp := w.open[i]
		w.open = slices.Delete(w.open, i, i+1)
		switch k := w.r.IntN(10); {
		case k < 5:
			w.note("fail the ticket of %s", who(tp.id))
			rs, errS := tp.s.Fail(ctx)
			rm, errM := tp.m.Fail(ctx)
			w.sameErr("Fail", errS, errM)
			w.sameResult("Fail", rs, rm)
		case k < 8:
			w.note("succeed the ticket of %s", who(tp.id))
			rs, errS := tp.s.Succeed(ctx)
			rm, errM := tp.m.Succeed(ctx)
			w.sameErr("Succeed", errS, errM)
			w.sameResult("Succeed", rs, rm)
		default:
			w.note("release the ticket of %s", who(tp.id))
			w.sameErr("Release", tp.s.Release(ctx), tp.m.Release(ctx))
		}
	case n < 85:
		w.tick()
	case n < 92 && w.canList:
		f := w.filter()
		w.note("reset %+v", f)
		ns, errS := w.gs.Reset(ctx, f)
		nm, errM := w.gm.Reset(ctx, f)
		w.sameErr("Reset", errS, errM)
		if ns != nm {
			w.fatal("Reset(%+v) = %d on the store, %d on the oracle", f, ns, nm)
		}
	default:
		id := w.identity()
		w.note("status %s", who(id))
		w.sameStatus(id)
	}
}

// filter returns a random reset filter of this sequence's clients: never
// an empty one, which would reach the buckets of other sequences.
func (w *world) filter() axes.Filter {
	ip := w.ips[w.r.IntN(len(w.ips))]
	user := w.users[w.r.IntN(2)]
	switch w.r.IntN(5) {
	case 0:
		return axes.Filter{IP: ip}
	case 1:
		return axes.Filter{Username: user}
	case 2:
		return axes.Filter{IP: ip, Username: user}
	case 3:
		return axes.Filter{Username: user, LockedOnly: true}
	}
	return axes.Filter{IP: ip, LockedOnly: true}
}

// tick moves the clock: not at all, by a microsecond, seconds, leases,
// minutes or hours, or to a boundary of a stored bucket.
func (w *world) tick() {
	now := w.clk.Now()
	var d time.Duration
	switch w.r.IntN(12) {
	case 0, 1:
	case 2:
		d = time.Microsecond
	case 3, 4:
		d = time.Duration(1+w.r.IntN(20)) * time.Second
	case 5, 6:
		d = time.Duration(1+w.r.IntN(3))*w.lease + time.Duration(w.r.IntN(1000))*time.Millisecond
	case 7:
		d = time.Duration(1+w.r.IntN(40)) * time.Minute
	case 8:
		d = time.Duration(1+w.r.IntN(3)) * time.Hour
	default:
		if b, ok := w.boundary(); ok && b.After(now) {
			d = b.Sub(now)
		}
	}
	w.clk.Set(now.Add(d))
	w.note("clock +%v", d)
}

// boundary returns a time at which a bucket of the oracle store changes
// (a cohort lapses, a lock or a tier's cool-off ends, a count or the
// bucket is forgotten), or 1µs before it.
func (w *world) boundary() (time.Time, bool) {
	w.os.mu.Lock()
	defer w.os.mu.Unlock()
	if len(w.os.entries) == 0 {
		return time.Time{}, false
	}
	keys := make([]string, 0, len(w.os.entries))
	for k := range w.os.entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	st := w.os.entries[keys[w.r.IntN(len(keys))]].State
	p := w.gm.Policy(axes.Identity{})
	var marks []int64
	if st.Reserved+st.Older > 0 && p.Lease > 0 {
		marks = append(marks, (st.Slot+1)*p.Lease, (st.Slot+2)*p.Lease, (st.Slot+2)*p.Lease)
	}
	if st.Failures > 0 {
		for _, tier := range p.Tiers {
			marks = append(marks, st.LastFailure+tier.CoolOff)
		}
		if p.Window > 0 {
			marks = append(marks, st.LastFailure+p.Window)
		}
	}
	if st.ExpiresAt > 0 {
		marks = append(marks, st.ExpiresAt)
	}
	if len(marks) == 0 {
		return time.Time{}, false
	}
	m := marks[w.r.IntN(len(marks))]
	if w.r.IntN(3) == 0 {
		m--
	}
	return storage.Time(m), true
}

func (w *world) sameErr(what string, es, em error) {
	w.t.Helper()
	var ls, lm *axes.LockoutError
	switch {
	case es == nil && em == nil:
	case errors.As(es, &ls) && errors.As(em, &lm):
		w.sameResult(what+" (refused)", ls.Result, lm.Result)
	case es != nil && em != nil && errors.Is(es, axes.ErrSettled) && errors.Is(em, axes.ErrSettled):
	default:
		w.fatal("%s: the store's guard returned the error %v, the oracle's %v", what, es, em)
	}
}

func (w *world) sameResult(what string, rs, rm axes.Result) {
	w.t.Helper()
	var d []string
	add := func(field string, s, m any) {
		d = append(d, fmt.Sprintf("%s: store %v, oracle %v", field, s, m))
	}
	if rs.Verdict != rm.Verdict {
		add("Verdict", rs.Verdict, rm.Verdict)
	}
	if rs.Identity != rm.Identity {
		add("Identity", rs.Identity, rm.Identity)
	}
	if rs.Failures != rm.Failures {
		add("Failures", rs.Failures, rm.Failures)
	}
	if rs.Limit != rm.Limit {
		add("Limit", rs.Limit, rm.Limit)
	}
	if rs.CoolOff != rm.CoolOff {
		add("CoolOff", rs.CoolOff, rm.CoolOff)
	}
	if !rs.LockedUntil.Equal(rm.LockedUntil) {
		add("LockedUntil", showTime(rs.LockedUntil), showTime(rm.LockedUntil))
	}
	if rs.Bucket != rm.Bucket {
		add("Bucket", rs.Bucket.Key, rm.Bucket.Key)
	}
	if len(d) > 0 {
		w.fatal("%s: the results differ:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

// sameStatus compares Status and Explain of id on both guards.
func (w *world) sameStatus(id axes.Identity) {
	w.t.Helper()
	ctx := w.t.Context()
	rs, errS := w.gs.Status(ctx, id)
	rm, errM := w.gm.Status(ctx, id)
	w.sameErr("Status("+who(id)+")", errS, errM)
	w.sameResult("Status("+who(id)+")", rs, rm)
	es, errS := w.gs.Explain(ctx, id)
	em, errM := w.gm.Explain(ctx, id)
	w.sameErr("Explain("+who(id)+")", errS, errM)
	if es.Verdict != em.Verdict || es.Reason != em.Reason {
		w.fatal("Explain(%s): store %v (%s), oracle %v (%s)", who(id), es.Verdict, es.Reason, em.Verdict, em.Reason)
	}
	w.sameStates("Explain("+who(id)+")", es.Buckets, em.Buckets)
}

func (w *world) sameStates(what string, s, m []axes.BucketState) {
	w.t.Helper()
	if len(s) != len(m) {
		w.fatal("%s: %d buckets on the store, %d on the oracle:\n\tstore  %+v\n\toracle %+v", what, len(s), len(m), s, m)
	}
	for i := range s {
		if !sameBucketState(s[i], m[i]) {
			w.fatal("%s: bucket %d differs:\n\tstore  %+v\n\toracle %+v", what, i, s[i], m[i])
		}
	}
}

// final compares every identity of the sequence, and the buckets listed
// by address and by username, once the sequence is over.
func (w *world) final() {
	w.t.Helper()
	w.note("the end")
	for _, ip := range w.ips {
		for _, u := range w.users {
			for _, a := range w.agents {
				id := ident(ip, u)
				id.UserAgent = a
				w.sameStatus(id)
			}
		}
	}
	if !w.canList {
		return
	}
	var filters []axes.Filter
	for _, ip := range w.ips {
		filters = append(filters, axes.Filter{IP: ip})
	}
	for _, u := range w.users[:2] {
		filters = append(filters, axes.Filter{Username: u}, axes.Filter{Username: u, LockedOnly: true})
	}
	for _, f := range filters {
		ls, errS := w.gs.List(w.t.Context(), f)
		lm, errM := w.gm.List(w.t.Context(), f)
		w.sameErr("List", errS, errM)
		w.sameStates(fmt.Sprintf("List(%+v)", f), ls, lm)
	}
}

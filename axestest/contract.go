package axestest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goaxes/axes/storage"
)

// stepTests drive the store with ops built by hand.
var stepTests = []subtest{
	{"ReadApplyWrite", testReadApplyWrite},
	{"Cohorts", testCohorts},
	{"PeekWritesNothing", testPeekWritesNothing},
	{"EmptyDeletes", testEmptyDeletes},
	{"SameKeyInOneDo", testSameKeyInOneDo},
	{"RoundTrip", testRoundTrip},
	{"Descriptors", testDescriptors},
	{"Expiry", testExpiry},
	{"OddKeys", testOddKeys},
	{"CanceledContext", testCanceledContext},
	{"Closed", testClosed},
}

// The policy of most step tests: 3 failures lock for 10 minutes, counts
// are kept 10 minutes, tickets lapse with a one-minute lease.
const (
	stepWindow = 10 * minute
	stepLease  = minute
)

var stepPolicy = policy(3, stepWindow, stepWindow, stepLease)

// testReadApplyWrite walks one bucket through every kind of writing step
// and compares the stored state with states worked out by hand from the
// specification (docs/step.md).
func testReadApplyWrite(t *testing.T, e *env) {
	s, p := e.s, stepPolicy
	b := ipBucket("192.0.2.1")
	const W, L = stepWindow, stepLease
	k := t0 / L // the cohort of a ticket admitted at t0
	// A ticket in flight keeps the bucket until a window after it lapses,
	// at (k+2)·L; every later expiry here is earlier, and an expiry never
	// moves earlier, so it stays.
	exp := (k+2)*L + W

	checkAnswer(t, "admit", one(t, s, b, stepOf(storage.Admit, t0, p, "alice")),
		storage.Answer{Admitted: true, Slot: k, InFlight: 1})
	expectState(t, "after admit (a state that holds only a ticket)", s, b, t0, p,
		storage.State{Reserved: 1, Slot: k, ExpiresAt: exp})

	t1 := t0 + second
	checkAnswer(t, "fail the ticket", one(t, s, b, held(storage.Fail, t1, p, "alice", k)),
		storage.Answer{Counted: true, Failures: 1, LastFailure: t1, ForgetAt: t1 + W})
	expectState(t, "after the fail", s, b, t1, p,
		storage.State{Failures: 1, LastFailure: t1, Shares: []storage.Share{{User: "alice", Failures: 1}}, ExpiresAt: exp})

	t2 := t0 + 2*second
	checkAnswer(t, "an unheld fail", one(t, s, b, stepOf(storage.Fail, t2, p, "bob")),
		storage.Answer{Counted: true, Failures: 2, LastFailure: t2, ForgetAt: t2 + W})
	t3 := t0 + 3*second
	checkAnswer(t, "a fail without a user locks", one(t, s, b, stepOf(storage.Fail, t3, p, "")),
		storage.Answer{Counted: true, Locked: true, Until: t3 + W, Failures: 3, LastFailure: t3, ForgetAt: t3 + W})
	expectState(t, "after three failures", s, b, t3, p, storage.State{Failures: 3, LastFailure: t3,
		Shares: []storage.Share{{User: "alice", Failures: 1}, {User: "bob", Failures: 1}}, ExpiresAt: exp})

	t4 := t0 + 4*second
	checkAnswer(t, "take alice's share", one(t, s, b, stepOf(storage.Take, t4, p, "alice")),
		storage.Answer{Taken: 1, Failures: 2, LastFailure: t3, ForgetAt: t3 + W})
	expectState(t, "after the take", s, b, t4, p, storage.State{Failures: 2, LastFailure: t3,
		Shares: []storage.Share{{User: "bob", Failures: 1}}, ExpiresAt: exp})

	// A Clear keeps the ticket of another attempt.
	checkAnswer(t, "admit again", one(t, s, b, stepOf(storage.Admit, t4, p, "carol")),
		storage.Answer{Admitted: true, Slot: k, Failures: 2, LastFailure: t3, ForgetAt: t3 + W, InFlight: 1})
	checkAnswer(t, "clear", one(t, s, b, stepOf(storage.Clear, t4, p, "")),
		storage.Answer{Taken: 2, InFlight: 1})
	expectState(t, "after the clear", s, b, t4, p, storage.State{Reserved: 1, Slot: k, ExpiresAt: exp})
	checkAnswer(t, "release", one(t, s, b, held(storage.Release, t4, p, "carol", k)), storage.Answer{})
	expectState(t, "after the release", s, b, t4, p, storage.State{})
}

// testCohorts: a ticket of the previous cohort (Older) settles as itself,
// a ticket that lapsed settles as nothing, and lapses happen exactly at
// the end of the cohort after next.
func testCohorts(t *testing.T, e *env) {
	s, p := e.s, stepPolicy
	b := ipBucket("192.0.2.2")
	const W, L = stepWindow, stepLease
	k := t0 / L
	checkAnswer(t, "admit A", one(t, s, b, stepOf(storage.Admit, t0, p, "")),
		storage.Answer{Admitted: true, Slot: k, InFlight: 1})
	tB := (k+1)*L + second // in the next cohort: A becomes Older
	checkAnswer(t, "admit B in the next cohort", one(t, s, b, stepOf(storage.Admit, tB, p, "")),
		storage.Answer{Admitted: true, Slot: k + 1, InFlight: 2})
	expectState(t, "two cohorts in flight", s, b, tB, p,
		storage.State{Reserved: 1, Older: 1, Slot: k + 1, ExpiresAt: (k+3)*L + W})

	tf := tB + second
	checkAnswer(t, "fail A (Older)", one(t, s, b, held(storage.Fail, tf, p, "", k)),
		storage.Answer{Counted: true, Failures: 1, LastFailure: tf, ForgetAt: tf + W, InFlight: 1})
	expectState(t, "after failing A", s, b, tf, p,
		storage.State{Failures: 1, LastFailure: tf, Reserved: 1, Slot: k + 1, ExpiresAt: (k+3)*L + W})

	lapse := (k + 3) * L // B's cohort lapses two leases after it began
	checkAnswer(t, "1µs before B lapses", peek(t, s, b, lapse-1, p),
		storage.Answer{Failures: 1, LastFailure: tf, ForgetAt: tf + W, InFlight: 1})
	checkAnswer(t, "when B lapses", peek(t, s, b, lapse, p),
		storage.Answer{Failures: 2, LastFailure: lapse, ForgetAt: lapse + W})
	checkAnswer(t, "fail B after its lapse", one(t, s, b, held(storage.Fail, lapse+second, p, "", k+1)),
		storage.Answer{Failures: 2, LastFailure: lapse, ForgetAt: lapse + W})
	expectState(t, "after the late fail", s, b, lapse+second, p,
		storage.State{Failures: 2, LastFailure: lapse, ExpiresAt: lapse + W})
}

// testPeekWritesNothing: a Peek that sees lapses and forgetting stores
// neither, and a Peek of an absent bucket creates nothing.
func testPeekWritesNothing(t *testing.T, e *env) {
	s, p := e.s, stepPolicy
	const L = stepLease
	k := t0 / L
	absent := ipBucket("192.0.2.3")
	checkAnswer(t, "peek of an absent bucket", peek(t, s, absent, t0, p), storage.Answer{})
	expectState(t, "after that peek", s, absent, t0, p, storage.State{})

	b := ipBucket("192.0.2.4")
	one(t, s, b, stepOf(storage.Admit, t0, p, ""))
	lapse := (k + 2) * L
	checkAnswer(t, "peek when the ticket lapses", peek(t, s, b, lapse, p),
		storage.Answer{Failures: 1, LastFailure: lapse, ForgetAt: lapse + stepWindow})
	// Read at t0 again: had the Peek written, the lapse would show.
	expectState(t, "after the peek", s, b, t0, p,
		storage.State{Reserved: 1, Slot: k, ExpiresAt: lapse + stepWindow})

	c := ipBucket("192.0.2.5")
	one(t, s, c, stepOf(storage.Fail, t0, p, "alice"))
	short := policy(3, second, second, stepLease)
	checkAnswer(t, "peek under a policy that forgets", peek(t, s, c, t0+second, short), storage.Answer{})
	expectState(t, "after that peek", s, c, t0+second, p, storage.State{Failures: 1, LastFailure: t0,
		Shares: []storage.Share{{User: "alice", Failures: 1}}, ExpiresAt: t0 + stepWindow})
}

// testEmptyDeletes: a step whose state is empty deletes the bucket.
func testEmptyDeletes(t *testing.T, e *env) {
	s, p := e.s, stepPolicy
	k := t0 / stepLease
	a := ipBucket("192.0.2.6")
	one(t, s, a, stepOf(storage.Admit, t0, p, ""))
	one(t, s, a, held(storage.Release, t0+1, p, "", k))
	expectState(t, "admitted, then released", s, a, t0+1, p, storage.State{})

	b := ipBucket("192.0.2.7")
	one(t, s, b, stepOf(storage.Fail, t0, p, "alice"))
	one(t, s, b, stepOf(storage.Fail, t0, p, "bob"))
	one(t, s, b, stepOf(storage.Take, t0+1, p, "alice"))
	one(t, s, b, stepOf(storage.Take, t0+1, p, "bob"))
	expectState(t, "failed, then both shares taken", s, b, t0+1, p, storage.State{})

	c := ipBucket("192.0.2.8")
	one(t, s, c, stepOf(storage.Fail, t0, p, ""))
	one(t, s, c, stepOf(storage.Clear, t0+1, p, ""))
	expectState(t, "failed, then cleared", s, c, t0+1, p, storage.State{})

	// A step on a bucket whose failures were forgotten writes an empty
	// state: the bucket goes.
	d := ipBucket("192.0.2.9")
	one(t, s, d, stepOf(storage.Fail, t0, p, ""))
	one(t, s, d, stepOf(storage.Release, t0+stepWindow, p, ""))
	expectState(t, "a release after the window", s, d, t0+stepWindow, p, storage.State{})
}

// testSameKeyInOneDo: the ops of one call apply in order, each seeing the
// state the previous ones wrote, also when other keys come between.
func testSameKeyInOneDo(t *testing.T, e *env) {
	s, p := e.s, stepPolicy
	const W = stepWindow
	k := t0 / stepLease
	a, b := ipBucket("192.0.2.10"), ipBucket("192.0.2.11")
	ops := []storage.Op{
		{Bucket: a, Step: stepOf(storage.Admit, t0, p, "alice")},
		{Bucket: b, Step: stepOf(storage.Admit, t0, p, "alice")},
		{Bucket: a, Step: stepOf(storage.Admit, t0, p, "bob")},
		{Bucket: a, Step: held(storage.Fail, t0, p, "alice", k)},
		{Bucket: a, Step: stepOf(storage.Peek, t0, p, "")},
		{Bucket: b, Step: held(storage.Fail, t0, p, "alice", k)},
		{Bucket: a, Step: held(storage.Release, t0, p, "bob", k)},
		{Bucket: a, Step: stepOf(storage.Peek, t0, p, "")},
	}
	failed := storage.Answer{Failures: 1, LastFailure: t0, ForgetAt: t0 + W}
	want := []storage.Answer{
		{Admitted: true, Slot: k, InFlight: 1},
		{Admitted: true, Slot: k, InFlight: 1},
		{Admitted: true, Slot: k, InFlight: 2},
		{Counted: true, Failures: 1, LastFailure: t0, ForgetAt: t0 + W, InFlight: 1},
		{Failures: 1, LastFailure: t0, ForgetAt: t0 + W, InFlight: 1},
		{Counted: true, Failures: 1, LastFailure: t0, ForgetAt: t0 + W},
		failed,
		failed,
	}
	got := do(t, s, ops...)
	for i := range want {
		checkAnswer(t, fmt.Sprintf("op %d (%s on %s)", i, ops[i].Step.Kind, ops[i].Bucket.IP), got[i], want[i])
	}
	st := storage.State{Failures: 1, LastFailure: t0, Shares: []storage.Share{{User: "alice", Failures: 1}}, ExpiresAt: (k+2)*stepLease + W}
	expectState(t, "bucket a", s, a, t0, p, st)
	expectState(t, "bucket b", s, b, t0, p, st)
}

// roundTripUsers are users whose shares must come back byte for byte, in
// the order of their bytes.
var roundTripUsers = []string{"alice", "bob", "Zoë", "ünï-😀", "日本語", "e\u0301", "\u00e9", "a b|c=1:d"}

// testRoundTrip builds a state with every field set, at odd microseconds,
// and requires the store to give every field back as it was written.
func testRoundTrip(t *testing.T, e *env) {
	s := e.s
	const W, L = 30 * minute, minute
	p := policy(100, W, W, L)
	b := ipBucket("192.0.2.12")
	start := t0 + 123_457
	k := start / L
	var ops []storage.Op
	for i, u := range roundTripUsers {
		for range i%3 + 1 {
			ops = append(ops, storage.Op{Bucket: b, Step: stepOf(storage.Fail, start+int64(i), p, u)})
		}
	}
	do(t, s, ops...)
	last := start + int64(len(roundTripUsers)-1)
	one(t, s, b, stepOf(storage.Admit, last+1, p, ""))
	tB := (k+1)*L + 7
	one(t, s, b, stepOf(storage.Admit, tB, p, ""))

	// The shares sorted by their bytes, by hand.
	shares := []storage.Share{
		{User: "Zoë", Failures: 3}, {User: "a b|c=1:d", Failures: 2}, {User: "alice", Failures: 1},
		{User: "bob", Failures: 2}, {User: "e\u0301", Failures: 3}, {User: "\u00e9", Failures: 1},
		{User: "ünï-😀", Failures: 1}, {User: "日本語", Failures: 2},
	}
	want := storage.State{Failures: len(ops), LastFailure: last, Reserved: 1, Older: 1, Slot: k + 1,
		Shares: shares, ExpiresAt: (k+3)*L + W}
	if _, ok := lister(s); !ok {
		t.Log("the store cannot list: the state is checked through steps only")
	}
	expectState(t, "every field set", s, b, tB, p, want)

	// The same, through steps: both cohorts settle as themselves, and each
	// user's share comes off whole.
	checkAnswer(t, "fail the Older ticket", one(t, s, b, held(storage.Fail, tB, p, "", k)),
		storage.Answer{Counted: true, Failures: len(ops) + 1, LastFailure: tB, ForgetAt: tB + W, InFlight: 1})
	checkAnswer(t, "release the newer ticket", one(t, s, b, held(storage.Release, tB, p, "", k+1)),
		storage.Answer{Failures: len(ops) + 1, LastFailure: tB, ForgetAt: tB + W})
	left := len(ops) + 1
	for _, sh := range shares {
		left -= sh.Failures
		checkAnswer(t, fmt.Sprintf("take %q", sh.User), one(t, s, b, stepOf(storage.Take, tB, p, sh.User)),
			storage.Answer{Taken: sh.Failures, Failures: left, LastFailure: tB, ForgetAt: tB + W})
	}
}

// testDescriptors: a bucket's descriptor is stored with it and listed.
func testDescriptors(t *testing.T, e *env) {
	if _, ok := lister(e.s); !ok {
		t.Skip("the store does not implement storage.Lister: descriptors are listed only")
	}
	s, p := e.s, stepPolicy
	bs := []storage.Bucket{
		{Key: "axestest|d1", Params: "ip_address", IP: "192.0.2.13"},
		{Key: "axestest|d2", Params: "username", Username: "ünï-😀"},
		{Key: "axestest|d3", Params: "username+ip_address+user_agent", IP: "2001:db8::/64", Username: "bob",
			UserAgent: "Mozilla/5.0 (X11; \"quoted\") ü"},
		{Key: "axestest|d4", Params: "ip_address+user_agent", IP: "192.0.2.14"},
	}
	var ops []storage.Op
	for i, b := range bs {
		kind := storage.Admit
		if i%2 == 1 {
			kind = storage.Fail
		}
		ops = append(ops, storage.Op{Bucket: b, Step: stepOf(kind, t0, p, "")})
	}
	do(t, s, ops...)
	es, _ := list(t, s, storage.Filter{})
	if len(es) != len(bs) {
		t.Errorf("List returned %d entries, want %d", len(es), len(bs))
	}
	for _, b := range bs {
		i := slices.IndexFunc(es, func(e storage.Entry) bool { return e.Bucket.Key == b.Key })
		if i < 0 {
			t.Errorf("List does not hold %q", b.Key)
			continue
		}
		if es[i].Bucket != b {
			t.Errorf("listed bucket %+v, want %+v", es[i].Bucket, b)
		}
	}
}

// testExpiry: a bucket is absent at and after its ExpiresAt, whatever
// the policy of the step that reads it, and an expiry never moves
// earlier, whatever the policy of the step that writes it.
func testExpiry(t *testing.T, e *env) {
	s := e.s
	t.Run("AbsentAtExpiresAt", func(t *testing.T) {
		short := policy(5, 10*minute, 10*minute, minute)
		long := policy(5, hour, hour, minute) // would keep the count an hour
		b := ipBucket("192.0.2.15")
		one(t, s, b, stepOf(storage.Fail, t0, short, ""))
		expectState(t, "after the fail", s, b, t0, short, storage.State{Failures: 1, LastFailure: t0, ExpiresAt: t0 + 10*minute})
		if a := peek(t, s, b, t0+10*minute-1, long); a.Failures != 1 {
			t.Errorf("1µs before ExpiresAt, under a longer window: %d failures, want 1", a.Failures)
		}
		if a := peek(t, s, b, t0+10*minute, long); a.Failures != 0 {
			t.Errorf("at ExpiresAt, under a longer window: %d failures, want 0 (the bucket expired)", a.Failures)
		}
		checkAnswer(t, "a fail at ExpiresAt starts afresh", one(t, s, b, stepOf(storage.Fail, t0+10*minute, long, "")),
			storage.Answer{Counted: true, Failures: 1, LastFailure: t0 + 10*minute, ForgetAt: t0 + 10*minute + hour})
	})
	t.Run("NeverEarlier", func(t *testing.T) {
		strict := policy(1, hour, hour, minute)
		lenient := policy(100, minute, minute, 10*second)
		b := ipBucket("192.0.2.16")
		checkAnswer(t, "strict fail", one(t, s, b, stepOf(storage.Fail, t0, strict, "")),
			storage.Answer{Counted: true, Locked: true, Until: t0 + hour, Failures: 1, LastFailure: t0, ForgetAt: t0 + hour})
		tl := t0 + 10*second
		ans := one(t, s, b, stepOf(storage.Admit, tl, lenient, ""))
		if !ans.Admitted {
			t.Fatalf("lenient admit: %s, want admitted", showAnswer(ans))
		}
		one(t, s, b, held(storage.Release, tl+second, lenient, "", ans.Slot))
		expectState(t, "after lenient steps", s, b, tl+second, strict, storage.State{Failures: 1, LastFailure: t0, ExpiresAt: t0 + hour})
		checkAnswer(t, "strict, long after the lenient expiry", peek(t, s, b, t0+30*minute, strict),
			storage.Answer{Locked: true, Until: t0 + hour, Failures: 1, LastFailure: t0, ForgetAt: t0 + hour})

		perm := policy(1, 0, 0, minute)
		c := ipBucket("192.0.2.17")
		one(t, s, c, stepOf(storage.Fail, t0, perm, ""))
		one(t, s, c, stepOf(storage.Release, t0+second, lenient, ""))
		expectState(t, "a permanent lock after a lenient step", s, c, t0+second, perm, storage.State{Failures: 1, LastFailure: t0})
		year := us(base.AddDate(1, 0, 0))
		checkAnswer(t, "a permanent lock a year later", peek(t, s, c, year, perm),
			storage.Answer{Locked: true, Failures: 1, LastFailure: t0})
	})
}

// oddKeys returns keys that naive stores confuse: long keys that differ
// only at the end, every code point from U+0001 to U+00FF (keys are valid
// UTF-8: the core replaces invalid bytes before it keys), Unicode, keys
// that differ only in case or in Unicode normalisation, separators.
func oddKeys() []string {
	all := make([]rune, 0, 255)
	for c := rune(1); c <= 0xff; c++ {
		all = append(all, c)
	}
	rev := slices.Clone(all)
	slices.Reverse(rev)
	long := strings.Repeat("k", 1000)
	return []string{
		long + "-1", long + "-2", "-" + long,
		string(all), string(rev), string(all[:0x7f]), string(all[0x7f:]),
		"ключ-😀", "日本語", "\u00e9", "e\u0301", "ß", "ss", "SS",
		"key-a", "Key-A", "KEY-A", "key-A",
		"a|b", "a:b", "a=b", "a\nb", "a\tb", "a b", " ", "%", "_", "*", "'", "\"", "\\", "a", "\x7f",
	}
}

// testOddKeys: odd keys are distinct, and listed byte for byte.
func testOddKeys(t *testing.T, e *env) {
	s := e.s
	p := policy(1000, hour, hour, minute)
	keys := oddKeys()
	buckets := make(map[string]storage.Bucket, len(keys))
	for i, k := range keys {
		if _, dup := buckets[k]; dup {
			t.Fatalf("oddKeys has %q twice", k)
		}
		b := storage.Bucket{Key: k, Params: "ip_address", IP: fmt.Sprintf("198.51.100.%d", i)}
		buckets[k] = b
		ops := make([]storage.Op, i+1)
		for j := range ops {
			ops[j] = storage.Op{Bucket: b, Step: stepOf(storage.Fail, t0, p, "")}
		}
		do(t, s, ops...)
	}
	for i, k := range keys {
		if a := peek(t, s, buckets[k], t0, p); a.Failures != i+1 {
			t.Errorf("key %d (%.40q, %d bytes): %d failures, want %d", i, k, len(k), a.Failures, i+1)
		}
	}
	es, ok := list(t, s, storage.Filter{})
	if !ok {
		return
	}
	if len(es) != len(keys) {
		t.Errorf("List returned %d entries, want %d", len(es), len(keys))
	}
	for _, e := range es {
		b, ok := buckets[e.Bucket.Key]
		if !ok {
			t.Errorf("List returned a key that was never written: %.40q (%d bytes)", e.Bucket.Key, len(e.Bucket.Key))
			continue
		}
		if e.Bucket != b {
			t.Errorf("listed bucket %+v, want %+v", e.Bucket, b)
		}
		if want := slices.Index(keys, b.Key) + 1; e.State.Failures != want {
			t.Errorf("key %.40q: listed %d failures, want %d", b.Key, e.State.Failures, want)
		}
	}
}

// testCanceledContext: a done context makes Do fail with the context's
// error, and nothing is written.
func testCanceledContext(t *testing.T, e *env) {
	s, p := e.s, stepPolicy
	b := ipBucket("192.0.2.18")
	ops := []storage.Op{{Bucket: b, Step: stepOf(storage.Admit, t0, p, "")}, {Bucket: b, Step: stepOf(storage.Fail, t0, p, "")}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Do(ctx, ops); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a canceled context: err = %v, want one matching context.Canceled", err)
	}
	ctx, cancel = context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := s.Do(ctx, ops); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do with an expired deadline: err = %v, want one matching context.DeadlineExceeded", err)
	}
	expectState(t, "after the canceled calls", s, b, t0, p, storage.State{})
}

// testClosed: after Close, Do returns ErrClosed for every kind; closing
// twice is safe.
func testClosed(t *testing.T, e *env) {
	s, p := e.s, stepPolicy
	b := ipBucket("192.0.2.19")
	one(t, s, b, stepOf(storage.Admit, t0, p, ""))
	e.closed = true
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	for k := storage.Peek; k <= storage.Take; k++ {
		_, err := s.Do(t.Context(), []storage.Op{{Bucket: b, Step: stepOf(k, t0, p, "alice")}})
		if !errors.Is(err, storage.ErrClosed) {
			t.Errorf("Do(%s) after Close: err = %v, want one matching storage.ErrClosed", k, err)
		}
	}
	if err := s.Close(); err != nil && !errors.Is(err, storage.ErrClosed) {
		t.Errorf("second Close() = %v, want nil or storage.ErrClosed", err)
	}
}

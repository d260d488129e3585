package axestest_test

import (
	"cmp"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes/axestest"
	"github.com/goaxes/axes/storage"
)

// refStore is the smallest correct store with every optional capability
// the suite tests: maps behind a mutex, and storage.Apply. With a bug set
// it breaks the contract in one way, to show that the suite notices.
type refStore struct {
	mu      sync.Mutex
	bug     string
	closed  bool
	buckets map[string]storage.Entry
	ttl     map[string]int64 // with the bug "secondsttl": the store's own expiry
	access  []storage.AccessEntry
	fails   []storage.FailureEntry
	rules   map[string]storage.Rule
}

// The bugs refStore can have, and the subtest of RunStoreTests that must
// catch each.
var bugs = []struct{ bug, subtest, what string }{
	{"deletereserved", "Step/ReadApplyWrite", "deletes states without failures, though they hold tickets"},
	{"noolder", "Step/Cohorts", "does not store Older"},
	{"peekwrites", "Step/PeekWritesNothing", "writes the state a Peek computes"},
	{"batchread", "Step/SameKeyInOneDo", "reads every state of a call before applying any"},
	{"millis", "Step/RoundTrip", "keeps times to the millisecond"},
	{"nodesc", "Step/Descriptors", "stores the key of a bucket and not its descriptor"},
	{"noexpiresat", "Step/Expiry", "does not store ExpiresAt"},
	{"ttl", "Step/Expiry", "sets ExpiresAt from the writing step's window, so a lenient step shortens it"},
	{"keyfold", "Step/OddKeys", "folds the case of keys, as a case-insensitive collation does"},
	{"keytrunc", "Step/OddKeys", "keeps only the first 255 bytes of a key"},
	{"ignorectx", "Step/CanceledContext", "never looks at the context"},
	{"noclose", "Step/Closed", "Close does nothing"},
	{"racy", "Concurrency/Admit", "reads and writes a state in two critical sections"},
	{"noslot", "Guard/LateSettlement", "does not store Slot"},
	{"noshares", "Guard/ResetOnSuccess", "does not store Shares"},
	{"resetdel", "Guard/ResetWhileInFlight", "deletes the key on Clear and Take, tickets in flight and all"},
	{"noshareof", "Guard/Reset", "List finds nothing for ShareOf"},
	{"listnofilter", "Optional/Lister", "List ignores its filter"},
	{"purgeall", "Optional/Purger", "Purge removes every bucket that has an expiry, expired or not"},
	{"auditnocap", "Optional/AuditLog", "LogFailure ignores the cap per user"},
	{"rulenoexpiry", "Optional/RuleStore", "Rules returns expired rules"},
	{"secondsttl", "Property/Sequences", "expires keys by itself at ExpiresAt cut to the second, up to 1 s early"},
}

var (
	_ storage.Lister    = (*refStore)(nil)
	_ storage.Purger    = (*refStore)(nil)
	_ storage.AuditLog  = (*refStore)(nil)
	_ storage.LogReader = (*refStore)(nil)
	_ storage.LogPruner = (*refStore)(nil)
	_ storage.RuleStore = (*refStore)(nil)
)

func newRefStore(bug string) *refStore {
	return &refStore{bug: bug, buckets: map[string]storage.Entry{}, ttl: map[string]int64{}, rules: map[string]storage.Rule{}}
}

func (s *refStore) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil && s.bug != "ignorectx" {
		return err
	}
	if s.closed {
		return storage.ErrClosed
	}
	return nil
}

func (s *refStore) key(k string) string {
	switch {
	case s.bug == "keyfold":
		return strings.ToLower(k)
	case s.bug == "keytrunc" && len(k) > 255:
		return k[:255]
	}
	return k
}

// read returns the stored state of key at now.
func (s *refStore) read(key string, now int64) (storage.Entry, bool) {
	e, ok := s.buckets[key]
	if exp, has := s.ttl[key]; ok && has && now >= exp {
		return storage.Entry{}, false
	}
	e.State.Shares = slices.Clone(e.State.Shares)
	return e, ok
}

// write stores st for op (or deletes it), with the bug's damage.
func (s *refStore) write(op *storage.Op, key string, e storage.Entry, existed bool, st storage.State) {
	switch s.bug {
	case "millis":
		st.LastFailure -= st.LastFailure % 1000
		st.ExpiresAt -= st.ExpiresAt % 1000
	case "noexpiresat":
		st.ExpiresAt = 0
	case "ttl":
		if st.Failures > 0 && op.Step.Policy.Window > 0 {
			st.ExpiresAt = st.LastFailure + op.Step.Policy.Window
		}
	case "noolder":
		st.Older = 0
	case "noslot":
		st.Slot = 0
	case "noshares":
		st.Shares = nil
	}
	del := st.Empty() ||
		(s.bug == "deletereserved" && st.Failures == 0) ||
		(s.bug == "resetdel" && (op.Step.Kind == storage.Clear || op.Step.Kind == storage.Take))
	if del {
		delete(s.buckets, key)
		delete(s.ttl, key)
		return
	}
	if !existed {
		e.Bucket = op.Bucket
		if s.bug == "nodesc" {
			e.Bucket = storage.Bucket{Key: op.Bucket.Key}
		}
	}
	e.State = st
	s.buckets[key] = e
	if s.bug == "secondsttl" && st.ExpiresAt > 0 {
		s.ttl[key] = st.ExpiresAt - st.ExpiresAt%1_000_000
	} else {
		delete(s.ttl, key)
	}
}

func (s *refStore) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	ans := make([]storage.Answer, len(ops))
	if s.bug == "batchread" {
		type read struct {
			e  storage.Entry
			ok bool
		}
		reads := make([]read, len(ops))
		for i := range ops {
			e, ok := s.read(s.key(ops[i].Bucket.Key), ops[i].Step.Now)
			reads[i] = read{e, ok}
		}
		for i := range ops {
			st, a := storage.Apply(&ops[i].Step, reads[i].e.State)
			ans[i] = a
			if ops[i].Step.Kind != storage.Peek {
				s.write(&ops[i], s.key(ops[i].Bucket.Key), reads[i].e, reads[i].ok, st)
			}
		}
		return ans, nil
	}
	for i := range ops {
		op := &ops[i]
		key := s.key(op.Bucket.Key)
		e, ok := s.read(key, op.Step.Now)
		if s.bug == "racy" {
			s.mu.Unlock()
			time.Sleep(10 * time.Microsecond)
			s.mu.Lock()
		}
		st, a := storage.Apply(&op.Step, e.State)
		ans[i] = a
		if op.Step.Kind != storage.Peek || s.bug == "peekwrites" {
			s.write(op, key, e, ok, st)
		}
	}
	return ans, nil
}

func (s *refStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bug != "noclose" {
		s.closed = true
	}
	return nil
}

func (s *refStore) List(ctx context.Context, f storage.Filter) ([]storage.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if s.bug == "listnofilter" {
		f = storage.Filter{}
	}
	var out []storage.Entry
	for _, e := range s.buckets {
		b := &e.Bucket
		if (f.IP != "" && b.IP != f.IP) || (f.Username != "" && b.Username != f.Username) ||
			(f.ShareOf != "" && (s.bug == "noshareof" || e.State.Share(f.ShareOf) == 0)) {
			continue
		}
		e.State.Shares = slices.Clone(e.State.Shares)
		out = append(out, e)
	}
	return out, nil
}

func (s *refStore) Purge(ctx context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	for k, e := range s.buckets {
		if exp := e.State.ExpiresAt; exp != 0 && (storage.Micros(now) >= exp || s.bug == "purgeall") {
			delete(s.buckets, k)
			n++
		}
	}
	return n, nil
}

func (s *refStore) LogLogin(ctx context.Context, e storage.AccessEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.access = append(s.access, e)
	return nil
}

func (s *refStore) LogLogout(ctx context.Context, username, sessionHash string, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	for i := range s.access {
		if e := &s.access[i]; e.Username == username && e.SessionHash == sessionHash && e.LogoutTime.IsZero() {
			e.LogoutTime = at
			n++
		}
	}
	return n, nil
}

func (s *refStore) LogFailure(ctx context.Context, e storage.FailureEntry, perUser int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.fails = append(s.fails, e)
	if perUser <= 0 || s.bug == "auditnocap" {
		return nil
	}
	var mine []int
	for i, f := range s.fails {
		if f.Username == e.Username {
			mine = append(mine, i)
		}
	}
	if excess := len(mine) - perUser; excess > 0 {
		slices.SortStableFunc(mine, func(a, b int) int { return s.fails[a].Time.Compare(s.fails[b].Time) })
		drop := mine[:excess]
		i := 0
		s.fails = slices.DeleteFunc(s.fails, func(storage.FailureEntry) bool {
			i++
			return slices.Contains(drop, i-1)
		})
	}
	return nil
}

// newest returns the entries of username ("" for all), newest first,
// at most limit (0: all).
func newest[E any](es []E, user func(E) string, when func(E) time.Time, username string, limit int) []E {
	var out []E
	for i := len(es) - 1; i >= 0; i-- {
		if username == "" || user(es[i]) == username {
			out = append(out, es[i])
		}
	}
	slices.SortStableFunc(out, func(a, b E) int { return when(b).Compare(when(a)) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (s *refStore) AccessLog(ctx context.Context, username string, limit int) ([]storage.AccessEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	return newest(s.access, func(e storage.AccessEntry) string { return e.Username },
		func(e storage.AccessEntry) time.Time { return e.Time }, username, limit), nil
}

func (s *refStore) FailureLog(ctx context.Context, username string, limit int) ([]storage.FailureEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	return newest(s.fails, func(e storage.FailureEntry) string { return e.Username },
		func(e storage.FailureEntry) time.Time { return e.Time }, username, limit), nil
}

// prune drops the entries before before (all for the zero time).
func prune[E any](es *[]E, when func(E) time.Time, before time.Time) int {
	n := len(*es)
	*es = slices.DeleteFunc(*es, func(e E) bool { return before.IsZero() || when(e).Before(before) })
	return n - len(*es)
}

func (s *refStore) PruneAccessLog(ctx context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	return prune(&s.access, func(e storage.AccessEntry) time.Time { return e.Time }, before), nil
}

func (s *refStore) PruneFailureLog(ctx context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	return prune(&s.fails, func(e storage.FailureEntry) time.Time { return e.Time }, before), nil
}

func ruleKey(p netip.Prefix, a storage.Action) string { return p.String() + " " + string(a) }

func (s *refStore) PutRule(ctx context.Context, r storage.Rule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.rules[ruleKey(r.Prefix, r.Action)] = r
	return nil
}

func (s *refStore) DeleteRule(ctx context.Context, p netip.Prefix, a storage.Action) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return false, err
	}
	_, ok := s.rules[ruleKey(p, a)]
	delete(s.rules, ruleKey(p, a))
	return ok, nil
}

func (s *refStore) Rules(ctx context.Context, now time.Time) ([]storage.Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var out []storage.Rule
	for _, r := range s.rules {
		if r.ActiveAt(now) || s.bug == "rulenoexpiry" {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b storage.Rule) int {
		return cmp.Compare(ruleKey(a.Prefix, a.Action), ruleKey(b.Prefix, b.Action))
	})
	return out, nil
}

// TestReferenceStore: the whole suite passes on the correct refStore.
func TestReferenceStore(t *testing.T) {
	axestest.RunStoreTests(t, func(*testing.T) storage.Store { return newRefStore("") })
}

// bareStore is refStore without its optional capabilities: the suite
// skips what it cannot check, and passes.
type bareStore struct{ s *refStore }

func (b bareStore) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	return b.s.Do(ctx, ops)
}
func (b bareStore) Close() error { return b.s.Close() }

// TestBareStore: a store with no optional capability passes too.
func TestBareStore(t *testing.T) {
	axestest.RunStoreTests(t, func(*testing.T) storage.Store { return bareStore{newRefStore("")} })
}

// TestBrokenStore runs the suite on a broken refStore; it runs only in the
// child processes of TestSuiteCatchesBrokenStores.
func TestBrokenStore(t *testing.T) {
	bug := os.Getenv("AXESTEST_BUG")
	if bug == "" {
		t.Skip("run by TestSuiteCatchesBrokenStores")
	}
	axestest.RunStoreTests(t, func(*testing.T) storage.Store { return newRefStore(bug) })
}

// TestSuiteCatchesBrokenStores runs the suite on stores with one bug each,
// in a child process, and requires the subtest meant to catch the bug to
// fail (and not with a panic).
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if os.Getenv("AXESTEST_BUG") != "" {
		t.Skip("in a child process")
	}
	for _, c := range bugs {
		t.Run(c.bug, func(t *testing.T) {
			t.Parallel()
			group, leaf, _ := strings.Cut(c.subtest, "/")
			cmd := exec.CommandContext(t.Context(), os.Args[0],
				"-test.run=^TestBrokenStore$/^"+group+"$/^"+leaf+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "AXESTEST_BUG="+c.bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store that %s:\n%s", c.what, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBrokenStore/"+c.subtest+" ") {
				t.Errorf("a store that %s: subtest %s did not fail:\n%s", c.what, c.subtest, out)
			}
			if strings.Contains(string(out), "panic:") {
				t.Errorf("a store that %s: the suite panicked:\n%s", c.what, out)
			}
		})
	}
}

// Package memstore is an in-memory, bounded [storage.Store] for one
// process.
//
// It keeps the buckets in a map behind one mutex: every [Store.Do] reads
// the state of each op's bucket, calls [storage.Apply] and writes the
// result back while holding the mutex, so steps are atomic within the
// process. States are copied in and out; nothing the caller holds aliases
// the stored state. The store starts no goroutines and never reads the
// clock: expiry is judged at the time the step carries.
//
// Use it for a single instance, for development and for tests. Counters are
// lost when the process exits, and several processes each count on their
// own, so behind a load balancer a client gets FailureLimit guesses per
// process; use a shared store (sqlstore) there.
//
// # Bounds
//
// The store holds at most [DefaultMaxBuckets] buckets unless [MaxBuckets]
// says otherwise. When a step must insert a bucket into a full store, the
// store first drops every bucket that has expired, then, if that did not
// free a batch of MaxBuckets/16 slots (at least the slots the call needs),
// evicts live buckets in this order:
//
//  1. buckets that are not locked at the step's time and hold no check in
//     flight, fewest failures first, then least recently active;
//  2. unlocked buckets whose places are held by checks in flight;
//  3. locked buckets, the lock that ends soonest first (locks until reset
//     last), then least recently active.
//
// So a locked bucket is never evicted while an unlocked one remains, and a
// flood of fresh identities that fail once each pushes out its own records
// before a partial count that is close to the limit (a refusal from a
// locked client makes no bucket at all). What such a flood can still push
// out, once only partial counts remain, are partial counts: set MaxBuckets
// well above the number of clients you expect to fail within a window.
// Evicting a batch at a time keeps insertion amortised O(1) (the scan that
// finds the victims runs once per batch). The buckets of the call being
// applied are never evicted for it. The bound is exceeded only by a call
// that itself names more new buckets than MaxBuckets.
//
// The audit log ([storage.AuditLog], [storage.LogReader], [storage.LogPruner]) keeps
// at most [DefaultMaxLogEntries] access entries and as many failure entries
// ([MaxLogEntries]), dropping the oldest.
//
// All methods of [Store] are safe for concurrent use.
package memstore

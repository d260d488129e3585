// Package memstore is an in-memory, bounded [axes.Store] for one process.
//
// It keeps the failure counters in a map behind one mutex: every
// [Store.Do] reads the records of the op, calls [axes.Op.Apply] and writes
// the result back while holding the mutex, so operations are atomic within
// the process. Records are copied in and out; nothing the caller holds
// aliases the stored state. The store starts no goroutines and never reads
// the clock: expiry is judged at the time the op (or the filter) carries.
//
// Use it for a single instance, for development and for tests. Counters are
// lost when the process exits, and several processes each count on their
// own, so behind a load balancer a client gets FailureLimit guesses per
// process; use a shared store (sqlstore, redisstore) there.
//
// # Bounds
//
// The store holds at most [DefaultMaxBuckets] records unless
// [MaxBuckets] says otherwise. When an op must insert a record into a full
// store, the store first drops every record that has expired, then, if that
// did not free a batch of MaxBuckets/16 slots (at least the slots the op
// needs), evicts live records in this order:
//
//  1. attribution records ([axes.KindAttribution]), oldest last failure
//     first: losing one only means a later reset on success takes back
//     fewer failures, which errs on the safe side;
//  2. lockout records that are not locked at the op's time, oldest last
//     failure first;
//  3. locked lockout records, the lock that ends soonest first (locks
//     until reset last), then oldest last failure first.
//
// So a locked bucket is never evicted while an unlocked one remains: an
// attacker who floods the store with fresh identities can push out partial
// counts (below the limit, or whose lock has ended), never a lock in force
// while such counts remain. Set MaxBuckets well above the number of clients
// you expect to fail within a window. Evicting a batch at a time keeps insertion
// amortised O(1) (the scan that finds the victims runs once per batch).
// The records of the op being applied are never evicted for it. The bound
// is exceeded only by an op that itself names more new records than
// MaxBuckets.
//
// The audit log ([axes.AuditLog], [axes.LogReader], [axes.LogPruner]) keeps
// at most [DefaultMaxLogEntries] access entries and as many failure entries
// ([MaxLogEntries]), dropping the oldest.
//
// All methods of [Store] are safe for concurrent use.
package memstore

package memstore

// ring is a bounded log: appending to a full ring drops its oldest entry in
// O(1), without reallocating, which a slice trimmed at the front cannot do.
type ring[T any] struct {
	buf   []T // len(buf) is the capacity, allocated as the log grows
	start int // index of the oldest entry
	n     int // number of entries
	max   int
}

// push appends e, dropping and returning the oldest entry when full.
func (r *ring[T]) push(e T) (dropped T, full bool) {
	if r.n < r.max {
		if r.n == len(r.buf) { // grow: at most max, doubling
			grown := make([]T, min(r.max, max(16, 2*len(r.buf))))
			r.copyTo(grown)
			r.buf, r.start = grown, 0
		}
		r.buf[(r.start+r.n)%len(r.buf)] = e
		r.n++
		return dropped, false
	}
	dropped = r.buf[r.start]
	r.buf[r.start] = e
	r.start = (r.start + 1) % len(r.buf)
	return dropped, true
}

// copyTo copies the entries, oldest first, to dst and returns how many.
func (r *ring[T]) copyTo(dst []T) int {
	if r.n == 0 {
		return 0
	}
	end := r.start + r.n
	if end <= len(r.buf) {
		return copy(dst, r.buf[r.start:end])
	}
	k := copy(dst, r.buf[r.start:])
	return k + copy(dst[k:], r.buf[:end-len(r.buf)])
}

// at returns a pointer to the i-th entry, oldest first.
func (r *ring[T]) at(i int) *T { return &r.buf[(r.start+i)%len(r.buf)] }

// len returns the number of entries.
func (r *ring[T]) len() int { return r.n }

// keep removes the entries for which keepIt is false, keeping the order,
// and returns how many it removed.
func (r *ring[T]) keep(keepIt func(*T) bool) int {
	kept := make([]T, len(r.buf))
	k := 0
	for i := range r.n {
		if e := r.at(i); keepIt(e) {
			kept[k] = *e
			k++
		}
	}
	removed := r.n - k
	r.buf, r.start, r.n = kept, 0, k
	return removed
}

// reset empties the ring and frees its buffer.
func (r *ring[T]) reset() { r.buf, r.start, r.n = nil, 0, 0 }

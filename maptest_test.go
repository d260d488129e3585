package axes

import (
	"context"
	"sync"
)

// mapStore is the smallest correct Store, for the core's own tests: one
// mutex around a map, calling Op.Apply.
type mapStore struct {
	mu   sync.Mutex
	recs map[string]Record
}

func newMapStore() *mapStore { return &mapStore{recs: map[string]Record{}} }

func (s *mapStore) Do(ctx context.Context, op *Op) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := op.Keys()
	in := make([]Record, len(keys))
	for i, k := range keys {
		r, ok := s.recs[k]
		if ok && (r.ExpiresAt.IsZero() || op.Now.Before(r.ExpiresAt)) {
			in[i] = r
		}
	}
	out, o := op.Apply(in)
	for _, r := range out {
		if r.Empty() {
			delete(s.recs, r.Key)
		} else {
			s.recs[r.Key] = r
		}
	}
	return o, nil
}

func (s *mapStore) Close() error { return nil }

func (s *mapStore) get(key string) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs[key]
}

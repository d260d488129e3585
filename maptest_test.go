package axes

import (
	"context"
	"sync"

	"github.com/goaxes/axes/storage"
)

// mapStore is the smallest correct Store, for the core's own tests: one
// mutex around a map, calling storage.Apply.
type mapStore struct {
	mu     sync.Mutex
	states map[string]storage.State
}

func newMapStore() *mapStore { return &mapStore{states: map[string]storage.State{}} }

func (s *mapStore) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ans := make([]storage.Answer, len(ops))
	for i, op := range ops {
		st, a := storage.Apply(&op.Step, s.states[op.Bucket.Key])
		ans[i] = a
		switch {
		case op.Step.Kind == storage.Peek:
		case st.Empty():
			delete(s.states, op.Bucket.Key)
		default:
			s.states[op.Bucket.Key] = st
		}
	}
	return ans, nil
}

func (s *mapStore) Close() error { return nil }

func (s *mapStore) get(key string) storage.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[key]
}

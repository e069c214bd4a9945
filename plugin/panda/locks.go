package panda

import (
	"context"
	"sync"
)

// keyedLocks serializes work per key (a BSS account id). Synchronize is not
// safe to run twice at once for one account: both calls would find no prior
// work and both would create a Panda account. Entries live only while
// someone holds or waits for them, so the map stays as small as the number
// of accounts in flight.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

// keyLock is one key's lock. sem has capacity one so that waiting can be
// abandoned when the caller's context ends, which sync.Mutex cannot do.
type keyLock struct {
	sem  chan struct{}
	refs int // holders and waiters; guarded by keyedLocks.mu
}

// lock waits for key's lock, or until ctx ends.
func (k *keyedLocks) lock(ctx context.Context, key string) (*keyLock, error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyLock)
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{sem: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	select {
	case l.sem <- struct{}{}:
		return l, nil
	case <-ctx.Done():
		k.release(key, l)
		return nil, ctx.Err()
	}
}

// unlock releases a lock obtained from lock.
func (k *keyedLocks) unlock(key string, l *keyLock) {
	<-l.sem
	k.release(key, l)
}

func (k *keyedLocks) release(key string, l *keyLock) {
	k.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(k.m, key)
	}
	k.mu.Unlock()
}

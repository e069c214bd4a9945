package host

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
)

// SharedLocker is what a store that several hosts share provides (the
// PostgreSQL store, with advisory locks): named locks held across processes,
// freed when their holder's process dies.
type SharedLocker interface {
	// Lock takes the lock named name, waiting until it is free or ctx ends,
	// and returns its release.
	Lock(ctx context.Context, name string) (release func(), err error)
	// TryLock takes the lock named name if it is free; ok false when another
	// holds it.
	TryLock(ctx context.Context, name string) (release func(), ok bool, err error)
}

// locker serializes the calls that read a record, call the plugin and store
// the answer, per account (and per account's orders): two such calls at once
// would each read "nothing stored" and each create a remote account. Within
// one process a map of mutexes does it; when the store is shared by several
// hosts, its [SharedLocker] is taken too, after the local lock, so a host
// holds at most one shared lock (one connection) per account however many of
// its calls wait for it.
type locker struct {
	local  *localLocks
	shared SharedLocker // nil when one host owns the store
	m      *metrics
	// wait bounds a lock wait whose context has no deadline.
	wait time.Duration
}

// Lock names. The plugin is part of the name: accounts of two plugins are
// two remote accounts.
func accountLock(plugin, accountID string) string { return "account\x00" + plugin + "\x00" + accountID }

// orderLock serializes the calls that change one account's subscriptions:
// the rules that span an account's orders (one base product per subscriber,
// add-ons within their base) read all of them.
func orderLock(plugin, accountID string) string { return "orders\x00" + plugin + "\x00" + accountID }

func settleLock(plugin string) string { return "settle\x00" + plugin }

// with returns l using st's shared locks when st provides them.
func (l *locker) with(st any) *locker {
	if l.shared != nil {
		return l
	}
	sl, ok := st.(SharedLocker)
	if !ok {
		return l
	}
	return &locker{local: l.local, shared: sl, m: l.m, wait: l.wait}
}

// lock takes the lock named name for a call, kind naming it in metrics. A
// wait that outlives ctx's deadline (or l.wait without one) answers
// DEADLINE_EXCEEDED, saying that another call about the same object is in
// flight; a store failure answers UNAVAILABLE STORE_UNAVAILABLE.
func (l *locker) lock(ctx context.Context, kind, name string) (func(), error) {
	if _, ok := ctx.Deadline(); !ok && l.wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.wait)
		defer cancel()
	}
	start := time.Now()
	unlock, err := l.local.lock(ctx, name)
	if err == nil && l.shared != nil {
		var release func()
		release, err = l.shared.Lock(ctx, name)
		if err != nil {
			unlock()
		} else {
			local := unlock
			unlock = func() { release(); local() }
		}
	}
	l.m.lockWaited(kind, err, time.Since(start))
	switch {
	case err == nil:
		return unlock, nil
	case errors.Is(err, context.DeadlineExceeded):
		return nil, status.Errorf(codes.DeadlineExceeded, "the deadline passed while another call about the same %s was in flight; retry", kind)
	case errors.Is(err, context.Canceled):
		return nil, status.FromContextError(err).Err()
	}
	return nil, diag.Host.Unavailable(diag.ReasonStoreUnavailable, "the store's lock could not be taken; retry", time.Second)
}

// tryLock takes the lock named name if no one holds it, in this process or
// (with a shared store) in another.
func (l *locker) tryLock(ctx context.Context, name string) (func(), bool, error) {
	unlock, ok := l.local.tryLock(name)
	if !ok || l.shared == nil {
		return unlock, ok, nil
	}
	release, ok, err := l.shared.TryLock(ctx, name)
	if err != nil || !ok {
		unlock()
		return nil, false, err
	}
	return func() { release(); unlock() }, true, nil
}

// localLocks is a map of named mutexes whose waits end with a context. An
// entry lives while someone holds or waits for it.
type localLocks struct {
	mu sync.Mutex
	m  map[string]*localLock
}

type localLock struct {
	token chan struct{} // holds one value while the lock is taken
	refs  int           // holders and waiters
}

func newLocalLocks() *localLocks { return &localLocks{m: map[string]*localLock{}} }

func (l *localLocks) ref(name string) *localLock {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[name]
	if e == nil {
		e = &localLock{token: make(chan struct{}, 1)}
		l.m[name] = e
	}
	e.refs++
	return e
}

func (l *localLocks) unref(name string, e *localLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.refs--; e.refs == 0 {
		delete(l.m, name)
	}
}

func (l *localLocks) lock(ctx context.Context, name string) (func(), error) {
	e := l.ref(name)
	select {
	case e.token <- struct{}{}:
		return l.releaser(name, e), nil
	case <-ctx.Done():
		l.unref(name, e)
		return nil, ctx.Err()
	}
}

func (l *localLocks) tryLock(name string) (func(), bool) {
	e := l.ref(name)
	select {
	case e.token <- struct{}{}:
		return l.releaser(name, e), true
	default:
		l.unref(name, e)
		return nil, false
	}
}

func (l *localLocks) releaser(name string, e *localLock) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.token
			l.unref(name, e)
		})
	}
}

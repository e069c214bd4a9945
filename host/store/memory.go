package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// NewMemory returns a Store that keeps records in memory only: for tests and
// one-shot tools (provctl --plugin). Nothing survives the process.
func NewMemory() Store { return &memory{m: map[key]Entry{}, remote: map[key]string{}} }

type key struct{ plugin, account string }

type memory struct {
	mu sync.RWMutex
	m  map[key]Entry
	// remote indexes live records by (plugin, remote id) to their account
	// id: the memory store's unique index.
	remote map[key]string

	subs     memorySubscriptions
	attempts memoryAttempts
}

func (s *memory) Put(_ context.Context, rec *provisioningv1.SyncRecord, acct *provisioningv1.Account) error {
	if err := validate(rec); err != nil {
		return err
	}
	k := key{rec.GetPlugin(), rec.GetAccountId()}
	s.mu.Lock()
	defer s.mu.Unlock()
	rk := key{rec.GetPlugin(), rec.GetRemoteId()}
	if holder, ok := s.remote[rk]; ok && live(rec) && holder != rec.GetAccountId() {
		return &RemoteIDTakenError{Plugin: rec.GetPlugin(), RemoteID: rec.GetRemoteId(), Holder: holder}
	}
	if old, ok := s.m[k]; ok && live(old.Record) {
		delete(s.remote, key{old.Record.GetPlugin(), old.Record.GetRemoteId()})
	}
	if live(rec) {
		s.remote[rk] = rec.GetAccountId()
	}
	e := Entry{Record: proto.Clone(rec).(*provisioningv1.SyncRecord)}
	if acct != nil {
		e.Account = proto.Clone(acct).(*provisioningv1.Account)
	} else {
		e.Account = s.m[k].Account
	}
	s.m[k] = e
	if SettlesAttempt(rec) {
		s.attempts.settle(rec.GetPlugin(), rec.GetAccountId())
	}
	return nil
}

func (s *memory) Get(_ context.Context, plugin, accountID string) (Entry, error) {
	s.mu.RLock()
	e, ok := s.m[key{plugin, accountID}]
	s.mu.RUnlock()
	if !ok {
		return Entry{}, fmt.Errorf("%s/%s: %w", plugin, accountID, ErrNotFound)
	}
	return clone(e), nil
}

func (s *memory) List(_ context.Context, q Query) (Page, error) {
	afterPlugin, afterAccount, err := decodeToken(q)
	if err != nil {
		return Page{}, fmt.Errorf("list sync records: %w", err)
	}
	s.mu.RLock()
	var keys []key
	for k, e := range s.m {
		if q.Plugin != "" && k.plugin != q.Plugin {
			continue
		}
		if q.Status != provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED && e.Record.GetStatus() != q.Status {
			continue
		}
		if q.PageToken != "" && cmpKey(k, key{afterPlugin, afterAccount}) <= 0 {
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpKey)
	n := pageSize(q.PageSize)
	var p Page
	for i, k := range keys {
		if i == n {
			last := keys[n-1]
			p.NextPageToken = encodeToken(q, last.plugin, last.account)
			break
		}
		p.Entries = append(p.Entries, clone(s.m[k]))
	}
	s.mu.RUnlock()
	return p, nil
}

func (s *memory) Close() error { return nil }

func cmpKey(a, b key) int {
	return cmp.Or(cmp.Compare(a.plugin, b.plugin), cmp.Compare(a.account, b.account))
}

func clone(e Entry) Entry {
	out := Entry{Record: proto.Clone(e.Record).(*provisioningv1.SyncRecord)}
	if e.Account != nil {
		out.Account = proto.Clone(e.Account).(*provisioningv1.Account)
	}
	return out
}

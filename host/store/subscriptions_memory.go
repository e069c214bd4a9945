package store

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// memorySubscriptions holds the memory store's subscription records. Its
// zero value is ready, so the memory store needs no constructor change.
type memorySubscriptions struct {
	mu sync.RWMutex
	m  map[key]SubscriptionEntry // key.account holds the subscription id
}

func (s *memory) PutSubscription(_ context.Context, rec *provisioningv1.SubscriptionRecord, sub *provisioningv1.Subscription) error {
	if err := validateSubscription(rec); err != nil {
		return err
	}
	k := key{rec.GetPlugin(), rec.GetSubscriptionId()}
	ss := &s.subs
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[key]SubscriptionEntry{}
	}
	e := SubscriptionEntry{Record: proto.Clone(rec).(*provisioningv1.SubscriptionRecord)}
	if sub != nil {
		e.Subscription = proto.Clone(sub).(*provisioningv1.Subscription)
	} else {
		e.Subscription = ss.m[k].Subscription
	}
	ss.m[k] = e
	return nil
}

func (s *memory) GetSubscription(_ context.Context, plugin, subscriptionID string) (SubscriptionEntry, error) {
	ss := &s.subs
	ss.mu.RLock()
	e, ok := ss.m[key{plugin, subscriptionID}]
	ss.mu.RUnlock()
	if !ok {
		return SubscriptionEntry{}, fmt.Errorf("%s/%s: %w", plugin, subscriptionID, ErrSubscriptionNotFound)
	}
	return cloneSubscription(e), nil
}

func (s *memory) ListSubscriptions(_ context.Context, q SubscriptionQuery) (SubscriptionPage, error) {
	afterPlugin, afterID, err := decodeSubscriptionToken(q)
	if err != nil {
		return SubscriptionPage{}, fmt.Errorf("list subscription records: %w", err)
	}
	ss := &s.subs
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	var keys []key
	for k, e := range ss.m {
		switch {
		case q.Plugin != "" && k.plugin != q.Plugin,
			q.AccountID != "" && e.Record.GetAccountId() != q.AccountID,
			q.Status != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_UNSPECIFIED && e.Record.GetStatus() != q.Status,
			q.PageToken != "" && cmpKey(k, key{afterPlugin, afterID}) <= 0:
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpKey)
	n := pageSize(q.PageSize)
	var p SubscriptionPage
	for i, k := range keys {
		if i == n {
			last := keys[n-1]
			p.NextPageToken = encodeSubscriptionToken(q, last.plugin, last.account)
			break
		}
		p.Entries = append(p.Entries, cloneSubscription(ss.m[k]))
	}
	return p, nil
}

func cloneSubscription(e SubscriptionEntry) SubscriptionEntry {
	out := SubscriptionEntry{Record: proto.Clone(e.Record).(*provisioningv1.SubscriptionRecord)}
	if e.Subscription != nil {
		out.Subscription = proto.Clone(e.Subscription).(*provisioningv1.Subscription)
	}
	return out
}

package host

import (
	"context"
	"time"

	"github.com/cloudbss/provisioning/host/store"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// measuredStore times every read and write of the records through [Records]
// (provisioning_host_store_operation_duration_seconds). It embeds the store,
// so a method it does not measure still works.
type measuredStore struct {
	store.Store
	m *metrics
}

func measure(st store.Store, m *metrics) store.Store {
	if m == nil || st == nil {
		return st
	}
	return measuredStore{Store: st, m: m}
}

func (s measuredStore) Put(ctx context.Context, rec *provisioningv1.SyncRecord, acct *provisioningv1.Account) error {
	start := time.Now()
	err := s.Store.Put(ctx, rec, acct)
	s.m.storeOp("put", err, time.Since(start))
	return err
}

func (s measuredStore) Get(ctx context.Context, plugin, accountID string) (store.Entry, error) {
	start := time.Now()
	e, err := s.Store.Get(ctx, plugin, accountID)
	s.m.storeOp("get", err, time.Since(start))
	return e, err
}

func (s measuredStore) List(ctx context.Context, q store.Query) (store.Page, error) {
	start := time.Now()
	p, err := s.Store.List(ctx, q)
	s.m.storeOp("list", err, time.Since(start))
	return p, err
}

func (s measuredStore) PutSubscription(ctx context.Context, rec *provisioningv1.SubscriptionRecord, sub *provisioningv1.Subscription) error {
	start := time.Now()
	err := s.Store.PutSubscription(ctx, rec, sub)
	s.m.storeOp("put_subscription", err, time.Since(start))
	return err
}

func (s measuredStore) GetSubscription(ctx context.Context, plugin, subscriptionID string) (store.SubscriptionEntry, error) {
	start := time.Now()
	e, err := s.Store.GetSubscription(ctx, plugin, subscriptionID)
	s.m.storeOp("get_subscription", err, time.Since(start))
	return e, err
}

func (s measuredStore) ListSubscriptions(ctx context.Context, q store.SubscriptionQuery) (store.SubscriptionPage, error) {
	start := time.Now()
	p, err := s.Store.ListSubscriptions(ctx, q)
	s.m.storeOp("list_subscriptions", err, time.Since(start))
	return p, err
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/host/store"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

var (
	subActive  = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	subPending = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PENDING
)

func subRec(plugin, id, account string, st provisioningv1.SubscriptionStatus) *provisioningv1.SubscriptionRecord {
	return &provisioningv1.SubscriptionRecord{Plugin: plugin, SubscriptionId: id, AccountId: account, ProductId: "EPDR",
		Status: st, Quantity: 10, RemoteId: "R-" + id, Private: []byte{0, 1, 2},
		Addons:    []*provisioningv1.Addon{{Id: id + "-a", ProductId: "PATCH_MANAGEMENT", Quantity: 5}},
		UpdatedAt: timestamppb.Now()}
}

func TestSubscriptionPutGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, open := range impls(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			if _, err := st.GetSubscription(ctx, "p", "S1"); !errors.Is(err, store.ErrSubscriptionNotFound) {
				t.Fatalf("GetSubscription of nothing: %v", err)
			}
			sub := &provisioningv1.Subscription{Id: "S1", AccountId: "A", ProductId: "EPDR", Quantity: 10, Attributes: map[string]string{"allocation_type": "subscription"}}
			if err := st.PutSubscription(ctx, subRec("p", "S1", "A", subPending), sub); err != nil {
				t.Fatal(err)
			}
			// A nil desired state keeps the stored one.
			r2 := subRec("p", "S1", "A", subActive)
			if err := st.PutSubscription(ctx, r2, nil); err != nil {
				t.Fatal(err)
			}
			got, err := st.GetSubscription(ctx, "p", "S1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(store.SubscriptionEntry{Record: r2, Subscription: sub}, got, protocmp.Transform()); diff != "" {
				t.Errorf("GetSubscription (-want +got):\n%s", diff)
			}
			// Subscriptions and sync records are apart: same key, other kind.
			if _, err := st.Get(ctx, "p", "S1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get of a subscription id as an account: %v", err)
			}
			for _, bad := range []*provisioningv1.SubscriptionRecord{
				{Plugin: "p", AccountId: "A"},
				{Plugin: "p", SubscriptionId: "S2"},
				{SubscriptionId: "S2", AccountId: "A"},
			} {
				if err := st.PutSubscription(ctx, bad, nil); err == nil {
					t.Errorf("PutSubscription(%v) succeeded", bad)
				}
			}
		})
	}
}

func TestListSubscriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, open := range impls(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			// 25 subscriptions of plugin p over accounts A0..A2 (one in
			// five PENDING), one of plugin q.
			for i := range 25 {
				s := subActive
				if i%5 == 0 {
					s = subPending
				}
				if err := st.PutSubscription(ctx, subRec("p", fmt.Sprintf("S%03d", i), fmt.Sprintf("A%d", i%3), s), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.PutSubscription(ctx, subRec("q", "S000", "A0", subPending), nil); err != nil {
				t.Fatal(err)
			}
			list := func(q store.SubscriptionQuery) (ids []string, pages int) {
				t.Helper()
				for {
					p, err := st.ListSubscriptions(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					for _, e := range p.Entries {
						ids = append(ids, e.Record.GetPlugin()+"/"+e.Record.GetSubscriptionId())
					}
					if p.NextPageToken == "" {
						return ids, pages
					}
					q.PageToken = p.NextPageToken
				}
			}
			tests := map[string]struct {
				q         store.SubscriptionQuery
				wantN     int
				wantPages int
				first     string
				last      string
			}{
				"one plugin in pages of 10":   {q: store.SubscriptionQuery{Plugin: "p", PageSize: 10}, wantN: 25, wantPages: 3, first: "p/S000", last: "p/S024"},
				"all plugins, default page":   {q: store.SubscriptionQuery{}, wantN: 26, wantPages: 1, first: "p/S000", last: "q/S000"},
				"one account of one plugin":   {q: store.SubscriptionQuery{Plugin: "p", AccountID: "A1", PageSize: 3}, wantN: 8, wantPages: 3, first: "p/S001", last: "p/S022"},
				"one account of every plugin": {q: store.SubscriptionQuery{AccountID: "A0"}, wantN: 10, wantPages: 1, first: "p/S000", last: "q/S000"},
				"PENDING, pages of 2":         {q: store.SubscriptionQuery{Status: subPending, PageSize: 2}, wantN: 6, wantPages: 3, first: "p/S000", last: "q/S000"},
				"PENDING of one account":      {q: store.SubscriptionQuery{Plugin: "p", AccountID: "A2", Status: subPending}, wantN: 2, wantPages: 1, first: "p/S005", last: "p/S020"},
				"no match":                    {q: store.SubscriptionQuery{Plugin: "p", AccountID: "nobody"}, wantN: 0, wantPages: 1},
			}
			for name, tc := range tests {
				t.Run(name, func(t *testing.T) {
					ids, pages := list(tc.q)
					if len(ids) != tc.wantN || pages != tc.wantPages {
						t.Fatalf("%d records in %d pages, want %d in %d: %v", len(ids), pages, tc.wantN, tc.wantPages, ids)
					}
					if tc.wantN > 0 && (ids[0] != tc.first || ids[len(ids)-1] != tc.last) {
						t.Errorf("first %s last %s, want %s and %s", ids[0], ids[len(ids)-1], tc.first, tc.last)
					}
				})
			}
			recs, err := store.AccountSubscriptions(ctx, st, "p", "A1")
			if err != nil || len(recs) != 8 || recs[0].GetSubscriptionId() != "S001" {
				t.Errorf("AccountSubscriptions = %d records, %v", len(recs), err)
			}
			// A token is bound to its whole filter, and to subscriptions.
			first, _ := st.ListSubscriptions(ctx, store.SubscriptionQuery{Plugin: "p", AccountID: "A1", PageSize: 1})
			_ = st.Put(ctx, rec("p", "X1", synced), nil)
			_ = st.Put(ctx, rec("p", "X2", synced), nil)
			syncPage, _ := st.List(ctx, store.Query{PageSize: 1})
			for name, q := range map[string]store.SubscriptionQuery{
				"another account": {Plugin: "p", AccountID: "A2", PageToken: first.NextPageToken},
				"another status":  {Plugin: "p", AccountID: "A1", Status: subActive, PageToken: first.NextPageToken},
				"a sync token":    {PageToken: syncPage.NextPageToken},
				"garbage":         {PageToken: "!!"},
			} {
				if _, err := st.ListSubscriptions(ctx, q); !errors.Is(err, store.ErrBadPageToken) {
					t.Errorf("%s: %v, want ErrBadPageToken", name, err)
				}
			}
		})
	}
}

func TestSQLiteSubscriptionsDurableAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := subRec("p", "S1", "A", subActive)
	sub := &provisioningv1.Subscription{Id: "S1", AccountId: "A", ProductId: "EPDR", Quantity: 10}
	if err := st.PutSubscription(ctx, r, sub); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSubscription(ctx, r, sub); err == nil {
		t.Error("PutSubscription on a closed store succeeded")
	}
	st, err = store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.GetSubscription(ctx, "p", "S1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(store.SubscriptionEntry{Record: r, Subscription: sub}, got, protocmp.Transform()); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}

// TestSQLiteSubscriptionWritesBesideSyncWrites: subscription writes (one
// statement each) and sync-record writes (the group-commit writer) share
// the database without losing a write or failing on a busy lock.
func TestSQLiteSubscriptionWritesBesideSyncWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 40
	errs := make(chan error, 2*n)
	for i := range n {
		go func() { errs <- st.PutSubscription(ctx, subRec("p", fmt.Sprintf("S%03d", i), "A", subActive), nil) }()
		go func() { errs <- st.Put(ctx, rec("p", fmt.Sprintf("A%03d", i), synced), nil) }()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	subs, err := store.AccountSubscriptions(ctx, st, "p", "A")
	if err != nil || len(subs) != n {
		t.Errorf("AccountSubscriptions = %d records, %v; want %d", len(subs), err, n)
	}
	p, err := st.List(ctx, store.Query{Plugin: "p"})
	if err != nil || len(p.Entries) != n {
		t.Errorf("List = %d records, %v; want %d", len(p.Entries), err, n)
	}
}

func BenchmarkSQLitePutSubscription(b *testing.B) {
	st, err := store.OpenSQLite(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	sub := &provisioningv1.Subscription{Id: "S", AccountId: "A", ProductId: "EPDR", Quantity: 10}
	for i := 0; b.Loop(); i++ {
		if err := st.PutSubscription(ctx, subRec("p", fmt.Sprint(i), "A", subActive), sub); err != nil {
			b.Fatal(err)
		}
	}
}

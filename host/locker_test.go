package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/internal/pgtest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// creatingAdapter creates a remote account when the record it is given has
// none, as a real plugin does, and tells when two calls about one account
// overlap.
type creatingAdapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	created  atomic.Int64
	inFlight sync.Map // account id -> *atomic.Int32
	overlaps atomic.Int64
	// refreshes counts GetSyncStatus calls.
	refreshes atomic.Int64
	// hold, when set, keeps every Synchronize until it is closed; entered
	// then receives a value as each call arrives.
	hold    chan struct{}
	entered chan struct{}
}

func (a *creatingAdapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{Name: "creating", Version: "1.0.0"}, nil
}

func (a *creatingAdapter) Configure(context.Context, *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	return &provisioningv1.ConfigureResponse{}, nil
}

func (a *creatingAdapter) Synchronize(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	id := req.GetAccount().GetId()
	n, _ := a.inFlight.LoadOrStore(id, new(atomic.Int32))
	if n.(*atomic.Int32).Add(1) > 1 {
		a.overlaps.Add(1)
	}
	defer n.(*atomic.Int32).Add(-1)
	if a.hold != nil {
		a.entered <- struct{}{}
		select {
		case <-a.hold:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if rid := req.GetRecord().GetRemoteId(); rid != "" {
		return &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: rid}}, nil
	}
	// The remote side's latency: the window in which a second call, not
	// serialized, would read "nothing stored" too.
	time.Sleep(2 * time.Millisecond)
	return &provisioningv1.SynchronizeResponse{Created: true, Record: &provisioningv1.SyncRecord{
		Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: fmt.Sprintf("R-%s-%d", id, a.created.Add(1)),
	}}, nil
}

// daemons returns n hosts running one adapter, each with its own Records
// over its own handle on one store: memory (n must be 1), or one PostgreSQL
// schema shared by every host, as daemons on one database. reg gets the
// first host's metrics.
func daemons(t *testing.T, kind string, n int, a *creatingAdapter, reg prometheus.Registerer) []*host.Records {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	var dsn string
	if kind == "postgres" {
		dsn = pgtest.Schema(t)
	}
	var out []*host.Records
	for i := range n {
		st := store.NewMemory()
		if kind == "postgres" {
			pg, err := store.OpenPostgres(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pg.Close() })
			st = pg
		}
		opts := []host.Option{host.WithInProcessPlugin("creating", a), host.WithLogger(quiet), host.WithStore(st)}
		if reg != nil && i == 0 {
			opts = append(opts, host.WithMetrics(reg))
		}
		h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: "creating"}}}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close(ctx) })
		out = append(out, host.NewRecords(h, st, quiet))
	}
	return out
}

// TestConcurrentSynchronizeCreatesOneRemoteAccount sends 50 concurrent
// Synchronize calls for one account, split across the daemons: the plugin
// is never called twice at once about it, and creates one remote account.
func TestConcurrentSynchronizeCreatesOneRemoteAccount(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		kind    string
		daemons int
	}{
		"one host, memory store":      {"memory", 1},
		"two daemons, one PostgreSQL": {"postgres", 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := &creatingAdapter{}
			recs := daemons(t, tc.kind, tc.daemons, a, nil)
			ctx := context.Background()
			var wg sync.WaitGroup
			remote := make([]string, 50)
			for i := range remote {
				wg.Go(func() {
					resp, err := recs[i%len(recs)].Synchronize(ctx, "creating", &provisioningv1.SynchronizeRequest{
						Account: &provisioningv1.Account{Id: "A1", Name: "Acme"},
					})
					if err != nil {
						t.Error(err)
						return
					}
					remote[i] = resp.GetRecord().GetRemoteId()
				})
			}
			wg.Wait()
			if got := a.created.Load(); got != 1 {
				t.Errorf("%d remote accounts created, want 1", got)
			}
			if got := a.overlaps.Load(); got != 0 {
				t.Errorf("%d calls overlapped another about the same account", got)
			}
			for i, r := range remote {
				if r != "R-A1-1" {
					t.Errorf("call %d answered remote id %q, want R-A1-1", i, r)
				}
			}
		})
	}
}

// TestLockWaitEndsWithTheCallersDeadline: a call about an account whose
// previous call is stuck answers DEADLINE_EXCEEDED at its own deadline,
// from the same daemon or another, and the wait is measured.
func TestLockWaitEndsWithTheCallersDeadline(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		kind    string
		daemons int
	}{
		"one host, memory store":      {"memory", 1},
		"two daemons, one PostgreSQL": {"postgres", 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := &creatingAdapter{hold: make(chan struct{}), entered: make(chan struct{}, 1)}
			reg := prometheus.NewRegistry()
			recs := daemons(t, tc.kind, tc.daemons, a, reg)
			ctx := context.Background()
			first := make(chan error, 1)
			go func() {
				_, err := recs[0].Synchronize(ctx, "creating", &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "A1"}})
				first <- err
			}()
			<-a.entered // the first call holds the lock: it is in the plugin
			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err := recs[len(recs)-1].Synchronize(short, "creating", &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: "A1"}})
			if status.Code(err) != codes.DeadlineExceeded {
				t.Errorf("second call: %v, want DEADLINE_EXCEEDED", err)
			}
			close(a.hold)
			if err := <-first; err != nil {
				t.Errorf("first call: %v", err)
			}
			if a.overlaps.Load() != 0 {
				t.Error("the calls overlapped")
			}
			want := 2 // the first call's wait (acquired) and the second's (deadline)
			if tc.daemons == 2 {
				want = 1 // the first daemon's only: the second has no metrics here
			}
			if n := testutil.CollectAndCount(reg, "provisioning_host_lock_wait_seconds"); n != want {
				t.Errorf("%d lock-wait series, want %d", n, want)
			}
			// The first call's reads and write: get (record, ancestors) and put.
			if n := testutil.CollectAndCount(reg, "provisioning_host_store_operation_duration_seconds"); n < 2 {
				t.Errorf("%d store-latency series, want get and put at least", n)
			}
		})
	}
}

func (a *creatingAdapter) GetSyncStatus(_ context.Context, req *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
	a.refreshes.Add(1)
	return &provisioningv1.GetSyncStatusResponse{Record: &provisioningv1.SyncRecord{
		Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: req.GetRecord().GetRemoteId(),
	}}, nil
}

// TestSettleRunsWhereTheSettleLockIsFree: while another daemon holds the
// plugin's settle lock, this host's rounds skip (settle_leader 0, no
// refresh); once that daemon lets go (or dies), this host settles.
func TestSettleRunsWhereTheSettleLockIsFree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	other, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	release, ok, err := other.TryLock(ctx, "settle\x00creating")
	if !ok || err != nil {
		t.Fatalf("the other daemon's settle lock: %v, %v", ok, err)
	}
	st, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Put(ctx, &provisioningv1.SyncRecord{Plugin: "creating", AccountId: "A1", Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING, RemoteId: "R-A1"},
		&provisioningv1.Account{Id: "A1"}); err != nil {
		t.Fatal(err)
	}
	a := &creatingAdapter{}
	reg := prometheus.NewRegistry()
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: "creating"}}}, host.WithInProcessPlugin("creating", a),
		host.WithLogger(slog.New(slog.DiscardHandler)), host.WithStore(st), host.WithSettleInterval(5*time.Millisecond), host.WithMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)

	leader := func() (float64, bool) {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "provisioning_host_settle_leader" && len(mf.GetMetric()) == 1 {
				return mf.GetMetric()[0].GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	waitUntil(t, "a round that finds the settle lock taken", func() bool { v, ok := leader(); return ok && v == 0 })
	if n := a.refreshes.Load(); n != 0 {
		t.Fatalf("%d refreshes while another daemon held the settle lock", n)
	}
	release()
	waitUntil(t, "the record settled", func() bool {
		e, err := st.Get(ctx, "creating", "A1")
		return err == nil && e.Record.GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_SYNCED
	})
	if v, _ := leader(); v != 1 {
		t.Errorf("settle_leader %v after settling, want 1", v)
	}
}

// waitUntil polls cond (the settle loop runs on its own ticker) for up to
// 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOrdersOneAtATimeAcrossDaemons: ProvisionSubscription calls for the
// orders of one account, split across two daemons on one PostgreSQL, reach
// the plugin one at a time (the rules that span an account's orders read
// all of them), and each is stored.
func TestOrdersOneAtATimeAcrossDaemons(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	var inFlight, overlaps atomic.Int32
	a := &orderAdapter{provision: func(req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
		if inFlight.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inFlight.Add(-1)
		time.Sleep(2 * time.Millisecond) // the remote's latency: the window an unserialized call would share
		return &provisioningv1.ProvisionSubscriptionResponse{Record: &provisioningv1.SubscriptionRecord{
			ProductId: "EPDR", Status: subActive, Quantity: req.GetSubscription().GetQuantity(), RemoteId: "ALLOC-" + req.GetSubscription().GetId(),
		}, Created: true}, nil
	}}
	var recs []*host.Records
	for i := range 2 {
		st, err := store.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if i == 0 {
			seed(t, st)
		}
		_, r := ordersHost(t, a, st)
		recs = append(recs, r)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := fmt.Sprintf("S%02d", 10+i)
			if _, err := recs[i%2].ProvisionSubscription(ctx, "orders", &provisioningv1.ProvisionSubscriptionRequest{Subscription: desired(id, "C1", 1)}); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		})
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d calls about C1's orders overlapped", n)
	}
	subs, err := recs[0].ListSubscriptions(ctx, store.SubscriptionQuery{Plugin: "orders", AccountID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs.Entries) != 21 { // S0 and the 20
		t.Errorf("%d subscriptions of C1 stored, want 21", len(subs.Entries))
	}
}

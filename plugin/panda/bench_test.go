package panda_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin/panda"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// BenchmarkSynchronize synchronizes new direct customers against an
// in-process simulator and reports the HTTP requests each one costs (token
// requests included), the figure that matters against a rate-limited
// Panda.
func BenchmarkSynchronize(b *testing.B) { benchmarkSynchronize(b) }

// BenchmarkSynchronizeJournalFile is BenchmarkSynchronize with the journal
// kept in a data folder: the cost of the synced writes around each create.
func BenchmarkSynchronizeJournalFile(b *testing.B) {
	benchmarkSynchronize(b, panda.WithDataDir(b.TempDir()))
}

func benchmarkSynchronize(b *testing.B, opts ...panda.Option) {
	sim, err := pandasim.New()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	ctx := context.Background()
	a := panda.New(opts...)
	_, err = a.Configure(ctx, &provisioningv1.ConfigureRequest{Settings: map[string]string{
		"api_url": srv.URL, "access_id": pandasim.DefaultAccessID, "password": pandasim.DefaultPassword,
		"api_key": pandasim.DefaultAPIKey, "root_account_id": pandasim.DefaultRootAccountID, "tx_poll_interval": "1ms",
	}})
	if err != nil {
		b.Fatal(err)
	}
	before := sim.Stats().Requests
	n := 0
	for b.Loop() {
		n++
		acc := &provisioningv1.Account{
			Id: fmt.Sprintf("B-%d", n), Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER,
			Name: fmt.Sprintf("Bench %d", n), CorporateEmail: fmt.Sprintf("owner%d@bench.example", n),
		}
		if _, err := a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, AutoFill: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sim.Stats().Requests-before)/float64(n), "requests/account")
}

// BenchmarkProvisionSubscription orders 10 EPDR with 5 PATCH_MANAGEMENT for
// a new end customer of one reseller, then replays the order, against an
// in-process simulator; it reports the HTTP requests each costs. The
// reseller's stock runs dry with every order, so each one tops it up.
func BenchmarkProvisionSubscription(b *testing.B) {
	sim, err := pandasim.New()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	ctx := context.Background()
	a := panda.New()
	_, err = a.Configure(ctx, &provisioningv1.ConfigureRequest{Settings: map[string]string{
		"api_url": srv.URL, "access_id": pandasim.DefaultAccessID, "password": pandasim.DefaultPassword,
		"api_key": pandasim.DefaultAPIKey, "root_account_id": pandasim.DefaultRootAccountID, "tx_poll_interval": "1ms",
	}})
	if err != nil {
		b.Fatal(err)
	}
	reseller := &provisioningv1.Account{Id: "BR-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Bench Reseller", CorporateEmail: "ops@bench-reseller.example"}
	rr, err := a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: reseller, AutoFill: true})
	if err != nil {
		b.Fatal(err)
	}
	anc := []*provisioningv1.Ancestor{{Account: reseller, Record: rr.GetRecord()}}
	var orders, replays int64
	n := 0
	for b.Loop() {
		b.StopTimer()
		n++
		acc := &provisioningv1.Account{
			Id: fmt.Sprintf("BE-%d", n), Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, ParentId: "BR-1",
			Name: fmt.Sprintf("Bench Customer %d", n), CorporateEmail: fmt.Sprintf("it%d@bench.example", n),
		}
		ar, err := a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, Ancestors: anc, AutoFill: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		req := &provisioningv1.ProvisionSubscriptionRequest{
			Subscription: &provisioningv1.Subscription{Id: "BS-" + acc.GetId(), AccountId: acc.GetId(), ProductId: "EPDR", Quantity: 10,
				Addons: []*provisioningv1.Addon{{Id: "L-1", ProductId: "PATCH_MANAGEMENT", Quantity: 5}}},
			Account: acc, AccountRecord: ar.GetRecord(), Ancestors: anc,
		}
		before := sim.Stats().APIRequests
		resp, err := a.ProvisionSubscription(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		mid := sim.Stats().APIRequests
		req.Record = resp.GetRecord()
		if _, err := a.ProvisionSubscription(ctx, req); err != nil {
			b.Fatal(err)
		}
		orders += mid - before
		replays += sim.Stats().APIRequests - mid
	}
	b.ReportMetric(float64(orders)/float64(n), "requests/order")
	b.ReportMetric(float64(replays)/float64(n), "requests/replay")
}

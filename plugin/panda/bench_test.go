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
func BenchmarkSynchronize(b *testing.B) {
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

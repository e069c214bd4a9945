package pandasim_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

// benchClient starts a simulator on loopback and a client for it, with 32
// concurrent callers (the load the adapter is expected to put on it).
func benchClient(b *testing.B) (*pandasim.Server, *pandaapi.Client) {
	b.Helper()
	sim, err := pandasim.New()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	c, err := pandaapi.New(pandaapi.Config{BaseURL: srv.URL, AccessID: pandasim.DefaultAccessID, Password: pandasim.DefaultPassword, APIKey: pandasim.DefaultAPIKey})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Authenticate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return sim, c
}

// setConcurrency makes RunParallel use about 32 goroutines whatever
// GOMAXPROCS is.
func setConcurrency(b *testing.B) {
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
}

func reportRate(b *testing.B, sim *pandasim.Server) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(sim.Stats().APIRequests)/float64(b.N), "http/op")
}

// BenchmarkSimCreateAccount measures POST /accounts/{root} over loopback,
// client included.
func BenchmarkSimCreateAccount(b *testing.B) {
	sim, c := benchClient(b)
	sp, err := c.CreateAccount(context.Background(), root, pandaapi.CreateAccountRequest{Type: 1, Name: "bench", Email: "b@x.example"})
	if err != nil {
		b.Fatal(err)
	}
	setConcurrency(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		req := pandaapi.CreateAccountRequest{Type: pandaapi.AccountTypeSubscriber, Name: "customer", Email: "c@x.example"}
		for pb.Next() {
			if _, err := c.CreateAccount(ctx, sp.ID, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, sim)
}

// BenchmarkSimCreateOperator measures POST /operators over loopback (the
// answer is PENDING; settlement rides on later requests).
func BenchmarkSimCreateOperator(b *testing.B) {
	sim, c := benchClient(b)
	sub, err := c.CreateAccount(context.Background(), root, pandaapi.CreateAccountRequest{Type: 2, Name: "bench", Email: "b@x.example"})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	setConcurrency(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			req := pandaapi.CreateOperatorRequest{Username: fmt.Sprintf("op%08d", n.Add(1)), AccountID: sub.ID, Email: "o@x.example", Role: pandaapi.RoleAdministrator}
			if _, err := c.CreateOperator(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, sim)
}

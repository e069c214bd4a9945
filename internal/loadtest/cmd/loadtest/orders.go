package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cloudbss/provisioning/internal/loadtest"
)

// ordersScenario synchronizes resellers × (1 + per) + direct accounts with
// one sync-batch, then places one order per customer (a base product, half
// of them with an add-on; end customers' orders top up their reseller) with
// one subscribe-batch, and prints orders/s beside accounts/s. A run in
// which an account or an order failed is printed FAILED and counts as
// missed.
func ordersScenario(ctx context.Context, f flags, bins loadtest.Binaries, dir string, logs *loadtest.Logs) (missed int, err error) {
	h := loadtest.Hierarchy{Prefix: "OB", Resellers: f.resellers, PerReseller: f.per, Direct: f.direct}
	var accRate, ordRate, rpo []float64
	orders := 0
	for i := range f.repeat {
		var profDir string
		if f.profileDir != "" {
			profDir = filepath.Join(f.profileDir, fmt.Sprintf("run-%d", i+1))
			if err := os.MkdirAll(profDir, 0o755); err != nil {
				return missed, err
			}
		}
		r, err := loadtest.OrdersRun(ctx, loadtest.OrdersConfig{
			Bins: bins, Dir: filepath.Join(dir, fmt.Sprintf("orders-%d", i)), Hierarchy: h,
			Batch:            loadtest.BatchOptions{Concurrency: f.concurrency, ChunkSize: f.chunk, Auto: true},
			OrderConcurrency: min(f.concurrency, 64), Seed: uint64(i + 1),
			HostLogLevel: f.hostLog, Verify: f.verify, Logs: logs, ProfileDir: profDir,
		})
		if err != nil {
			return missed, fmt.Errorf("%w\n%s\n%s", err, logs.Tail("host", 20), logs.Tail("provctl", 10))
		}
		fmt.Printf("orders run %d: %s\n", i+1, r)
		if r.Subscribe.Provisioned != r.Orders || (r.Verification != nil && !r.Verification.OK()) {
			missed++
			fmt.Printf("FAILED: %d of %d orders provisioned\n%s\n", r.Subscribe.Provisioned, r.Orders, logs.Tail("host", 10))
		}
		orders = r.Orders
		accRate = append(accRate, r.AccountsPerSec)
		ordRate = append(ordRate, r.OrdersPerSec)
		rpo = append(rpo, r.RequestsPerOrder)
	}
	fmt.Printf("RESULT orders accounts=%d orders=%d concurrency=%d runs=%d median: accounts/s=%.0f orders/s=%.0f requests/order=%.2f\n",
		h.Count(), orders, min(f.concurrency, 64), f.repeat, median(accRate), median(ordRate), median(rpo))
	return missed, nil
}

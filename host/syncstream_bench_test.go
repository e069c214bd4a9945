package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// BenchmarkSynchronizeBoundary measures the cost of the plugin boundary for
// Synchronize: 32 callers at once through Host.Plugin to the test plugin,
// whose Synchronize does almost nothing, so nearly all the work is the
// call's trip. via=stream is SynchronizeStream, via=unary a plugin without
// it. Besides ns/op it reports the CPU time per call of the host (this
// process) and of the plugin process: the boundary's price in CPU, which a
// shared machine's noise moves less than wall time.
func BenchmarkSynchronizeBoundary(b *testing.B) {
	bin := plugintest.Build(b, testPluginPkg)
	for _, via := range []string{"unary", "stream"} {
		b.Run("via="+via, func(b *testing.B) {
			env := map[string]string{"TESTPLUGIN_PID_DIR": b.TempDir()}
			if via == "unary" {
				env["TESTPLUGIN_NO_STREAM"] = "1"
			}
			h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{Name: "testplugin", Path: bin, Env: env}}},
				host.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = h.Close(context.Background()) })
			c, err := h.Plugin("testplugin")
			if err != nil {
				b.Fatal(err)
			}
			pid := pluginPid(b, env["TESTPLUGIN_PID_DIR"])
			// Warm up: the records exist, the streams are open.
			for i := range 64 {
				if _, err := c.Synchronize(context.Background(), benchReq(i)); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			hostCPU0, plugCPU0 := selfCPU(b), procCPU(b, pid)
			b.SetParallelism(16) // 32 callers on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := c.Synchronize(ctx, benchReq(int(n.Add(1)%1000))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			calls := float64(b.N)
			b.ReportMetric(float64((selfCPU(b)-hostCPU0).Microseconds())/calls, "host-cpu-us/op")
			b.ReportMetric(float64((procCPU(b, pid)-plugCPU0).Microseconds())/calls, "plugin-cpu-us/op")
		})
	}
}

func benchReq(i int) *provisioningv1.SynchronizeRequest {
	return &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{
		Id: fmt.Sprintf("B%04d", i), Name: "Bench " + strconv.Itoa(i), Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER,
		CorporateEmail: "bench@example.com",
	}, Values: map[string]string{"username": fmt.Sprintf("bench%04d", i)}}
}

func pluginPid(tb testing.TB, dir string) int {
	tb.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, de := range des {
		if s, ok := strings.CutPrefix(de.Name(), "plugin-"); ok {
			if pid, err := strconv.Atoi(strings.TrimSuffix(s, ".pid")); err == nil {
				return pid
			}
		}
	}
	tb.Fatalf("no plugin pid in %s", filepath.Clean(dir))
	return 0
}

func selfCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func procCPU(tb testing.TB, pid int) time.Duration {
	d, err := loadtest.CPUTime(pid)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

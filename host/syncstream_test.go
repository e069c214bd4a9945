package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// syncMany synchronizes n accounts S000... at once through recs; name gives
// each account's name (the test plugin's instructions), ctxFor its context.
func syncMany(t *testing.T, recs *host.Records, n int, name func(i int) string, timeout func(i int) time.Duration) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout(i))
			defer cancel()
			_, errs[i] = recs.Synchronize(ctx, "testplugin", &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{
				Id: fmt.Sprintf("S%03d", i), Name: name(i), Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER,
			}})
		}()
	}
	wg.Wait()
	return errs
}

// TestSynchronizeOverStream: Synchronize calls through the host travel on
// SynchronizeStream when the plugin serves it, on as many streams as their
// concurrency needs, and unary when it does not (a plugin built before the
// RPC); either way every call answers, fails and is stored the same.
func TestSynchronizeOverStream(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		env         map[string]string
		wantRefused bool
	}{
		"plugin serving the stream": {},
		"plugin without the stream": {env: map[string]string{"TESTPLUGIN_NO_STREAM": "1"}, wantRefused: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := start(t, catalog.Entry{Env: tc.env})
			if err := f.h.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := store.NewMemory()
			recs := host.NewRecords(f.h, st, slog.New(slog.DiscardHandler))
			// More calls at once than one stream carries; one refused, one
			// past its deadline.
			const n = 150
			const refused, late = 7, 9
			errs := syncMany(t, recs, n, func(i int) string {
				switch i {
				case refused:
					return "fail"
				case late:
					return "sleep:10s"
				}
				return "sleep:300ms"
			}, func(i int) time.Duration {
				if i == late {
					return 500 * time.Millisecond
				}
				return 20 * time.Second
			})
			for i, err := range errs {
				d := diag.Parse(err)
				switch i {
				case refused:
					if d.Code != codes.InvalidArgument || d.Reason != diag.CodeInvalidValue || len(d.Violations) != 1 || d.Violations[0].Field != "account.name" {
						t.Errorf("refused call: %v, want INVALID_ARGUMENT INVALID_VALUE on account.name", err)
					}
				case late:
					if d.Code != codes.DeadlineExceeded {
						t.Errorf("late call: %v, want DEADLINE_EXCEEDED", err)
					}
				default:
					if err != nil {
						t.Errorf("call %d: %v", i, err)
					}
				}
			}
			e, err := st.Get(context.Background(), "testplugin", fmt.Sprintf("S%03d", refused))
			if err != nil {
				t.Fatal(err)
			}
			want := &provisioningv1.SyncRecord{Plugin: "testplugin", AccountId: "S007", Status: provisioningv1.SyncStatus_SYNC_STATUS_FAILED,
				ErrorReason: diag.CodeInvalidValue, Message: "account.name: the test plugin was told to fail"}
			if diff := cmp.Diff(want, e.Record, protocmp.Transform(), protocmp.IgnoreFields(&provisioningv1.SyncRecord{}, "updated_at")); diff != "" {
				t.Errorf("stored FAILED record (-want +got):\n%s", diff)
			}
			open, gotRefused := f.h.SyncStreams("testplugin")
			if gotRefused != tc.wantRefused {
				t.Errorf("process refused the stream = %v, want %v", gotRefused, tc.wantRefused)
			}
			if !tc.wantRefused && open < 2 {
				t.Errorf("%d calls at once went on %d stream(s), want at least 2 (64 calls a stream)", n, open)
			}
			if tc.wantRefused && open != 0 {
				t.Errorf("%d streams open to a plugin that refused the RPC", open)
			}
		})
	}
}

// TestSynchronizeStreamLargeRequest: a request near the 4 MiB a plugin
// accepts, too large for a stream message once wrapped, goes unary, and
// the calls sharing the stream with it are not failed by it (wrapped, it
// broke the stream: every call in flight answered UNAVAILABLE).
func TestSynchronizeStreamLargeRequest(t *testing.T) {
	t.Parallel()
	f := start(t, catalog.Entry{})
	if err := f.h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := host.NewRecords(f.h, store.NewMemory(), slog.New(slog.DiscardHandler))
	big := &provisioningv1.SynchronizeRequest{
		Account: &provisioningv1.Account{Id: "BIG", Name: "sleep:100ms", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER},
		Values:  map[string]string{"note": strings.Repeat("x", 4<<20-42)},
	}
	// Within the 4 MiB a plugin receives, but not with a stream's envelope.
	if n := proto.Size(big); n > 4<<20 || n < 4<<20-16 {
		t.Fatalf("the large request is %d bytes; want it a few bytes under 4 MiB", n)
	}
	var bigErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(100 * time.Millisecond) // while the others are in flight
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, bigErr = recs.Synchronize(ctx, "testplugin", big)
	}()
	errs := syncMany(t, recs, 20, func(int) string { return "sleep:500ms" }, func(int) time.Duration { return 20 * time.Second })
	<-done
	if bigErr != nil {
		t.Errorf("the large request: %v", bigErr)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d beside the large request: %v", i, err)
		}
	}
}

// TestSynchronizeStreamCrash: calls in flight on the streams when the plugin
// dies are retried once on the restarted plugin, as unary calls are, and all
// succeed; the new process gets streams of its own.
func TestSynchronizeStreamCrash(t *testing.T) {
	t.Parallel()
	f := start(t, catalog.Entry{})
	if err := f.h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := host.NewRecords(f.h, store.NewMemory(), slog.New(slog.DiscardHandler))
	pid := f.pids(t, "plugin")[0]
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}()
	const n = 100
	errs := syncMany(t, recs, n, func(int) string { return "sleep:1s" }, func(int) time.Duration { return 20 * time.Second })
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d across the crash: %v", i, err)
		}
	}
	if got := len(f.pids(t, "plugin")); got != 2 {
		t.Errorf("%d plugin processes started, want 2", got)
	}
	if open, refused := f.h.SyncStreams("testplugin"); open == 0 || refused {
		t.Errorf("restarted process: %d streams, refused %v; want its own streams", open, refused)
	}
}

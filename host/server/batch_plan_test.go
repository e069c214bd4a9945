package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/server"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// newServer returns the HostService implementation over the test plugin,
// called directly (no transport) so tests and benchmarks see the handler's
// own work and can hold its stream.
func newServer(tb testing.TB, st store.Store) hostv1.HostServiceServer {
	tb.Helper()
	cfg := &catalog.Config{Plugins: []catalog.Entry{{
		Name: plug, Path: plugintest.Build(tb, "github.com/cloudbss/provisioning/host/internal/testplugin"),
	}}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := host.New(cfg, host.WithLogger(quiet), host.WithStore(st))
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Close(ctx)
	})
	return server.New(h, st, server.WithLogger(quiet))
}

// batchStream is the server side of a SynchronizeBatch stream that keeps
// what was sent and can run a hook on each Send.
type batchStream struct {
	grpc.ServerStream
	ctx    context.Context
	mu     sync.Mutex
	sent   []*hostv1.SynchronizeBatchResponse
	onSend func(n int)
}

func (s *batchStream) Context() context.Context { return s.ctx }

func (s *batchStream) Send(r *hostv1.SynchronizeBatchResponse) error {
	s.mu.Lock()
	s.sent = append(s.sent, r)
	n := len(s.sent)
	s.mu.Unlock()
	if s.onSend != nil {
		s.onSend(n)
	}
	return nil
}

func (s *batchStream) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// hookStore calls onGet before each Get.
type hookStore struct {
	store.Store
	onGet func(ctx context.Context, n int)
	mu    sync.Mutex
	gets  int
}

func (s *hookStore) Get(ctx context.Context, plugin, id string) (store.Entry, error) {
	s.mu.Lock()
	s.gets++
	n := s.gets
	s.mu.Unlock()
	if s.onGet != nil {
		s.onGet(ctx, n)
	}
	return s.Store.Get(ctx, plugin, id)
}

// chainUnderCycle is the batch of the issue: T-(n-1) -> ... -> T-0 -> X,
// X <-> Y, deepest first.
func chainUnderCycle(n int) *hostv1.SynchronizeBatchRequest {
	req := &hostv1.SynchronizeBatchRequest{Plugin: plug}
	for i := n - 1; i >= 0; i-- {
		parent := "X"
		if i > 0 {
			parent = fmt.Sprintf("T-%05d", i-1)
		}
		req.Items = append(req.Items, &hostv1.BatchItem{Account: acct(fmt.Sprintf("T-%05d", i), customer, parent)})
	}
	req.Items = append(req.Items,
		&hostv1.BatchItem{Account: acct("X", reseller, "Y")},
		&hostv1.BatchItem{Account: acct("Y", reseller, "X")})
	return req
}

// orphans is a batch of n items whose parents are nowhere.
func orphans(n int) *hostv1.SynchronizeBatchRequest {
	req := &hostv1.SynchronizeBatchRequest{Plugin: plug}
	for i := range n {
		req.Items = append(req.Items, &hostv1.BatchItem{Account: acct(fmt.Sprintf("O-%06d", i), customer, fmt.Sprintf("P-%06d", i))})
	}
	return req
}

func TestBatchChainUnderCycle(t *testing.T) {
	t.Parallel()
	srv := newServer(t, store.NewMemory())
	const n = 500
	s := &batchStream{ctx: context.Background()}
	if err := srv.SynchronizeBatch(chainUnderCycle(n), s); err != nil {
		t.Fatal(err)
	}
	if len(s.sent) != n+2 {
		t.Fatalf("%d results for %d items", len(s.sent), n+2)
	}
	for _, r := range s.sent {
		st := status.FromProto(r.GetError())
		var want string
		switch r.GetAccountId() {
		case "X", "Y":
			want = "OUTCOME_FAILED InvalidArgument"
		default:
			want = "OUTCOME_SKIPPED FailedPrecondition"
			// The nearest ancestor that cannot be sent is X, for every item.
			if msg := st.Message(); msg != "not sent: ancestor X cannot be synchronized" {
				t.Errorf("%s: %q, want X blamed", r.GetAccountId(), msg)
			}
		}
		if got := r.GetOutcome().String() + " " + st.Code().String(); got != want {
			t.Errorf("%s: %s, want %s", r.GetAccountId(), got, want)
		}
	}
}

// TestBatchStreamsMissingParents: each item whose parent is nowhere is
// answered as soon as it is found, not after the whole batch is planned,
// so a caller of a large batch sees progress from the first store lookup.
func TestBatchStreamsMissingParents(t *testing.T) {
	t.Parallel()
	s := &batchStream{ctx: context.Background()}
	st := &hookStore{Store: store.NewMemory()}
	st.onGet = func(_ context.Context, n int) {
		if got := s.count(); got < n-1 {
			t.Errorf("store lookup %d with %d results sent: planning is silent", n, got)
		}
	}
	srv := newServer(t, st)
	const n = 50
	if err := srv.SynchronizeBatch(orphans(n), s); err != nil {
		t.Fatal(err)
	}
	if len(s.sent) != n {
		t.Errorf("%d results for %d items", len(s.sent), n)
	}
}

// TestBatchPlanningStopsOnCancel: the caller's cancellation stops planning
// at once: no store lookup for the items left.
func TestBatchPlanningStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const stopAt = 10
	st := &hookStore{Store: store.NewMemory()}
	st.onGet = func(_ context.Context, n int) {
		if n == stopAt {
			cancel()
		}
	}
	// A store that does not watch the context (a fast local one) must not
	// keep the batch planning either.
	st.Store = ctxBlind{st.Store}
	srv := newServer(t, st)
	s := &batchStream{ctx: ctx}
	err := srv.SynchronizeBatch(orphans(1000), s)
	if status.Code(err) != codes.Canceled {
		t.Errorf("SynchronizeBatch after cancel: %v, want Canceled", err)
	}
	if st.gets > stopAt {
		t.Errorf("%d store lookups after the caller cancelled at lookup %d", st.gets-stopAt, stopAt)
	}
}

// ctxBlind ignores the context of Get, as a store that answers from memory.
type ctxBlind struct{ store.Store }

func (s ctxBlind) Get(_ context.Context, plugin, id string) (store.Entry, error) {
	return s.Store.Get(context.Background(), plugin, id)
}

// BenchmarkBatchPlanning measures planning batches that send nothing: a
// chain of n items under a 2-cycle (every item is found unreachable), and n
// items whose parents are nowhere (one store lookup each). ns/op must grow
// linearly with n.
func BenchmarkBatchPlanning(b *testing.B) {
	srv := newServer(b, store.NewMemory())
	for _, n := range []int{1000, 2000, 3000, 100000} {
		for name, build := range map[string]func(int) *hostv1.SynchronizeBatchRequest{
			"chain-under-cycle": chainUnderCycle,
			"orphans":           orphans,
		} {
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					req := build(n)
					s := &batchStream{ctx: context.Background()}
					b.StartTimer()
					if err := srv.SynchronizeBatch(req, s); err != nil {
						b.Fatal(err)
					}
					if len(s.sent) != len(req.Items) {
						b.Fatalf("%d results for %d items", len(s.sent), len(req.Items))
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/item")
			})
		}
	}
}

// TestBatchDrain: once the host drains (SIGTERM), a running batch starts no
// more items; the one in flight finishes and the rest are answered SKIPPED,
// UNAVAILABLE with reason HOST_SHUTTING_DOWN, at once.
func TestBatchDrain(t *testing.T) {
	t.Parallel()
	drainCtx, drain := context.WithCancel(context.Background())
	defer drain()
	st := store.NewMemory()
	cfg := &catalog.Config{Plugins: []catalog.Entry{{
		Name: plug, Path: plugintest.Build(t, "github.com/cloudbss/provisioning/host/internal/testplugin"),
	}}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := host.New(cfg, host.WithLogger(quiet), host.WithStore(st))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	srv := server.New(h, st, server.WithLogger(quiet), server.WithDrain(drainCtx))

	req := &hostv1.SynchronizeBatchRequest{Plugin: plug, Concurrency: 1}
	const n = 20
	for i := range n {
		req.Items = append(req.Items, &hostv1.BatchItem{Account: acct(fmt.Sprintf("D%02d", i), reseller, "")})
	}
	s := &batchStream{ctx: context.Background(), onSend: func(k int) {
		if k == 1 {
			drain()
		}
	}}
	if err := srv.SynchronizeBatch(req, s); err != nil {
		t.Fatal(err)
	}
	var synced, shutdown int
	for _, r := range s.sent {
		d := diag.Parse(status.FromProto(r.GetError()).Err())
		switch {
		case r.GetOutcome() == hostv1.Outcome_OUTCOME_SYNCED:
			synced++
		case r.GetOutcome() == hostv1.Outcome_OUTCOME_SKIPPED && d.Code == codes.Unavailable && d.Reason == diag.ReasonHostShuttingDown:
			shutdown++
		default:
			t.Errorf("%s: %v %v", r.GetAccountId(), r.GetOutcome(), d)
		}
	}
	if synced != 1 || shutdown != n-1 {
		t.Errorf("%d synced, %d not started, want 1 and %d", synced, shutdown, n-1)
	}
}

// BenchmarkBatchPlanningSQLite measures a batch of n items whose parents
// are nowhere against the daemon's SQLite store: one lookup per item.
func BenchmarkBatchPlanningSQLite(b *testing.B) {
	st, err := store.OpenSQLite(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := newServer(b, st)
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("orphans/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				req := orphans(n)
				s := &batchStream{ctx: context.Background()}
				b.StartTimer()
				if err := srv.SynchronizeBatch(req, s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/item")
		})
	}
}

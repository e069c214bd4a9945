package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// streamAdapter answers Synchronize by the account's name: "sleep:D" waits D
// (or until cancelled), "deadline" reports whether its context has a
// deadline, "fail", "plain", "ctx" fail in three ways; anything else
// succeeds with a record naming the account.
type streamAdapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	started chan string // account ids, as calls start (nil: not reported)
}

func (a *streamAdapter) Synchronize(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	id := req.GetAccount().GetId()
	if a.started != nil {
		a.started <- id
	}
	name := req.GetAccount().GetName()
	switch {
	case name == "fail":
		return nil, diag.InvalidArgument("account.name", diag.CodeInvalidValue, "told to fail")
	case name == "plain":
		return nil, errors.New("a plain error")
	case name == "ctx":
		return nil, context.DeadlineExceeded
	case name == "deadline":
		d, ok := ctx.Deadline()
		if !ok {
			return nil, status.Error(codes.FailedPrecondition, "no deadline")
		}
		return &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{RemoteId: fmt.Sprint(time.Until(d) > 0)}}, nil
	case len(name) > 6 && name[:6] == "sleep:":
		d, _ := time.ParseDuration(name[6:])
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{AccountId: id, RemoteId: "r-" + id}, Created: true}, nil
}

// serveStreamTest serves adapter as Serve does (the drainer's server, the
// SDK's stream) on an in-memory listener and returns a client and the
// drainer.
func serveStreamTest(t *testing.T, adapter provisioningv1.ProvisioningAdapterServer, o serveOptions) (provisioningv1.ProvisioningAdapterClient, *drainer) {
	t.Helper()
	d := newDrainer(slog.New(slog.DiscardHandler))
	srv := d.newServer(nil)
	provisioningv1.RegisterProvisioningAdapterServer(srv, withSyncStream(adapter, d, &o))
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return provisioningv1.NewProvisioningAdapterClient(conn), d
}

func syncReq(id, name string) *provisioningv1.SynchronizeRequest {
	return &provisioningv1.SynchronizeRequest{Account: &provisioningv1.Account{Id: id, Name: name, Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER}}
}

// TestSynchronizeStreamAnswersAsUnary: each call's answer on the stream is
// what the unary Synchronize answers, errors included (code, message and
// details), in whatever order the calls finish.
func TestSynchronizeStreamAnswersAsUnary(t *testing.T) {
	t.Parallel()
	c, _ := serveStreamTest(t, &streamAdapter{}, serveOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	names := map[uint64]string{1: "sleep:200ms", 2: "ok", 3: "fail", 4: "plain", 5: "ctx", 6: "deadline"}
	st, err := c.SynchronizeStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for id := uint64(1); id <= uint64(len(names)); id++ {
		m := &provisioningv1.SynchronizeStreamRequest{CallId: id, Request: syncReq(fmt.Sprint("a", id), names[id])}
		if names[id] == "deadline" {
			m.Timeout = durationpb.New(5 * time.Second)
		}
		if err := st.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var order []uint64
	got := map[uint64]*provisioningv1.SynchronizeStreamResponse{}
	for {
		r, err := st.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("stream ended with %v, want EOF after the answers", err)
			}
			break
		}
		order = append(order, r.GetCallId())
		got[r.GetCallId()] = r
	}
	if len(got) != len(names) {
		t.Fatalf("answers for calls %v, want one for each of %d calls", order, len(names))
	}
	if order[len(order)-1] != 1 {
		t.Errorf("answer order %v: the slow call 1 was not answered last (calls must run concurrently)", order)
	}
	for id, name := range names {
		req := syncReq(fmt.Sprint("a", id), name)
		uctx := ctx
		if name == "deadline" {
			var c2 context.CancelFunc
			uctx, c2 = context.WithTimeout(ctx, 5*time.Second)
			defer c2()
		}
		want, uerr := c.Synchronize(uctx, req)
		r := got[id]
		if uerr != nil {
			if diff := cmp.Diff(status.Convert(uerr).Proto(), r.GetError(), protocmp.Transform()); diff != "" {
				t.Errorf("call %d (%s): stream error differs from unary (-unary +stream):\n%s", id, name, diff)
			}
			continue
		}
		if diff := cmp.Diff(want, r.GetResponse(), protocmp.Transform()); diff != "" {
			t.Errorf("call %d (%s): stream answer differs from unary (-unary +stream):\n%s", id, name, diff)
		}
	}
	if got[6].GetResponse().GetRecord().GetRemoteId() != "true" {
		t.Errorf("the call's timeout did not reach the adapter as a deadline: %v", got[6])
	}
}

// TestSynchronizeStreamTimeoutAndCancel: the carried timeout bounds the call,
// a cancel message cancels it, a call id in flight cannot be reused.
func TestSynchronizeStreamTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	started := make(chan string, 10)
	c, _ := serveStreamTest(t, &streamAdapter{started: started}, serveOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := c.SynchronizeStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send := func(m *provisioningv1.SynchronizeStreamRequest) {
		t.Helper()
		if err := st.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	send(&provisioningv1.SynchronizeStreamRequest{CallId: 1, Request: syncReq("t", "sleep:1h"), Timeout: durationpb.New(50 * time.Millisecond)})
	send(&provisioningv1.SynchronizeStreamRequest{CallId: 2, Request: syncReq("c", "sleep:1h")})
	<-started
	<-started
	send(&provisioningv1.SynchronizeStreamRequest{CallId: 2, Request: syncReq("d", "ok")})
	send(&provisioningv1.SynchronizeStreamRequest{CallId: 2, Cancel: true})
	got := map[uint64][]codes.Code{}
	for range 3 {
		r, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got[r.GetCallId()] = append(got[r.GetCallId()], codes.Code(r.GetError().GetCode()))
	}
	want := map[uint64][]codes.Code{1: {codes.DeadlineExceeded}, 2: {codes.InvalidArgument, codes.Canceled}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

// TestSynchronizeStreamDrain: a stopping plugin finishes the calls in flight
// on the stream and answers new ones UNAVAILABLE, as it does unary calls;
// the open stream itself does not hold the drain.
func TestSynchronizeStreamDrain(t *testing.T) {
	t.Parallel()
	started := make(chan string, 10)
	c, d := serveStreamTest(t, &streamAdapter{started: started}, serveOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := c.SynchronizeStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&provisioningv1.SynchronizeStreamRequest{CallId: 1, Request: syncReq("slow", "sleep:300ms")}); err != nil {
		t.Fatal(err)
	}
	<-started
	drained := make(chan struct{})
	go func() {
		d.drain(5 * time.Second)
		close(drained)
	}()
	for !d.isDraining() {
		time.Sleep(time.Millisecond)
	}
	if err := st.Send(&provisioningv1.SynchronizeStreamRequest{CallId: 2, Request: syncReq("late", "ok")}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[uint64]string{}
	for range 2 {
		r, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if r.GetError() != nil {
			got[r.GetCallId()] = codes.Code(r.GetError().GetCode()).String() + ": " + r.GetError().GetMessage()
		} else {
			got[r.GetCallId()] = r.GetResponse().GetRecord().GetRemoteId()
		}
		mu.Unlock()
	}
	want := map[uint64]string{1: "r-slow", 2: "Unavailable: " + drainingMessage}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers while draining (-want +got):\n%s", diff)
	}
	select {
	case <-drained:
	case <-time.After(3 * time.Second):
		t.Fatal("drain still waiting with no call in flight: the open stream holds it")
	}
}

// TestWithoutSynchronizeStream: the option leaves the RPC UNIMPLEMENTED, as
// an old plugin does, and unary Synchronize works.
func TestWithoutSynchronizeStream(t *testing.T) {
	t.Parallel()
	c, _ := serveStreamTest(t, &streamAdapter{}, serveOptions{noSyncStream: true})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := c.SynchronizeStream(ctx)
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("SynchronizeStream: %v, want UNIMPLEMENTED", err)
	}
	resp, err := c.Synchronize(ctx, syncReq("u", "ok"))
	if err != nil || !proto.Equal(resp.GetRecord(), &provisioningv1.SyncRecord{AccountId: "u", RemoteId: "r-u"}) {
		t.Errorf("unary Synchronize = %v, %v", resp, err)
	}
}

// countingAdapter records the most Synchronize calls running at once.
type countingAdapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	mu       sync.Mutex
	now, max int
}

func (a *countingAdapter) Synchronize(context.Context, *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	a.mu.Lock()
	a.now++
	a.max = max(a.max, a.now)
	a.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	a.mu.Lock()
	a.now--
	a.mu.Unlock()
	return &provisioningv1.SynchronizeResponse{}, nil
}

// TestSynchronizeStreamBound: more calls than a stream runs at once are all
// answered, never more than StreamCallsInFlight at a time.
func TestSynchronizeStreamBound(t *testing.T) {
	t.Parallel()
	a := &countingAdapter{}
	c, _ := serveStreamTest(t, a, serveOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	st, err := c.SynchronizeStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3 * StreamCallsInFlight
	go func() {
		for id := range uint64(n) {
			if err := st.Send(&provisioningv1.SynchronizeStreamRequest{CallId: id, Request: syncReq("a", "ok")}); err != nil {
				return
			}
		}
		_ = st.CloseSend()
	}()
	seen := map[uint64]bool{}
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[r.GetCallId()] = true
	}
	if len(seen) != n {
		t.Errorf("%d calls answered, want %d", len(seen), n)
	}
	if a.max > StreamCallsInFlight || a.max < 2 {
		t.Errorf("at most %d calls ran at once, want 2 to %d", a.max, StreamCallsInFlight)
	}
}

package plugin

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// StreamCallsInFlight is how many calls of one SynchronizeStream the SDK
// runs at once. At the bound it stops reading the stream until a call ends,
// so HTTP/2 flow control holds the host's sends; the host sends no more than
// this many calls in flight on one stream and opens another stream for more.
const StreamCallsInFlight = 64

// drainingMessage is the UNAVAILABLE message of a call that reaches a
// stopping plugin, unary or on the stream.
const drainingMessage = "plugin is shutting down; retry on the restarted plugin"

// WithoutSynchronizeStream makes [Serve] leave SynchronizeStream
// unimplemented: the host then sends every Synchronize as a unary call, as it
// does to a plugin built before the RPC existed. For testing hosts, and for
// ruling the stream out when diagnosing a problem; a plugin gains nothing
// from it otherwise.
func WithoutSynchronizeStream() ServeOption { return func(o *serveOptions) { o.noSyncStream = true } }

// Served returns adapter as [Serve] registers it on its gRPC server:
// SynchronizeStream served by the SDK from the adapter's Synchronize, every
// other RPC the adapter's own. For an adapter served on a gRPC server of
// one's own, as plugintest.InProcess does; there the calls are not drained
// on shutdown, which is Serve's doing.
func Served(adapter provisioningv1.ProvisioningAdapterServer) provisioningv1.ProvisioningAdapterServer {
	return streamingAdapter{ProvisioningAdapterServer: adapter}
}

// withSyncStream returns adapter as [Serve] registers it: SynchronizeStream
// served by the SDK (see [streamingAdapter]) unless o says otherwise, every
// other RPC the adapter's own.
func withSyncStream(adapter provisioningv1.ProvisioningAdapterServer, d *drainer, o *serveOptions) provisioningv1.ProvisioningAdapterServer {
	if o.noSyncStream {
		return unaryOnly{adapter}
	}
	return streamingAdapter{ProvisioningAdapterServer: adapter, d: d}
}

// unaryOnly answers SynchronizeStream UNIMPLEMENTED, whatever the adapter
// embeds or implements.
type unaryOnly struct {
	provisioningv1.ProvisioningAdapterServer
}

func (unaryOnly) SynchronizeStream(provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error {
	return status.Error(codes.Unimplemented, "SynchronizeStream is turned off in this plugin (plugin.WithoutSynchronizeStream)")
}

// streamingAdapter serves SynchronizeStream for any adapter by calling its
// Synchronize, one goroutine per call, with what a unary Synchronize gets:
// its own context (the stream's, bounded by the call's timeout and cancelled
// by a cancel message), the drainer's refusal while the plugin stops, and
// the error converted to a status as the gRPC server converts a unary
// handler's. A panic in Synchronize is not recovered, as it is not on the
// unary path: the process dies and the host restarts it. The SDK's
// SynchronizeStream wins over one the adapter implements itself: the stream
// is the SDK's transport, and the adapter's Synchronize stays the one
// definition of what a call does.
type streamingAdapter struct {
	provisioningv1.ProvisioningAdapterServer
	d *drainer // nil: not drained (Served)
}

func (a streamingAdapter) SynchronizeStream(stream provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error {
	ss := &syncStream{
		a:       a,
		stream:  stream,
		slots:   make(chan struct{}, StreamCallsInFlight),
		jobs:    make(chan func()),
		cancels: map[uint64]context.CancelFunc{},
	}
	return ss.serve()
}

// syncStream is one SynchronizeStream being served.
type syncStream struct {
	a       streamingAdapter
	stream  provisioningv1.ProvisioningAdapter_SynchronizeStreamServer
	slots   chan struct{}  // a call holds one from its start until its answer is sent
	jobs    chan func()    // calls for an idle worker
	workers int            // started; only the reader touches it
	wg      sync.WaitGroup // the workers

	sendMu sync.Mutex

	mu      sync.Mutex
	cancels map[uint64]context.CancelFunc // the calls in flight
}

func (ss *syncStream) serve() error {
	// Answers must be sent before the handler returns: wait for every call.
	defer func() {
		close(ss.jobs)
		ss.wg.Wait()
	}()
	for {
		m, err := ss.stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil // the host half-closed: answer the calls in flight, then end
		}
		if err != nil {
			return err // the stream's context is done: its calls' too
		}
		if m.GetCancel() {
			ss.mu.Lock()
			if cancel := ss.cancels[m.GetCallId()]; cancel != nil {
				cancel()
			}
			ss.mu.Unlock()
			continue
		}
		ss.slots <- struct{}{}
		ss.start(m)
	}
}

// start runs one call, holding a slot. Like the unary path, the call is
// counted by the drainer before it looks whether the plugin is stopping.
func (ss *syncStream) start(m *provisioningv1.SynchronizeStreamRequest) {
	d := ss.a.d
	if d != nil {
		d.add(1)
	}
	id := m.GetCallId()
	done := func(resp *provisioningv1.SynchronizeResponse, err error) {
		ss.answer(id, resp, err)
		if d != nil {
			d.add(-1)
		}
		<-ss.slots
	}
	if d.isDraining() {
		done(nil, status.Error(codes.Unavailable, drainingMessage))
		return
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if t := m.GetTimeout(); t != nil {
		ctx, cancel = context.WithTimeout(ss.stream.Context(), t.AsDuration())
	} else {
		ctx, cancel = context.WithCancel(ss.stream.Context())
	}
	ss.mu.Lock()
	if _, dup := ss.cancels[id]; dup {
		ss.mu.Unlock()
		cancel()
		done(nil, status.Errorf(codes.InvalidArgument, "SynchronizeStream: call_id %d is already in flight on this stream", id))
		return
	}
	ss.cancels[id] = cancel
	ss.mu.Unlock()
	req := m.GetRequest()
	if req == nil {
		req = &provisioningv1.SynchronizeRequest{} // what a unary call with an empty body decodes to
	}
	ss.dispatch(func() {
		resp, err := ss.a.Synchronize(ctx, req)
		ss.mu.Lock()
		delete(ss.cancels, id)
		ss.mu.Unlock()
		cancel()
		done(resp, err)
	})
}

// dispatch runs call on an idle worker of the stream, or a new one. Workers
// live as long as the stream, at most one per slot: a goroutine per call
// would start on a small stack and grow it on every call (a fifth of the
// plugin's CPU per call, in BenchmarkSynchronizeBoundary's profile).
// Only the stream's reader calls it.
func (ss *syncStream) dispatch(call func()) {
	if ss.workers < StreamCallsInFlight {
		select {
		case ss.jobs <- call:
			return
		default:
		}
		ss.workers++
		ss.wg.Add(1)
		go ss.work(call)
		return
	}
	// Every slot has a worker, and call holds a slot: a worker is free or
	// about to be.
	ss.jobs <- call
}

// work runs call, then the calls handed to it, until the stream ends.
func (ss *syncStream) work(call func()) {
	defer ss.wg.Done()
	for call != nil {
		call()
		call = <-ss.jobs
	}
}

// answer sends the answer of call id. A failed send means the stream is
// gone; its Recv reports that.
func (ss *syncStream) answer(id uint64, resp *provisioningv1.SynchronizeResponse, err error) {
	out := &provisioningv1.SynchronizeStreamResponse{CallId: id}
	if err != nil {
		out.Result = &provisioningv1.SynchronizeStreamResponse_Error{Error: unaryStatus(err).Proto()}
	} else {
		if resp == nil {
			resp = &provisioningv1.SynchronizeResponse{} // a nil reply marshals as an empty one
		}
		out.Result = &provisioningv1.SynchronizeStreamResponse_Response{Response: resp}
	}
	ss.sendMu.Lock()
	_ = ss.stream.Send(out)
	ss.sendMu.Unlock()
}

// unaryStatus is the status the gRPC server answers for a unary handler's
// error err: err's own status, else a context error's code, else UNKNOWN
// with err's text.
func unaryStatus(err error) *status.Status {
	st, ok := status.FromError(err)
	if !ok {
		st = status.FromContextError(err)
	}
	if st.Code() == codes.OK {
		// An error that says OK; gRPC would answer an empty success, which
		// the stream cannot tell from a real one.
		return status.New(codes.Unknown, err.Error())
	}
	return st
}

// isDraining reports whether the plugin is stopping and refuses new calls;
// never for a nil drainer.
func (d *drainer) isDraining() bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.draining
}

package host

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloudbss/provisioning/plugin"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Synchronize calls travel on SynchronizeStream (see the .proto): every
// Synchronize the host makes, one account or a batch's, is a message on one
// of a few long-lived streams per plugin process, not a unary RPC of its
// own. That saves, per account, an HTTP/2 stream with its headers, and a
// server goroutine and interceptor chain on each side. Single calls use the
// stream too: one path to test, and they gain the same.
//
// A call keeps the meaning of a unary one to everything above
// [instance.invoke]: the same answer and error (the plugin's google.rpc.Status
// becomes the same status error), the deadline carried, cancellation
// forwarded, and a stream that breaks fails each of its calls in flight
// with UNAVAILABLE without details, which [supervisor.crashed] reads as it
// reads a unary call cut by a crash (then retried once: Synchronize is
// idempotent, and the host's attempt markers and the plugin's journal cover
// a lost answer).
//
// A plugin that does not serve the RPC (built before it, another language's
// SDK, plugin.WithoutSynchronizeStream) answers the stream UNIMPLEMENTED
// before any answer; its process then gets unary calls only, and the next
// process of the plugin is asked again. The calls that were waiting on that
// stream never reached the plugin, so they go unary at once.

// streamCallsInFlight is the most calls the host keeps in flight on one
// stream, the SDK's bound, so the plugin never stops reading a stream the
// host sends on and a send never waits on flow control for long. More
// concurrent calls open more streams. (A call its caller gave up on leaves
// its place at once, while the plugin may still be ending it: the plugin can
// then hold a new call back until the cancelled one returns, which is as
// long as its adapter takes to honour the cancellation.)
const streamCallsInFlight = plugin.StreamCallsInFlight

// maxStreamedRequest is the largest SynchronizeRequest sent on a stream: a
// plugin receives messages of up to 4 MiB (gRPC's default, the host's
// MaxForwardedBytes), and the stream's envelope (call id, time left) must
// fit beside the request. A larger one goes unary, where it fits: on the
// stream it would be refused as too large, which breaks the stream and
// fails every call in flight on it.
const maxStreamedRequest = 4<<20 - 1<<10

// errNoStream means the plugin process does not serve SynchronizeStream:
// make the call unary.
var errNoStream = errors.New("plugin does not serve SynchronizeStream")

// invoke makes one call on the process: Synchronize on a stream, the rest
// (and Synchronize to a plugin without the stream) unary.
func (in *instance) invoke(ctx context.Context, method string, args, reply any, opts []grpc.CallOption) error {
	if method == provisioningv1.ProvisioningAdapter_Synchronize_FullMethodName && onlyStaticMethod(opts) {
		req, rok := args.(*provisioningv1.SynchronizeRequest)
		resp, pok := reply.(*provisioningv1.SynchronizeResponse)
		if rok && pok {
			err := in.streams.call(ctx, in.conn, req, resp)
			if !errors.Is(err, errNoStream) {
				return err
			}
		}
	}
	return in.conn.Invoke(ctx, method, args, reply, opts...)
}

// onlyStaticMethod reports whether opts hold nothing but what the generated
// client adds: any other call option (headers, trailers, a codec) asks for
// something only a unary call gives.
func onlyStaticMethod(opts []grpc.CallOption) bool {
	for _, o := range opts {
		if _, ok := o.(grpc.StaticMethodCallOption); !ok {
			return false
		}
	}
	return true
}

// syncStreams are the SynchronizeStreams of one plugin process. The zero
// value is ready: streams open on the first call.
type syncStreams struct {
	mu     sync.Mutex
	off    bool // the process answered UNIMPLEMENTED
	open   []*syncStream
	nextID uint64
}

// syncStream is one stream and its calls in flight.
type syncStream struct {
	cs     provisioningv1.ProvisioningAdapter_SynchronizeStreamClient
	stop   context.CancelFunc
	sendMu sync.Mutex

	// Under syncStreams.mu.
	calls    map[uint64]chan streamResult // nil once the stream broke
	answered bool                         // an answer came: the plugin serves the RPC
}

type streamResult struct {
	resp *provisioningv1.SynchronizeStreamResponse
	err  error
}

// call makes one Synchronize on a stream of the process behind conn and
// fills reply, or answers errNoStream.
func (s *syncStreams) call(ctx context.Context, conn grpc.ClientConnInterface, req *provisioningv1.SynchronizeRequest, reply *provisioningv1.SynchronizeResponse) error {
	if proto.Size(req) > maxStreamedRequest {
		return errNoStream // this call alone goes unary, where it fits
	}
	st, id, ch, err := s.enter(ctx, conn)
	if err != nil {
		return err
	}
	m := &provisioningv1.SynchronizeStreamRequest{CallId: id, Request: req}
	if d, ok := ctx.Deadline(); ok {
		m.Timeout = durationpb.New(time.Until(d))
	}
	// A failed send means the stream broke: its reader fails this call.
	_ = st.send(m)
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		return unpack(r.resp, reply)
	case <-ctx.Done():
		if s.leave(st, id) {
			_ = st.send(&provisioningv1.SynchronizeStreamRequest{CallId: id, Cancel: true})
		}
		return status.FromContextError(ctx.Err()).Err()
	}
}

// unpack turns an answer into what a unary Synchronize returns.
func unpack(r *provisioningv1.SynchronizeStreamResponse, reply *provisioningv1.SynchronizeResponse) error {
	switch res := r.GetResult().(type) {
	case *provisioningv1.SynchronizeStreamResponse_Response:
		moveInto(reply, res.Response)
		return nil
	case *provisioningv1.SynchronizeStreamResponse_Error:
		if codes.Code(res.Error.GetCode()) == codes.OK {
			return status.Errorf(codes.Internal, "plugin answered Synchronize call %d with an error whose code is OK", r.GetCallId())
		}
		return status.ErrorProto(res.Error)
	}
	return status.Errorf(codes.Internal, "plugin answered Synchronize call %d with neither a response nor an error", r.GetCallId())
}

// moveInto makes dst what src is, sharing src's fields rather than copying
// them (proto.Merge's deep copy was a tenth of the host's CPU per call): src
// was just decoded for this call alone and is dropped after.
func moveInto(dst, src proto.Message) {
	proto.Reset(dst)
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	s.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(fd, v)
		return true
	})
	d.SetUnknown(s.GetUnknown())
}

// enter registers a call on a stream with room, opening one when none has.
func (s *syncStreams) enter(ctx context.Context, conn grpc.ClientConnInterface) (*syncStream, uint64, chan streamResult, error) {
	s.mu.Lock()
	for {
		if s.off {
			s.mu.Unlock()
			return nil, 0, nil, errNoStream
		}
		for _, st := range s.open {
			if st.calls != nil && len(st.calls) < streamCallsInFlight {
				s.nextID++
				id := s.nextID
				ch := make(chan streamResult, 1)
				st.calls[id] = ch
				s.mu.Unlock()
				return st, id, ch, nil
			}
		}
		s.mu.Unlock()
		st, err := s.openStream(ctx, conn)
		if err != nil {
			return nil, 0, nil, err
		}
		s.mu.Lock()
		if st.calls != nil { // else it broke already
			s.open = append(s.open, st)
		}
	}
}

// openStream opens a stream that outlives ctx; ctx bounds only the opening.
func (s *syncStreams) openStream(ctx context.Context, conn grpc.ClientConnInterface) (*syncStream, error) {
	sctx, stop := context.WithCancel(context.Background())
	unwatch := context.AfterFunc(ctx, stop)
	cs, err := provisioningv1.NewProvisioningAdapterClient(conn).SynchronizeStream(sctx)
	if !unwatch() {
		stop()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err != nil {
		stop()
		if status.Code(err) == codes.Unimplemented {
			s.mu.Lock()
			s.off = true
			s.mu.Unlock()
			return nil, errNoStream
		}
		return nil, err
	}
	st := &syncStream{cs: cs, stop: stop, calls: map[uint64]chan streamResult{}}
	go s.read(st)
	return st, nil
}

// leave forgets a call the caller gave up on, reporting whether it was
// still in flight.
func (s *syncStreams) leave(st *syncStream, id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := st.calls[id]
	delete(st.calls, id)
	return ok
}

func (st *syncStream) send(m *provisioningv1.SynchronizeStreamRequest) error {
	st.sendMu.Lock()
	defer st.sendMu.Unlock()
	return st.cs.Send(m)
}

// read hands each answer to its call until the stream ends, then fails the
// calls still in flight.
func (s *syncStreams) read(st *syncStream) {
	for {
		r, err := st.cs.Recv()
		if err != nil {
			s.broke(st, err)
			return
		}
		s.mu.Lock()
		st.answered = true
		ch := st.calls[r.GetCallId()]
		delete(st.calls, r.GetCallId())
		s.mu.Unlock()
		if ch != nil {
			ch <- streamResult{resp: r}
		}
	}
}

// broke retires a stream that ended with err and fails its calls in flight:
// errNoStream when the plugin does not serve the RPC (they never reached
// it), else UNAVAILABLE without details, as a unary call whose connection
// broke.
func (s *syncStreams) broke(st *syncStream, err error) {
	s.mu.Lock()
	for i, o := range s.open {
		if o == st {
			s.open = append(s.open[:i], s.open[i+1:]...)
			break
		}
	}
	calls := st.calls
	st.calls = nil
	fail := status.Errorf(codes.Unavailable, "the Synchronize stream to the plugin broke: %v", err)
	if !st.answered && status.Code(err) == codes.Unimplemented {
		s.off = true
		fail = errNoStream
	}
	s.mu.Unlock()
	st.stop()
	for _, ch := range calls {
		ch <- streamResult{err: fail}
	}
}

package host

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// crashGrace is how long a call that failed like a crash waits to see the
// process actually exit before it counts the failure as a crash.
const crashGrace = 2 * time.Second

// pluginConn is the grpc.ClientConnInterface behind [Host.Plugin]: every
// call picks the current process of the plugin, so a client stays valid
// across restarts.
type pluginConn struct{ s *supervisor }

var _ grpc.ClientConnInterface = pluginConn{}

func (c pluginConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	s := c.s
	if _, ok := ctx.Deadline(); !ok && s.h.opts.callTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.h.opts.callTimeout)
		defer cancel()
	}
	start := time.Now()
	err := s.invoke(ctx, method, args, reply, opts)
	s.h.metrics.observe(s.entry.Name, rpcName(method), err, time.Since(start))
	return err
}

// NewStream refuses: the one streaming RPC, SynchronizeStream, is the host's
// own way to carry Synchronize calls (syncstream.go); callers call
// Synchronize.
func (c pluginConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "the host's plugin client opens no streams: call Synchronize, which the host carries on SynchronizeStream itself")
}

func (s *supervisor) invoke(ctx context.Context, method string, args, reply any, opts []grpc.CallOption) error {
	retried := false
	for {
		inst, err := s.acquire(ctx)
		if err != nil {
			return err
		}
		err = inst.invoke(ctx, method, args, reply, opts)
		s.release()
		if err == nil || !s.crashed(ctx, inst, err) {
			return err
		}
		if retried || !idempotent(method) {
			s.log.Warn("plugin crashed during a call; not retrying it", "rpc", rpcName(method), "retried", retried)
			return diag.Host.Unavailable(diag.ReasonPluginRestarting,
				"plugin "+s.entry.Name+" crashed during "+rpcName(method)+"; it is restarting", time.Second)
		}
		s.log.Info("plugin crashed during a call; retrying it on the restarted plugin", "rpc", rpcName(method))
		retried = true
	}
}

// startingRetry is the RetryInfo delay of a call that gave up waiting for
// a starting or restarting plugin.
const startingRetry = time.Second

// waitCtx bounds the wait for a starting or restarting plugin: it ends a
// little before ctx's deadline (a tenth of the time left, at most a second),
// so the caller gets UNAVAILABLE with RetryInfo and a reason rather than its
// own DEADLINE_EXCEEDED.
func waitCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := min(time.Until(d)/10, time.Second)
	return context.WithDeadline(ctx, d.Add(-margin))
}

// acquire waits for a running process and counts the call in flight.
func (s *supervisor) acquire(ctx context.Context) (*instance, error) {
	// The common case, a running process, needs no wait and so no timer.
	s.mu.Lock()
	if !s.closing && s.state == hostv1.PluginState_PLUGIN_STATE_RUNNING && !s.cur.isExited() {
		s.inflight++
		inst := s.cur
		s.mu.Unlock()
		return inst, nil
	}
	s.mu.Unlock()
	wctx, cancel := waitCtx(ctx)
	defer cancel()
	for {
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			return nil, diag.Host.Unavailable(diag.ReasonHostShuttingDown, "the provisioning host is shutting down", 5*time.Second)
		}
		switch s.state {
		case hostv1.PluginState_PLUGIN_STATE_RUNNING:
			if s.cur.isExited() {
				break // the run loop is about to restart it: wait
			}
			s.inflight++
			inst := s.cur
			s.mu.Unlock()
			return inst, nil
		case hostv1.PluginState_PLUGIN_STATE_FAILED:
			msg := s.lastErr
			s.mu.Unlock()
			return nil, diag.Host.Unavailable(diag.ReasonPluginFailed, "plugin "+s.entry.Name+" failed: "+msg, 30*time.Second)
		case hostv1.PluginState_PLUGIN_STATE_STOPPED, hostv1.PluginState_PLUGIN_STATE_UNSPECIFIED:
			s.mu.Unlock()
			return nil, diag.Host.Unavailable(diag.ReasonPluginStopped, "plugin "+s.entry.Name+" is not running", 5*time.Second)
		}
		ch, st := s.changed, s.state
		s.mu.Unlock()
		select {
		case <-ch:
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			if st == hostv1.PluginState_PLUGIN_STATE_STARTING {
				return nil, diag.Host.Unavailable(diag.ReasonPluginStarting, "plugin "+s.entry.Name+" is still starting", startingRetry)
			}
			return nil, diag.Host.Unavailable(diag.ReasonPluginRestarting, "plugin "+s.entry.Name+" is restarting", startingRetry)
		}
	}
}

func (s *supervisor) release() {
	s.mu.Lock()
	s.inflight--
	if s.closing && s.inflight == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
	s.mu.Unlock()
}

// crashed tells whether err means the process under the call died, as
// opposed to an answer of the plugin. A transport failure carries no
// google.rpc details (the plugin's own UNAVAILABLE errors do), and the
// process is then seen exiting within crashGrace.
func (s *supervisor) crashed(ctx context.Context, inst *instance, err error) bool {
	st, ok := status.FromError(err)
	if !ok || len(st.Details()) > 0 {
		return false
	}
	switch st.Code() {
	case codes.Unavailable:
	case codes.Canceled, codes.Internal:
		// A connection torn down under the call; not the caller cancelling.
		if ctx.Err() != nil {
			return false
		}
	default:
		return false
	}
	t := time.NewTimer(crashGrace)
	defer t.Stop()
	select {
	case <-inst.exited:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

var idempotentCache sync.Map // full method name → bool

// idempotent reports whether the RPC named by its full method name
// ("/package.Service/Method") may be replayed on a restarted plugin: its
// proto declares idempotency_level NO_SIDE_EFFECTS or IDEMPOTENT. Unknown
// methods are not.
func idempotent(fullMethod string) bool {
	if v, ok := idempotentCache.Load(fullMethod); ok {
		return v.(bool)
	}
	v := lookupIdempotent(fullMethod)
	idempotentCache.Store(fullMethod, v)
	return v
}

func lookupIdempotent(fullMethod string) bool {
	svc, m, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok {
		return false
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return false
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return false
	}
	md := sd.Methods().ByName(protoreflect.Name(m))
	if md == nil {
		return false
	}
	mo, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok {
		return false
	}
	switch mo.GetIdempotencyLevel() {
	case descriptorpb.MethodOptions_NO_SIDE_EFFECTS, descriptorpb.MethodOptions_IDEMPOTENT:
		return true
	}
	return false
}

func rpcName(fullMethod string) string {
	if i := strings.LastIndexByte(fullMethod, '/'); i >= 0 {
		return fullMethod[i+1:]
	}
	return fullMethod
}

// errCode is the gRPC code of err, mapping context errors.
func errCode(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded
	}
	if errors.Is(err, context.Canceled) {
		return codes.Canceled
	}
	return status.Code(err)
}

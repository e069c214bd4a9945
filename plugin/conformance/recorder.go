package conformance

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// RPC names, as the recorder and the error-code table know them.
const (
	rpcGetPluginInfo         = "GetPluginInfo"
	rpcConfigure             = "Configure"
	rpcProbe                 = "Probe"
	rpcGetSyncOptions        = "GetSyncOptions"
	rpcValidateSyncOptions   = "ValidateSyncOptions"
	rpcSynchronize           = "Synchronize"
	rpcGetSyncStatus         = "GetSyncStatus"
	rpcDeleteAccount         = "DeleteAccount"
	rpcGetServiceDefinition  = "GetServiceDefinition"
	rpcValidateSubscription  = "ValidateSubscription"
	rpcProvisionSubscription = "ProvisionSubscription"
	rpcSuspendSubscription   = "SuspendSubscription"
	rpcResumeSubscription    = "ResumeSubscription"
	rpcCancelSubscription    = "CancelSubscription"
	rpcGetSubscriptionStatus = "GetSubscriptionStatus"
)

// failure is one failed call seen during the run.
type failure struct {
	rpc  string
	code codes.Code
	msg  string
}

// recorder is a ProvisioningAdapterClient that passes every call on, bounds it
// with the call timeout when the caller set no deadline, and remembers what
// the whole-run checks need: every failure's code, and any response or error
// that carries a secret.
type recorder struct {
	next    provisioningv1.ProvisioningAdapterClient
	timeout time.Duration

	mu       sync.Mutex
	secrets  []secret
	failures []failure
	leaks    []string
}

var _ provisioningv1.ProvisioningAdapterClient = (*recorder)(nil)

// secret is the value of a sensitive setting, named by its key (which is not
// secret).
type secret struct {
	key   string
	value []byte
}

func (r *recorder) setSecrets(secrets []secret) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = secrets
}

// observe records the outcome of one call. Responses and error statuses are
// scanned in their wire form: every string field of a message travels there
// verbatim, so a secret anywhere in them is found.
func (r *recorder) observe(rpc string, resp proto.Message, err error) {
	var wire []byte
	where := rpc + " response"
	if err != nil {
		st := status.Convert(err)
		wire, _ = proto.Marshal(st.Proto())
		where = rpc + " error"
	} else if resp != nil {
		wire, _ = proto.Marshal(resp)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		st := status.Convert(err)
		r.failures = append(r.failures, failure{rpc: rpc, code: st.Code(), msg: st.Message()})
	}
	for _, s := range r.secrets {
		if bytes.Contains(wire, s.value) {
			r.leaks = append(r.leaks, fmt.Sprintf("%s carries the value of sensitive setting %q", where, s.key))
		}
	}
}

func (r *recorder) snapshot() ([]failure, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]failure(nil), r.failures...), append([]string(nil), r.leaks...)
}

func (r *recorder) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.timeout)
}

func (r *recorder) GetPluginInfo(ctx context.Context, in *provisioningv1.GetPluginInfoRequest, opts ...grpc.CallOption) (*provisioningv1.GetPluginInfoResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.GetPluginInfo(ctx, in, opts...)
	r.observe(rpcGetPluginInfo, resp, err)
	return resp, err
}

func (r *recorder) Configure(ctx context.Context, in *provisioningv1.ConfigureRequest, opts ...grpc.CallOption) (*provisioningv1.ConfigureResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.Configure(ctx, in, opts...)
	r.observe(rpcConfigure, resp, err)
	return resp, err
}

func (r *recorder) Probe(ctx context.Context, in *provisioningv1.ProbeRequest, opts ...grpc.CallOption) (*provisioningv1.ProbeResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.Probe(ctx, in, opts...)
	r.observe(rpcProbe, resp, err)
	return resp, err
}

func (r *recorder) GetSyncOptions(ctx context.Context, in *provisioningv1.GetSyncOptionsRequest, opts ...grpc.CallOption) (*provisioningv1.GetSyncOptionsResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.GetSyncOptions(ctx, in, opts...)
	r.observe(rpcGetSyncOptions, resp, err)
	return resp, err
}

func (r *recorder) ValidateSyncOptions(ctx context.Context, in *provisioningv1.ValidateSyncOptionsRequest, opts ...grpc.CallOption) (*provisioningv1.ValidateSyncOptionsResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.ValidateSyncOptions(ctx, in, opts...)
	r.observe(rpcValidateSyncOptions, resp, err)
	return resp, err
}

func (r *recorder) Synchronize(ctx context.Context, in *provisioningv1.SynchronizeRequest, opts ...grpc.CallOption) (*provisioningv1.SynchronizeResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.Synchronize(ctx, in, opts...)
	r.observe(rpcSynchronize, resp, err)
	return resp, err
}

// SynchronizeStream passes the stream on; the check that uses it
// (synchronize.stream) records each call's answer itself.
func (r *recorder) SynchronizeStream(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[provisioningv1.SynchronizeStreamRequest, provisioningv1.SynchronizeStreamResponse], error) {
	return r.next.SynchronizeStream(ctx, opts...)
}

func (r *recorder) GetSyncStatus(ctx context.Context, in *provisioningv1.GetSyncStatusRequest, opts ...grpc.CallOption) (*provisioningv1.GetSyncStatusResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.GetSyncStatus(ctx, in, opts...)
	r.observe(rpcGetSyncStatus, resp, err)
	return resp, err
}

func (r *recorder) DeleteAccount(ctx context.Context, in *provisioningv1.DeleteAccountRequest, opts ...grpc.CallOption) (*provisioningv1.DeleteAccountResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.DeleteAccount(ctx, in, opts...)
	r.observe(rpcDeleteAccount, resp, err)
	return resp, err
}

func (r *recorder) GetServiceDefinition(ctx context.Context, in *provisioningv1.GetServiceDefinitionRequest, opts ...grpc.CallOption) (*provisioningv1.GetServiceDefinitionResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.GetServiceDefinition(ctx, in, opts...)
	r.observe(rpcGetServiceDefinition, resp, err)
	return resp, err
}

func (r *recorder) ValidateSubscription(ctx context.Context, in *provisioningv1.ValidateSubscriptionRequest, opts ...grpc.CallOption) (*provisioningv1.ValidateSubscriptionResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.ValidateSubscription(ctx, in, opts...)
	r.observe(rpcValidateSubscription, resp, err)
	return resp, err
}

func (r *recorder) ProvisionSubscription(ctx context.Context, in *provisioningv1.ProvisionSubscriptionRequest, opts ...grpc.CallOption) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.ProvisionSubscription(ctx, in, opts...)
	r.observe(rpcProvisionSubscription, resp, err)
	return resp, err
}

func (r *recorder) SuspendSubscription(ctx context.Context, in *provisioningv1.SuspendSubscriptionRequest, opts ...grpc.CallOption) (*provisioningv1.SuspendSubscriptionResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.SuspendSubscription(ctx, in, opts...)
	r.observe(rpcSuspendSubscription, resp, err)
	return resp, err
}

func (r *recorder) ResumeSubscription(ctx context.Context, in *provisioningv1.ResumeSubscriptionRequest, opts ...grpc.CallOption) (*provisioningv1.ResumeSubscriptionResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.ResumeSubscription(ctx, in, opts...)
	r.observe(rpcResumeSubscription, resp, err)
	return resp, err
}

func (r *recorder) CancelSubscription(ctx context.Context, in *provisioningv1.CancelSubscriptionRequest, opts ...grpc.CallOption) (*provisioningv1.CancelSubscriptionResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.CancelSubscription(ctx, in, opts...)
	r.observe(rpcCancelSubscription, resp, err)
	return resp, err
}

func (r *recorder) GetSubscriptionStatus(ctx context.Context, in *provisioningv1.GetSubscriptionStatusRequest, opts ...grpc.CallOption) (*provisioningv1.GetSubscriptionStatusResponse, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	resp, err := r.next.GetSubscriptionStatus(ctx, in, opts...)
	r.observe(rpcGetSubscriptionStatus, resp, err)
	return resp, err
}

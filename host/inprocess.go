package host

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// localConn calls an adapter linked into the host's process (see
// [WithInProcessPlugin]): the adapter's method runs on the caller's
// goroutine, with no serialization, socket or TLS. Requests and replies are
// copied, so neither side sees the other mutate a message, as over gRPC.
type localConn struct {
	impl provisioningv1.ProvisioningAdapterServer
}

var _ grpc.ClientConnInterface = localConn{}

var adapterMethods = func() map[string]grpc.MethodHandler {
	m := map[string]grpc.MethodHandler{}
	sd := provisioningv1.ProvisioningAdapter_ServiceDesc
	for _, md := range sd.Methods {
		m["/"+sd.ServiceName+"/"+md.MethodName] = md.Handler
	}
	return m
}()

const healthCheck = "/grpc.health.v1.Health/Check"

func (c localConn) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	if method == healthCheck {
		reply.(*healthpb.HealthCheckResponse).Status = healthpb.HealthCheckResponse_SERVING
		return nil
	}
	h, ok := adapterMethods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	dec := func(v any) error {
		proto.Merge(v.(proto.Message), args.(proto.Message))
		return nil
	}
	out, err := h(c.impl, ctx, dec, nil)
	if err != nil {
		// What a gRPC server would send: a status, context errors mapped.
		if _, ok := status.FromError(err); !ok {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return status.Error(codes.Unknown, err.Error())
		}
		return err
	}
	proto.Reset(reply.(proto.Message))
	proto.Merge(reply.(proto.Message), out.(proto.Message))
	return nil
}

func (localConn) NewStream(_ context.Context, _ *grpc.StreamDesc, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Errorf(codes.Unimplemented, "%s: an adapter linked into the host is called directly, without streams (Synchronize goes unary)", strings.TrimPrefix(method, "/"))
}

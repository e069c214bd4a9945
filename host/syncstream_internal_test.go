package host

import (
	"cmp"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestMoveInto: every field of an answer reaches the reply, whatever was in
// the reply before.
func TestMoveInto(t *testing.T) {
	src := &provisioningv1.SynchronizeResponse{
		Record:  &provisioningv1.SyncRecord{AccountId: "A", RemoteId: "R", Values: map[string]string{"k": "v"}, UpdatedAt: timestamppb.Now()},
		Created: true, Updated: true,
		Diagnostics: []*provisioningv1.Diagnostic{{Code: "REMOTE_DRIFT", Field: "account.name"}},
	}
	want := &provisioningv1.SynchronizeResponse{}
	want.Record = src.GetRecord()
	want.Created, want.Updated, want.Diagnostics = src.GetCreated(), src.GetUpdated(), src.GetDiagnostics()
	dst := &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{AccountId: "old"}, Created: true}
	moveInto(dst, &provisioningv1.SynchronizeResponse{})
	if diff := gocmp.Diff(&provisioningv1.SynchronizeResponse{}, dst, protocmp.Transform()); diff != "" {
		t.Errorf("an empty answer left fields of the reply (-want +got):\n%s", diff)
	}
	moveInto(dst, src)
	if diff := gocmp.Diff(want, dst, protocmp.Transform()); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
}

// streamServer serves SynchronizeStream by handle, the rest unimplemented.
type streamServer struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	handle func(provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error
}

func (s streamServer) SynchronizeStream(st provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error {
	if s.handle == nil {
		return s.UnimplementedProvisioningAdapterServer.SynchronizeStream(st)
	}
	return s.handle(st)
}

func bufConn(t *testing.T, srv provisioningv1.ProvisioningAdapterServer) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	provisioningv1.RegisterProvisioningAdapterServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestSyncStreams: what a call on the stream returns for each way a plugin
// answers or fails, against a real gRPC server.
func TestSyncStreams(t *testing.T) {
	t.Parallel()
	refusal := diag.InvalidArgument("account.id", diag.CodeInvalidAccount, "no id")
	tests := map[string]struct {
		handle   func(provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error
		timeout  time.Duration
		wantErr  error // compared as status protos; errNoStream by identity
		wantResp *provisioningv1.SynchronizeResponse
		wantOff  bool
		repeat   bool // call 20 times: the stream ends, and the next call opens another
	}{
		"a plugin without the RPC": {wantErr: errNoStream, wantOff: true},
		"an answer": {
			handle: func(st provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error {
				m, err := st.Recv()
				if err != nil {
					return err
				}
				if err := st.Send(&provisioningv1.SynchronizeStreamResponse{CallId: m.GetCallId(), Result: &provisioningv1.SynchronizeStreamResponse_Response{
					Response: &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{RemoteId: "R"}, Created: true},
				}}); err != nil {
					return err
				}
				<-st.Context().Done()
				return nil
			},
			wantResp: &provisioningv1.SynchronizeResponse{Record: &provisioningv1.SyncRecord{RemoteId: "R"}, Created: true},
		},
		"an error with details": {
			handle: func(st provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error {
				m, err := st.Recv()
				if err != nil {
					return err
				}
				if err := st.Send(&provisioningv1.SynchronizeStreamResponse{CallId: m.GetCallId(), Result: &provisioningv1.SynchronizeStreamResponse_Error{
					Error: status.Convert(refusal).Proto(),
				}}); err != nil {
					return err
				}
				<-st.Context().Done()
				return nil
			},
			wantErr: refusal,
		},
		"a stream that ends at once": {
			handle: func(provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error {
				return status.Error(codes.Unavailable, "going away")
			},
			wantErr: status.Error(codes.Unavailable, "the Synchronize stream to the plugin broke: rpc error: code = Unavailable desc = going away"),
			repeat:  true,
		},
		"a stream that breaks under the call": {
			handle: func(st provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error {
				if _, err := st.Recv(); err != nil {
					return err
				}
				return status.Error(codes.Internal, "boom")
			},
			wantErr: status.Error(codes.Unavailable, "the Synchronize stream to the plugin broke: rpc error: code = Internal desc = boom"),
			repeat:  true,
		},
		"a call past its deadline is cancelled": {
			handle: func(st provisioningv1.ProvisioningAdapter_SynchronizeStreamServer) error {
				m, err := st.Recv()
				if err != nil {
					return err
				}
				if m.GetTimeout().AsDuration() <= 0 || m.GetTimeout().AsDuration() > time.Second {
					return status.Errorf(codes.InvalidArgument, "timeout %v", m.GetTimeout().AsDuration())
				}
				c, err := st.Recv()
				if err != nil {
					return err
				}
				if !c.GetCancel() || c.GetCallId() != m.GetCallId() {
					return status.Errorf(codes.InvalidArgument, "got %v, want the cancel of call %d", c, m.GetCallId())
				}
				<-st.Context().Done()
				return nil
			},
			timeout: 100 * time.Millisecond,
			wantErr: status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error()),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn := bufConn(t, streamServer{handle: tc.handle})
			var s syncStreams
			// Repeated where the stream ends: a stream that ends at once
			// may end before or after the host registers it.
			n := 1
			if tc.repeat {
				n = 20
			}
			for range n {
				timeout := cmp.Or(tc.timeout, 5*time.Second)
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				reply := &provisioningv1.SynchronizeResponse{}
				err := s.call(ctx, conn, &provisioningv1.SynchronizeRequest{}, reply)
				cancel()
				switch {
				case tc.wantErr == errNoStream:
					if !errors.Is(err, errNoStream) {
						t.Fatalf("call: %v, want errNoStream", err)
					}
				case tc.wantErr != nil:
					if diff := gocmp.Diff(status.Convert(tc.wantErr).Proto(), status.Convert(err).Proto(), protocmp.Transform()); diff != "" {
						t.Fatalf("error (-want +got):\n%s", diff)
					}
				default:
					if err != nil {
						t.Fatal(err)
					}
					if diff := gocmp.Diff(tc.wantResp, reply, protocmp.Transform()); diff != "" {
						t.Fatalf("reply (-want +got):\n%s", diff)
					}
				}
			}
			s.mu.Lock()
			off := s.off
			s.mu.Unlock()
			if off != tc.wantOff {
				t.Errorf("stream off = %v, want %v", off, tc.wantOff)
			}
		})
	}
}

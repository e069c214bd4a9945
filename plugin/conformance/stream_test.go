package conformance_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/conformance"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// editAnswers is a server stream whose SynchronizeStream answers pass
// through edit before they are sent.
type editAnswers struct {
	grpc.ServerStream
	edit func(*provisioningv1.SynchronizeStreamResponse)
}

func (s editAnswers) SendMsg(m any) error {
	if r, ok := m.(*provisioningv1.SynchronizeStreamResponse); ok {
		s.edit(r)
	}
	return s.ServerStream.SendMsg(m)
}

// TestSynchronizeStreamCheck: synchronize.stream fails when the stream
// answers otherwise than unary Synchronize, and skips for a plugin that
// does not serve it.
func TestSynchronizeStreamCheck(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		intercept grpc.StreamServerInterceptor
		want      conformance.Status
		says      string
	}{
		"answers as unary": {want: conformance.Pass},
		"a plugin without the stream": {
			intercept: func(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
				return status.Error(codes.Unimplemented, "unknown method SynchronizeStream")
			},
			want: conformance.Skip, says: "does not serve SynchronizeStream",
		},
		"errors with another code": {
			intercept: func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				return h(srv, editAnswers{ss, func(r *provisioningv1.SynchronizeStreamResponse) {
					if e := r.GetError(); e != nil {
						e.Code = int32(codes.FailedPrecondition)
						e.Details = nil
					}
				}})
			},
			want: conformance.Fail, says: "an invalid request on the stream answered FailedPrecondition",
		},
		"another record": {
			intercept: func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				return h(srv, editAnswers{ss, func(r *provisioningv1.SynchronizeStreamResponse) {
					if rec := r.GetResponse().GetRecord(); rec != nil {
						rec.RemoteId += "-other"
					}
				}})
			},
			want: conformance.Fail, says: "another record than unary",
		},
		"an answer twice": {
			intercept: func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				return h(srv, editAnswers{ss, func(r *provisioningv1.SynchronizeStreamResponse) {
					if r.GetError() != nil {
						r.CallId = 1 // the replay's id: it now has two answers, the invalid call none
					}
				}})
			},
			want: conformance.Fail, says: "answered call 1 2 times",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, cfg := setup(t)
			var opts []grpc.ServerOption
			if tc.intercept != nil {
				opts = append(opts, grpc.StreamInterceptor(tc.intercept))
			}
			rep, err := conformance.Check(t.Context(), plugintest.InProcess(t, a, opts...), cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := statuses(rep)
			if diff := cmp.Diff(map[string]conformance.Status{"synchronize.stream": tc.want, "errors.codes": conformance.Pass},
				map[string]conformance.Status{"synchronize.stream": got["synchronize.stream"], "errors.codes": got["errors.codes"]}); diff != "" {
				var b strings.Builder
				_ = rep.WriteText(&b)
				t.Errorf("statuses (-want +got):\n%s\n%s", diff, b.String())
			}
			for _, r := range rep.Results {
				if r.Name == "synchronize.stream" && !strings.Contains(r.Message, tc.says) {
					t.Errorf("synchronize.stream says %q, want it to say %q", r.Message, tc.says)
				}
			}
		})
	}
}

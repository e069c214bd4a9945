package host

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	if diff := cmp.Diff(&provisioningv1.SynchronizeResponse{}, dst, protocmp.Transform()); diff != "" {
		t.Errorf("an empty answer left fields of the reply (-want +got):\n%s", diff)
	}
	moveInto(dst, src)
	if diff := cmp.Diff(want, dst, protocmp.Transform()); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
}

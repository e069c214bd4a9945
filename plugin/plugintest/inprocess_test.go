package plugintest_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/plugin/adaptermock"
	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestInProcessCarriesMessagesAndErrorDetails(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	srv := adaptermock.NewMockProvisioningAdapterServer(ctrl)
	want := &provisioningv1.GetSyncOptionsResponse{Fields: []*provisioningv1.Field{{Key: "role", Order: 1, Kind: provisioningv1.FieldKind_FIELD_KIND_ENUM, Value: "User"}}}
	srv.EXPECT().GetSyncOptions(gomock.Any(), gomock.Any()).Return(want, nil)
	srv.EXPECT().Synchronize(gomock.Any(), gomock.Any()).Return(nil, diag.ToError([]*provisioningv1.Diagnostic{
		diag.Error("parent_account", diag.CodeParentNotSynced, "reseller R1 is not synchronized", ""),
	}))

	c := plugintest.InProcess(t, adaptermock.NewServer(srv))
	ctx := context.Background()
	got, err := c.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: &provisioningv1.Account{Id: "A1"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("GetSyncOptions mismatch (-want +got):\n%s", diff)
	}
	_, err = c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{})
	d := diag.Parse(err)
	if d.Code != codes.FailedPrecondition || d.Reason != diag.CodeParentNotSynced || len(d.Violations) != 1 || d.Violations[0].Field != "parent_account" {
		t.Errorf("Synchronize error details lost across gRPC: %+v", d)
	}
}

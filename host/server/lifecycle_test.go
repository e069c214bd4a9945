package server_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func mustSynchronize(t *testing.T, c hostv1.HostServiceClient, a *provisioningv1.Account) *provisioningv1.SyncRecord {
	t.Helper()
	resp, err := c.Synchronize(context.Background(), &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: a}})
	if err != nil {
		t.Fatalf("Synchronize %s: %v", a.GetId(), err)
	}
	return resp.GetResponse().GetRecord()
}

// TestBatchAncestorsCheckedAgainstStore: a batch item's ancestors are the
// caller's claim, checked against the store like Synchronize's; a parent
// outside the batch must be stored, whatever ancestors the item carries.
func TestBatchAncestorsCheckedAgainstStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	c := newClient(t, st)
	r1 := mustSynchronize(t, c, acct("R1", reseller, ""))
	r2 := mustSynchronize(t, c, acct("R2", reseller, ""))
	forged := proto.CloneOf(r2)
	forged.AccountId = "R1"

	stream, err := c.SynchronizeBatch(ctx, &hostv1.SynchronizeBatchRequest{Plugin: plug, Items: []*hostv1.BatchItem{
		{Account: acct("C1", customer, "R1"), Ancestors: []*provisioningv1.Ancestor{{Account: acct("R1", reseller, ""), Record: forged}}},
		{Account: acct("C2", customer, "R1")},
		{Account: acct("C3", customer, "NOPE"), Ancestors: []*provisioningv1.Ancestor{{Account: acct("NOPE", reseller, ""), Record: r1}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		d := diag.Parse(status.ErrorProto(r.GetError()))
		got[r.GetAccountId()] = r.GetOutcome().String() + " " + d.Reason
		if r.GetAccountId() == "C2" && r.GetRecord().GetRemoteParentId() != r1.GetRemoteId() {
			t.Errorf("C2 created under %q, want R1's %q", r.GetRecord().GetRemoteParentId(), r1.GetRemoteId())
		}
	}
	want := map[string]string{
		"C1": "OUTCOME_FAILED " + diag.ReasonRecordMismatch,
		"C2": "OUTCOME_SYNCED ",
		"C3": "OUTCOME_SKIPPED " + diag.ReasonParentMissing,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batch results (-want +got):\n%s", diff)
	}
	if _, err := st.Get(ctx, plug, "C1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("C1 was stored after a RECORD_MISMATCH: %v", err)
	}
}

// TestDeleteAndReconcile runs DeleteAccount and ReconcileRecords through the
// gRPC server and a real plugin process.
func TestDeleteAndReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t, store.NewMemory())
	r1 := mustSynchronize(t, c, acct("R1", reseller, ""))
	mustSynchronize(t, c, acct("C1", customer, "R1"))
	mustSynchronize(t, c, acct("C2", customer, "R1"))
	del := func(id string, cascade bool) (*hostv1.DeleteAccountResponse, error) {
		return c.DeleteAccount(ctx, &hostv1.DeleteAccountRequest{Plugin: plug, Request: &provisioningv1.DeleteAccountRequest{
			Account: &provisioningv1.Account{Id: id}, Cascade: cascade,
		}})
	}

	if _, err := del("R1", false); diag.Parse(err).Reason != diag.CodeHasChildren || status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("delete with children: %v, want FAILED_PRECONDITION HAS_CHILDREN", err)
	}
	if _, err := del("NOPE", false); status.Code(err) != codes.NotFound {
		t.Errorf("delete of an account never synchronized: %v, want NOT_FOUND", err)
	}
	resp, err := del("C2", false)
	if err != nil || !resp.GetResponse().GetDeleted() || resp.GetResponse().GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
		t.Fatalf("delete a leaf: %v, %v", resp, err)
	}

	stream, err := c.ReconcileRecords(ctx, &hostv1.ReconcileRecordsRequest{Plugin: plug})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.GetError() != nil {
			t.Errorf("reconcile %s: %v", r.GetAccountId(), r.GetError())
		}
		rows = append(rows, r.GetAccountId()+" "+r.GetPreviousStatus().String()+" "+r.GetRecord().GetStatus().String())
	}
	wantRows := []string{
		"C1 SYNC_STATUS_SYNCED SYNC_STATUS_SYNCED",
		"C2 SYNC_STATUS_DELETED SYNC_STATUS_DELETED",
		"R1 SYNC_STATUS_SYNCED SYNC_STATUS_SYNCED",
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("reconcile (-want +got):\n%s", diff)
	}
	unknown, err := c.ReconcileRecords(ctx, &hostv1.ReconcileRecordsRequest{Plugin: "nope"})
	if err == nil {
		_, err = unknown.Recv()
	}
	if status.Code(err) != codes.NotFound {
		t.Errorf("reconcile of an unknown plugin: %v, want NOT_FOUND", err)
	}

	for i, want := range []struct {
		deleted bool
		ids     []string
	}{{true, []string{"C1"}}, {false, nil}} {
		resp, err := del("R1", true)
		if err != nil {
			t.Fatalf("cascade %d: %v", i, err)
		}
		if resp.GetResponse().GetDeleted() != want.deleted {
			t.Errorf("cascade %d: deleted = %v, want %v", i, resp.GetResponse().GetDeleted(), want.deleted)
		}
		if diff := cmp.Diff(want.ids, resp.GetDeletedAccountIds()); diff != "" {
			t.Errorf("cascade %d: deleted account ids (-want +got):\n%s", i, diff)
		}
	}
	list, err := c.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{Plugin: plug, Status: provisioningv1.SyncStatus_SYNC_STATUS_DELETED})
	if err != nil || len(list.GetRecords()) != 3 {
		t.Errorf("DELETED records: %v, %v; want all three, still listed", list.GetRecords(), err)
	}
	again, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: acct("R1", reseller, "")}})
	if err != nil || !again.GetResponse().GetCreated() || again.GetResponse().GetRecord().GetRemoteId() == r1.GetRemoteId() {
		t.Errorf("Synchronize after the delete: %v, %v; want a new remote account", again, err)
	}
}

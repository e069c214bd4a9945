package main

import (
	"context"
	"slices"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// DeleteAccount deletes the account's in-memory remote object as a real
// adapter would: HAS_CHILDREN while remote children exist unless cascade,
// then the children deepest first, their remote ids in the answer; a replay
// answers deleted=false. A later Synchronize creates the account anew.
func (a *adapter) DeleteAccount(_ context.Context, req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	if req.GetAccount().GetId() == "" || req.GetRecord() == nil {
		return nil, diag.InvalidArgument("account.id", diag.CodeRequired, "account.id and record are required")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rec := proto.CloneOf(req.GetRecord())
	rec.Status, rec.UpdatedAt = provisioningv1.SyncStatus_SYNC_STATUS_DELETED, timestamppb.Now()
	mine, ok := a.records[req.GetAccount().GetId()]
	if !ok || mine.GetRemoteId() != rec.GetRemoteId() {
		return &provisioningv1.DeleteAccountResponse{Record: rec}, nil // already gone
	}
	below := a.descendantsLocked(mine.GetRemoteId())
	if len(below) > 0 && !req.GetCascade() {
		st, _ := status.New(codes.FailedPrecondition, "the remote account has children").WithDetails(
			&errdetails.ErrorInfo{Reason: diag.CodeHasChildren, Domain: diag.Domain},
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{Type: diag.CodeHasChildren, Subject: below[0].GetRemoteId()}}})
		return nil, st.Err()
	}
	resp := &provisioningv1.DeleteAccountResponse{Record: rec, Deleted: true}
	for _, c := range slices.Backward(below) {
		resp.DeletedRemoteIds = append(resp.DeletedRemoteIds, c.GetRemoteId())
		delete(a.records, c.GetAccountId())
	}
	delete(a.records, req.GetAccount().GetId())
	return resp, nil
}

// descendantsLocked returns the records below remoteID, breadth first.
func (a *adapter) descendantsLocked(remoteID string) []*provisioningv1.SyncRecord {
	var out []*provisioningv1.SyncRecord
	queue := []string{remoteID}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, r := range a.records {
			if r.GetRemoteParentId() == p {
				out = append(out, r)
				queue = append(queue, r.GetRemoteId())
			}
		}
	}
	return out
}

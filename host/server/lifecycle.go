package server

import (
	"context"

	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/host"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// DeleteAccount deletes an account's remote objects through the plugin and
// stores its DELETED record (and, with cascade, its descendants').
func (s *server) DeleteAccount(ctx context.Context, req *hostv1.DeleteAccountRequest) (*hostv1.DeleteAccountResponse, error) {
	resp, ids, err := s.recs.DeleteAccount(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.DeleteAccountResponse{Response: resp, DeletedAccountIds: ids}, nil
}

// ReconcileRecords refreshes every stored record of a plugin and streams one
// result per record.
func (s *server) ReconcileRecords(req *hostv1.ReconcileRecordsRequest, stream hostv1.HostService_ReconcileRecordsServer) error {
	return s.recs.Reconcile(stream.Context(), req.GetPlugin(), func(rc host.Reconciled) error {
		out := &hostv1.ReconcileRecordsResponse{
			AccountId: rc.AccountID, PreviousStatus: rc.PreviousStatus, Record: rc.Record, Diagnostics: rc.Diagnostics,
		}
		if rc.Err != nil {
			out.Error = status.Convert(rc.Err).Proto()
		}
		return stream.Send(out)
	})
}

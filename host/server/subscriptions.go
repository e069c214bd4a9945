package server

import (
	"context"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// The orders RPCs: each unwraps the adapter request, hands it to
// [host.Records] (which fills it from the store, calls the plugin and stores
// the record) and wraps the answer.

// GetServiceDefinition calls the plugin's GetServiceDefinition.
func (s *server) GetServiceDefinition(ctx context.Context, req *hostv1.GetServiceDefinitionRequest) (*hostv1.GetServiceDefinitionResponse, error) {
	resp, err := s.recs.GetServiceDefinition(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.GetServiceDefinitionResponse{Response: resp}, nil
}

// ValidateSubscription calls the plugin's ValidateSubscription, filled from
// the store.
func (s *server) ValidateSubscription(ctx context.Context, req *hostv1.ValidateSubscriptionRequest) (*hostv1.ValidateSubscriptionResponse, error) {
	resp, err := s.recs.ValidateSubscription(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.ValidateSubscriptionResponse{Response: resp}, nil
}

// ProvisionSubscription calls the plugin's ProvisionSubscription, filled
// from the store, and stores the record durably before answering.
func (s *server) ProvisionSubscription(ctx context.Context, req *hostv1.ProvisionSubscriptionRequest) (*hostv1.ProvisionSubscriptionResponse, error) {
	resp, err := s.recs.ProvisionSubscription(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.ProvisionSubscriptionResponse{Response: resp}, nil
}

// SuspendSubscription calls the plugin's SuspendSubscription on the stored
// record and stores the result.
func (s *server) SuspendSubscription(ctx context.Context, req *hostv1.SuspendSubscriptionRequest) (*hostv1.SuspendSubscriptionResponse, error) {
	resp, err := s.recs.SuspendSubscription(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.SuspendSubscriptionResponse{Response: resp}, nil
}

// ResumeSubscription calls the plugin's ResumeSubscription on the stored
// record and stores the result.
func (s *server) ResumeSubscription(ctx context.Context, req *hostv1.ResumeSubscriptionRequest) (*hostv1.ResumeSubscriptionResponse, error) {
	resp, err := s.recs.ResumeSubscription(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.ResumeSubscriptionResponse{Response: resp}, nil
}

// CancelSubscription calls the plugin's CancelSubscription on the stored
// record and stores the result.
func (s *server) CancelSubscription(ctx context.Context, req *hostv1.CancelSubscriptionRequest) (*hostv1.CancelSubscriptionResponse, error) {
	resp, err := s.recs.CancelSubscription(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.CancelSubscriptionResponse{Response: resp}, nil
}

// GetSubscriptionStatus refreshes a subscription's stored record through the
// plugin and stores the result.
func (s *server) GetSubscriptionStatus(ctx context.Context, req *hostv1.GetSubscriptionStatusRequest) (*hostv1.GetSubscriptionStatusResponse, error) {
	resp, err := s.recs.GetSubscriptionStatus(ctx, req.GetPlugin(), orNew(req.GetRequest()))
	if err != nil {
		return nil, err
	}
	return &hostv1.GetSubscriptionStatusResponse{Response: resp}, nil
}

// GetSubscriptionRecord reads one stored subscription record and its desired
// state.
func (s *server) GetSubscriptionRecord(ctx context.Context, req *hostv1.GetSubscriptionRecordRequest) (*hostv1.GetSubscriptionRecordResponse, error) {
	switch {
	case req.GetPlugin() == "":
		return nil, diag.InvalidArgument("plugin", diag.CodeRequired, "plugin is required")
	case req.GetSubscriptionId() == "":
		return nil, diag.InvalidArgument("subscription_id", diag.CodeRequired, "subscription_id is required")
	}
	e, err := s.recs.GetSubscription(ctx, req.GetPlugin(), req.GetSubscriptionId())
	if err != nil {
		return nil, err
	}
	return &hostv1.GetSubscriptionRecordResponse{Record: e.Record, Subscription: e.Subscription}, nil
}

// ListSubscriptionRecords pages through stored subscription records.
func (s *server) ListSubscriptionRecords(ctx context.Context, req *hostv1.ListSubscriptionRecordsRequest) (*hostv1.ListSubscriptionRecordsResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, diag.InvalidArgument("page_size", diag.CodeInvalidValue, "page_size must not be negative")
	}
	p, err := s.recs.ListSubscriptions(ctx, store.SubscriptionQuery{
		Plugin: req.GetPlugin(), AccountID: req.GetAccountId(), Status: req.GetStatus(),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	out := &hostv1.ListSubscriptionRecordsResponse{NextPageToken: p.NextPageToken, Records: make([]*provisioningv1.SubscriptionRecord, 0, len(p.Entries))}
	for _, e := range p.Entries {
		out.Records = append(out.Records, e.Record)
	}
	return out, nil
}

package adaptermock

import (
	"context"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Server makes a [MockProvisioningAdapterServer] servable: generated server
// interfaces require embedding UnimplementedProvisioningAdapterServer, which a
// generated mock cannot do, so Server embeds it and forwards every RPC to the
// mock.
type Server struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	Mock *MockProvisioningAdapterServer
}

// NewServer returns a servable adapter that forwards to m.
func NewServer(m *MockProvisioningAdapterServer) *Server { return &Server{Mock: m} }

// GetPluginInfo forwards to the mock.
func (s *Server) GetPluginInfo(ctx context.Context, r *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return s.Mock.GetPluginInfo(ctx, r)
}

// Configure forwards to the mock.
func (s *Server) Configure(ctx context.Context, r *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	return s.Mock.Configure(ctx, r)
}

// Probe forwards to the mock.
func (s *Server) Probe(ctx context.Context, r *provisioningv1.ProbeRequest) (*provisioningv1.ProbeResponse, error) {
	return s.Mock.Probe(ctx, r)
}

// GetSyncOptions forwards to the mock.
func (s *Server) GetSyncOptions(ctx context.Context, r *provisioningv1.GetSyncOptionsRequest) (*provisioningv1.GetSyncOptionsResponse, error) {
	return s.Mock.GetSyncOptions(ctx, r)
}

// ValidateSyncOptions forwards to the mock.
func (s *Server) ValidateSyncOptions(ctx context.Context, r *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
	return s.Mock.ValidateSyncOptions(ctx, r)
}

// Synchronize forwards to the mock.
func (s *Server) Synchronize(ctx context.Context, r *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	return s.Mock.Synchronize(ctx, r)
}

// GetSyncStatus forwards to the mock.
func (s *Server) GetSyncStatus(ctx context.Context, r *provisioningv1.GetSyncStatusRequest) (*provisioningv1.GetSyncStatusResponse, error) {
	return s.Mock.GetSyncStatus(ctx, r)
}

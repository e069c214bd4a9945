package plugin

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ProtocolVersion is the version of the provisioning plugin protocol a host and
// a plugin must share. It changes only when provisioning.v1 changes
// incompatibly (a new package, provisioning.v2).
const ProtocolVersion = 1

// pluginKey is the name under which the adapter is dispensed in the go-plugin
// plugin set.
const pluginKey = "adapter"

// handshake is the go-plugin handshake shared by hosts and plugins (see
// env.go for the cookie).
var handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   magicCookieKey,
	MagicCookieValue: magicCookieValue,
}

// grpcPlugin is the go-plugin glue for the ProvisioningAdapter service.
// Plugins set impl (through [Serve]); hosts leave it nil and get a
// [provisioningv1.ProvisioningAdapterClient] from Dispense.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin

	// impl is the adapter served by the plugin process. Nil on the host side.
	impl provisioningv1.ProvisioningAdapterServer
}

var _ goplugin.GRPCPlugin = (*grpcPlugin)(nil)

// GRPCServer registers the adapter on the plugin's gRPC server.
func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	provisioningv1.RegisterProvisioningAdapterServer(s, p.impl)
	return nil
}

// GRPCClient returns the typed client the host dispenses.
func (p *grpcPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return provisioningv1.NewProvisioningAdapterClient(c), nil
}

// pluginSet is the go-plugin plugin set of a provisioning plugin. impl is nil
// on the host side.
func pluginSet(impl provisioningv1.ProvisioningAdapterServer) goplugin.PluginSet {
	return goplugin.PluginSet{pluginKey: &grpcPlugin{impl: impl}}
}

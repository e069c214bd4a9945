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

// PluginKey is the name under which the adapter is dispensed in the go-plugin
// plugin set.
const PluginKey = "adapter"

// Handshake is the go-plugin handshake shared by hosts and plugins. The magic
// cookie is not a secret: it only tells a binary that it was started by a
// provisioning host and not by a person.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "PROVISIONING_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "7c1b0f6e2a4d4f3e9b8a5d6c3e2f1a0b-provisioning.v1",
}

// GRPCPlugin is the go-plugin glue for the ProvisioningAdapter service. Plugins
// set Impl (through [Serve]); hosts leave it nil and get a
// [provisioningv1.ProvisioningAdapterClient] from Dispense.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin

	// Impl is the adapter served by the plugin process. Nil on the host side.
	Impl provisioningv1.ProvisioningAdapterServer
}

var _ goplugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the adapter on the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	provisioningv1.RegisterProvisioningAdapterServer(s, p.Impl)
	return nil
}

// GRPCClient returns the typed client the host dispenses.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return provisioningv1.NewProvisioningAdapterClient(c), nil
}

// PluginSet is the go-plugin plugin set of a provisioning plugin. impl is nil
// on the host side.
func PluginSet(impl provisioningv1.ProvisioningAdapterServer) goplugin.PluginSet {
	return goplugin.PluginSet{PluginKey: &GRPCPlugin{Impl: impl}}
}

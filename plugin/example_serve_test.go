package plugin_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/cloudbss/provisioning/plugin"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// adapter is a vendor adapter: it implements the ProvisioningAdapter service
// (the methods it does not override answer UNIMPLEMENTED).
type adapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	log *slog.Logger
}

func (a *adapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{Name: "acme", DisplayName: "Acme Cloud", Version: "1.0.0"}, nil
}

// A plugin's main (cmd/provisioning-plugin-NAME): build the adapter with the
// SDK's logger, which writes to stderr (stdout carries the go-plugin
// handshake), and hand it to Serve, which never returns. A host then
// launches the binary; started by hand it explains itself, and with --debug
// it serves for provctl to attach.
//
// This example is compiled, not run: Serve exits the process.
func ExampleServe() {
	log := plugin.Logger()
	plugin.Serve(&adapter{log: log},
		plugin.WithLogger(log),
		plugin.WithGracePeriod(30*time.Second), // the adapter's slowest call
	)
}

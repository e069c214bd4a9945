// Command provisioning-plugin-panda is the Panda Antivirus provisioning
// plugin. A provisioning host starts it and talks to it through go-plugin
// (gRPC with automatic mutual TLS); run by hand it explains itself, and with
// --debug it serves on a local address for provctl to attach to.
//
// It takes no flags or settings of its own: the host hands it the Panda URL,
// credentials and root account through the Configure RPC. It logs JSON to
// stderr, which the host re-logs; PROVISIONING_PLUGIN_LOG_LEVEL sets the
// level. When the host gives it a data folder (PROVISIONING_PLUGIN_DATA_DIR)
// it keeps its journal there. Stdout belongs to the go-plugin handshake.
package main

import (
	"os"

	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/panda"
)

func main() {
	logger := plugin.Logger()
	// The host's data folder keeps the adapter's journal across restarts.
	plugin.Serve(panda.New(panda.WithLogger(logger), panda.WithDataDir(os.Getenv(plugin.DataDirEnv))), plugin.WithLogger(logger))
}

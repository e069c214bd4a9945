// Command provisioning-plugin-ledger is the example provisioning plugin: it
// records BSS accounts in a local SQLite file (see package ledger and
// docs/writing-a-plugin.md).
//
// A provisioning host starts it; started by hand it explains how to run it
// in debug mode:
//
//	provisioning-plugin-ledger --debug
package main

import (
	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/examples/ledger"
)

func main() {
	// Create the logger before Serve: it writes JSON lines to stderr, which
	// the host re-logs under the plugin's name. Never print to stdout: it
	// carries the go-plugin handshake.
	log := plugin.Logger()
	// Serve never returns: it serves until the host stops the plugin (or
	// the host dies, or Ctrl-C in debug mode), letting in-flight calls end.
	plugin.Serve(ledger.New(log), plugin.WithLogger(log))
}

// Package plugin is the SDK for provisioning plugins: the go-plugin handshake
// shared by hosts and plugins, [Serve] for a plugin's main, the debug
// (reattach) mode, and [Launcher] for hosts that launch plugin binaries (the
// environment of the protocol is listed in env.go).
//
// A plugin is a separate executable that serves the
// provisioning.v1.ProvisioningAdapter gRPC service through
// hashicorp/go-plugin, with automatic mutual TLS between host and plugin:
//
//	func main() {
//		plugin.Serve(myadapter.New())
//	}
//
// Serve adds what go-plugin leaves to its users: SIGTERM and SIGINT stop the
// plugin gracefully (in-flight RPCs finish), the plugin exits on its own when
// its host process dies, a plugin started by hand explains itself instead of
// hanging, and `--debug` serves on a local address for a developer to attach
// provctl or a debugger. Serve also serves SynchronizeStream, the stream on
// which a host sends many Synchronize calls, from the adapter's own
// Synchronize (see [Served] and [WithoutSynchronizeStream]): an adapter
// implements Synchronize only.
//
// Stdout belongs to the go-plugin handshake: a plugin must never print to it.
// Log with the [*slog.Logger] from [Logger]; it writes to stderr in the JSON
// shape go-plugin parses, so the host re-logs each line with its level and the
// plugin's name.
//
// This package must not know about any vendor: vendor adapters live in their
// own packages (plugin/panda) and depend on this one, never the reverse.
package plugin

// Package host runs provisioning plugins for a provisioning host: it
// launches each plugin of a [catalog.Config] as a subprocess through
// go-plugin (gRPC with automatic mutual TLS), checks and configures it,
// health-checks it, restarts it after a crash, and hands out typed clients
// ([Host.Plugin]) with per-call deadlines, a retry across a restart for
// idempotent RPCs, and Prometheus metrics. With a store ([WithStore]) it also
// settles PENDING sync records in the background.
//
// The gRPC face of the daemon (provisioning.host.v1.HostService) lives in
// host/server; the sync-record store in host/store.
//
// The host is generic: it must not know about any particular plugin or
// remote system, and it never logs a plugin setting.
package host

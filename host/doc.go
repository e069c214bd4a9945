// Package host runs provisioning plugins for a provisioning host: it
// launches each plugin of a [catalog.Config] as a subprocess through
// go-plugin (gRPC with automatic mutual TLS), checks and configures it,
// health-checks it, restarts it after a crash, and hands out typed clients
// ([Host.Plugin]) with per-call deadlines, a retry across a restart for
// idempotent RPCs, and Prometheus metrics.
//
// [Records] is the one owner of sync records and subscription records
// (orders): every call that asks a plugin about an account or an order and
// keeps its answer goes through it, and it alone writes the store. With a
// store ([WithStore]) the host also settles PENDING records in the
// background through it.
//
// The gRPC face of the daemon (provisioning.host.v1.HostService) lives in
// host/server, a translation onto [Host] and [Records]; the sync-record store
// in host/store. docs/architecture.md shows how the layers fit.
//
// The host is generic: it must not know about any particular plugin or
// remote system, and it never logs a plugin setting.
package host

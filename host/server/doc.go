// Package server implements provisioning.host.v1.HostService, the gRPC face
// of a provisioning host, over a [host.Host] and a [store.Store]. It
// translates each RPC onto [host.Records], which resolves the plugin, fills
// missing ancestors and records from the store and stores every record a
// plugin answers before answering; it runs SynchronizeBatch, sending each
// account through the same path.
//
// It does not listen, authenticate or log requests' setting values: the
// daemon (cmd/provisioning-host) wraps it with transport, credentials,
// health and reflection, and tools such as provctl may serve it on an
// in-memory connection.
package server

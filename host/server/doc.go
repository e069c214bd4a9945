// Package server implements provisioning.host.v1.HostService, the gRPC face
// of a provisioning host, over a [host.Host] and a [store.Store]: it resolves
// the plugin of each call, fills missing ancestors from the store, stores
// every record a plugin answers before answering, and runs
// SynchronizeBatch.
//
// It does not listen, authenticate or log requests' setting values: the
// daemon (cmd/provisioning-host) wraps it with transport, credentials,
// health and reflection, and tools such as provctl may serve it on an
// in-memory connection.
package server

// Package store keeps the host's records: the last
// [provisioningv1.SyncRecord] and account snapshot per (plugin, account id),
// and the last [provisioningv1.SubscriptionRecord] and desired
// [provisioningv1.Subscription] per (plugin, subscription id). The host is
// the system of record for sync and order state; a record is written durably
// before the host answers the call that produced it.
//
// [OpenSQLite] is the default, an embedded SQLite database (pure Go, no cgo,
// WAL journal, synchronous commits) in the host's data directory, one table
// per kind of record: one daemon. [OpenPostgres] keeps the same tables in
// PostgreSQL, so several daemons can share them; it also provides the
// cross-daemon locks (advisory locks) that keep those daemons from calling a
// plugin twice about one account at once. [NewMemory] is for tests and
// one-shot tools. Every implementation passes one shared test suite.
//
// A store stores and returns records unread: it must not interpret a
// record's private bytes or values, or call plugins.
package store

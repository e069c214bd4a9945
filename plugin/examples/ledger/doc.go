// Package ledger is the example provisioning plugin of the plugin author's
// guide (docs/writing-a-plugin.md): an adapter that "provisions" BSS accounts
// by recording them in a local SQLite file. It is small on purpose, and it is
// honest: it is built only on the SDK (plugin, plugin/diag), it passes the
// conformance suite (plugin/conformance), and the generic host loads it like
// any other plugin.
//
// What it shows, file by file:
//
//   - ledger.go: the adapter, one method per RPC, each in the same shape:
//     check the plugin is configured, check the request, do the work,
//     answer a record or a gRPC status with details. Synchronize converges:
//     a changed name, email or value updates the entry (updated=true).
//   - form.go: the sync options form (a plan, a number of seats, a note)
//     and the validation rules, written once and used by GetSyncOptions,
//     ValidateSyncOptions and Synchronize so the three always agree.
//   - store.go: the "remote system", SQLite tables keyed by the BSS
//     account id and subscription id, which is what makes Synchronize and
//     ProvisionSubscription idempotent.
//   - delete.go: DeleteAccount (CAPABILITY_DELETE): children first with
//     cascade, HAS_CHILDREN or HAS_SUBSCRIPTIONS otherwise, idempotent.
//   - catalogue.go: the catalogue (BASIC, PRO and the ARCHIVE add-on) and
//     the order rules, shared by ValidateSubscription and
//     ProvisionSubscription.
//   - subscriptions.go: the order RPCs (CAPABILITY_SUBSCRIPTIONS):
//     quantities set, never added; suspend, resume, cancel (terminal).
//
// The binary is cmd/provisioning-plugin-ledger. The package must stay free of
// anything a third-party plugin could not use: no internal packages, no host
// code.
package ledger

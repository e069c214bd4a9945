// Package panda is the Panda Antivirus provisioning adapter: it serves
// provisioning.v1.ProvisioningAdapter for the plugin binary
// provisioning-plugin-panda and turns a BSS account into a Panda account and
// its operator, following the role and parent-account rules of docs/architecture.md:
//
//   - a direct customer or a reseller is created under the BSS owner's own
//     Panda partner account (the root_account_id setting); an end customer
//     under its reseller's Panda account, which must have been synchronized
//     as a Panda Reseller first;
//   - a Panda Reseller is a service-provider account (type 1) with an OWNER
//     operator, a Panda User a subscriber account (type 2) with an
//     ADMINISTRATOR operator; the operator's username is unique across
//     Panda, and its corporate email receives the activation instructions.
//
// [Adapter] is built with [New] and configured at run time through the
// Configure RPC. GetSyncOptions, ValidateSyncOptions and the first step of
// Synchronize share one set of rules, so a form, a "check only" pass and a
// failed Synchronize always report the same problems with the same codes and
// fields.
//
// Synchronize is idempotent, keyed by the BSS account id: calls for one
// account are serialized inside the process, and before writing anything it
// looks in Panda for the work an earlier attempt (a lost response, a crash, a
// concurrent caller) may have done, so one BSS account never becomes two
// Panda accounts.
//
// What this package must not do: keep state that outlives the process (the
// caller owns every SyncRecord; private holds what a resume needs); log or
// return a password, API key or access token; write to stdout (go-plugin's
// handshake channel); call the BSS back; or talk HTTP itself: every remote
// call goes through a [Remote], by default this module's Panda HTTP client,
// which owns retries, pacing and token handling.
package panda

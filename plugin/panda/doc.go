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
// looks in Panda for the work an earlier attempt (a lost response, a
// concurrent caller) may have done, so one BSS account never becomes two
// Panda accounts. It adopts remote work only when it is provably this
// account's: on the Panda account its record names, or one this process
// created for the same account id (an in-memory journal). Panda keeps no
// BSS id, so an account that merely has the same parent, type, company
// name and email is another BSS account's, never adopted: two BSS accounts
// with identical data are two Panda accounts. The price is one case the
// adapter cannot prove: work finished just before a plugin crash, whose
// record never reached the caller, is not adopted after the restart (a
// retry meets USERNAME_TAKEN, or with auto_fill takes the next username).
//
// The account lifecycle: Synchronize converges (a changed company name,
// contact or email of a synchronized account is pushed with PATCH, and the
// answer says updated); what Panda cannot do is refused (PARENT_CHANGED,
// TYPE_CHANGE_UNSUPPORTED with how WatchGuard's console converts a
// subscriber, SELF_PARENT). GetSyncStatus, given the account, adopts an
// account converted in the console and reports REMOTE_DRIFT per field.
// DeleteAccount deletes the Panda account and its operator, with its
// descendants on cascade.
//
// What this package must not do: keep state that outlives the process (the
// caller owns every SyncRecord; private holds what a resume needs, and the
// type the account was synchronized as); log or
// return a password, API key or access token; write to stdout (go-plugin's
// handshake channel); call the BSS back; or talk HTTP itself: every remote
// call goes through a [Remote], by default this module's Panda HTTP client,
// which owns retries, pacing and token handling.
package panda

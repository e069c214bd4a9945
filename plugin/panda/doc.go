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
// concurrent caller, a plugin process that died) may have done, so one BSS
// account never becomes two Panda accounts. It adopts remote work only when
// it is provably this account's: on the Panda account its record names, or
// one the adapter's journal says it created for the same account id. Panda
// keeps no BSS id, so an account that merely has the same parent, type,
// company name and email is another BSS account's, never adopted: two BSS
// accounts with identical data are two Panda accounts.
//
// The journal. Before each CreateAccount the adapter notes an intent (BSS
// account id, Panda parent, type, company name, email, username, the
// look-alikes that exist already, the time) and after it the outcome (the
// Panda account id). With a data folder ([WithDataDir]; the plugin binary
// passes the host's PROVISIONING_PLUGIN_DATA_DIR, and every host of this
// module sets it) both go to an append-only file of JSON lines there,
// panda-journal.jsonl (mode 0600). The intent is synced before the create
// is sent, since a crash between Panda's commit and a later write would
// lose exactly the evidence needed; the outcome is written without a sync
// of its own: it outlives the death of the process as written, and after a
// power loss that took it the durable intent, or with a renamed operator
// the host's durable attempt marker, still gets the account adopted by the
// retry. After a restart the file is loaded (a torn last line is dropped)
// and rewritten compactly; it is compacted again whenever it grows to four
// times its live entries, through a synced temporary file renamed over it.
// A retry of an account whose intent has no outcome adopts the one
// look-alike that is new since the intent, not another account's, and has
// no operator or only the one asked for; none means the create did not
// happen, several are not provable (UNAVAILABLE, nothing adopted). The
// journal keeps at most 10,000 accounts, oldest forgotten first: an entry
// matters only until the caller stored the record it was answered with,
// which a host does right after.
// Its cost is one synced write per new account, and the syncs are group
// commits: a line is written under the journal's lock, which is never held
// through a sync, and the calls whose intents were written while one sync
// ran share the next (BenchmarkJournalIntend: 32 concurrent callers, about
// one sync per 16 intents).
//
// Without a data folder (in-process use, tests) the journal lives in memory
// and work finished just before a plugin crash, whose record never reached
// the caller, is not adopted after the restart (a retry meets
// USERNAME_TAKEN, or with auto_fill takes the next username). The journal
// is per plugin process: several daemons on one database each run their
// own plugin and journal, so a create lost with a crash of daemon A's plugin
// and retried through daemon B is not adopted by B (B's retry meets
// USERNAME_TAKEN until A's plugin, restarted, settles it on a retry routed
// to A); the hosts' per-account lock keeps two daemons from writing for one
// account at once.
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
// What this package must not do: keep state that outlives the process
// beyond its journal (the caller owns every SyncRecord; private holds what
// a resume needs, and the type the account was synchronized as); log or
// return a password, API key or access token; write to stdout (go-plugin's
// handshake channel); call the BSS back; or talk HTTP itself: every remote
// call goes through a [Remote], by default this module's Panda HTTP client,
// which owns retries, pacing and token handling.
package panda

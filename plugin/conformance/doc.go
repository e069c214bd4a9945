// Package conformance is a conformance suite for provisioning plugins, in the
// spirit of csi-sanity: it drives any
// [provisioningv1.ProvisioningAdapterClient] through the contract of
// provisioning.v1 and reports, check by check, where the plugin departs from
// it.
//
// There are two entry points over one implementation of the checks:
//
//   - [Run] runs every check as a subtest of a Go test, for a plugin's own
//     test suite (usually against a plugin launched with plugintest.Launch);
//   - [Check] returns a [Report] (pass, fail or skip with a message per
//     check), for tools such as `provctl conformance`.
//
// The suite needs what only the plugin's author knows: the settings for
// Configure and [Fixtures] (a direct customer, a reseller and an end customer
// of that reseller) the plugin can synchronize in its test environment. It
// synchronizes real accounts there, under ids made unique per run, so it can
// run again and again against the same remote system; [Config.Cleanup] (or
// the fixtures' cleanup_url) removes them afterwards.
//
// Checks of optional parts of the contract run only for plugins that claim
// them and skip, saying why, for the others: the account lifecycle
// (lifecycle.*: a convergent Synchronize, SELF_PARENT, DeleteAccount) needs
// CAPABILITY_DELETE, orders (subscriptions.*) need CAPABILITY_SUBSCRIPTIONS.
// [Fixtures.Update] and [Fixtures.Subscription] say what those checks change
// and order; both have defaults derived from the direct customer and the
// plugin's catalogue.
//
// What the host keeps is not the adapter's business, so one check needs
// the host in the loop: with [Config.Host] (a provisioning.host.v1
// HostService client), host.failed-records checks that a refused
// Synchronize becomes a FAILED record with its error_reason.
//
// What the suite can observe is the plugin's gRPC surface plus, when the
// fixtures give a way to read it ([Config.StateFunc]), the remote state. It
// cannot see inside the plugin: a deadline honoured on the client side only
// looks the same as one honoured by the plugin, so the deadline and
// cancellation checks assert what follows from honouring them (a prompt,
// correctly coded answer; a retry that converges on one record; a remote state
// that no longer moves once the call is over).
//
// The suite must not depend on any vendor: it knows only provisioning.v1 and
// the plugin SDK.
package conformance

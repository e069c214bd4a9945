// Package pandasim is a faithful simulator of the Panda remote system: the
// WatchGuard Cloud Accounts, Operator Management and Allocations APIs,
// where Panda's products live today. [Server] is an http.Handler; command pandasim serves it.
// Plugin authors and BSS teams test against it; it is also what the panda
// client's tests run against over loopback.
//
// # API
//
//	POST   /oauth/token                                   HTTP Basic, grant_type=client_credentials&scope=api-access
//	POST   /rest/platform/accounts/v1/accounts/{parentId}  create a child account → 201
//	GET    /rest/platform/accounts/v1/accounts/{id}
//	GET    /rest/platform/accounts/v1/accounts/{id}/children?name=&type=&offset=&limit=
//	PATCH  /rest/platform/accounts/v1/accounts/{id}        {name, firstName, lastName, email} → 204
//	DELETE /rest/platform/accounts/v1/accounts/{id}?force=true|false → 200 {childIds}
//	POST   /rest/platform/operator-mgmt/v1/operators      → 202 {transaction_id, status: PENDING}
//	GET    /rest/platform/operator-mgmt/v1/TransactionStatus?transaction_id=
//	GET    /rest/platform/operator-mgmt/v1/operators/{username}
//	GET    /rest/platform/operator-mgmt/v1/operators?accountId=
//	POST   /rest/platform/allocation/v2/{accountId}/assets  {productName, allocationType, quantity} → 200 allocation
//	PUT    /rest/platform/allocation/v2/{accountId}/assets  same body; sets the quantity → 200 allocation
//	DELETE /rest/platform/allocation/v2/{accountId}/assets  {productName, allocationType} → 204
//	GET    /rest/platform/allocation/v2/{accountId}/assets/summary/software  → {accountId, allocations, inventory}
//
// Every /rest call needs "Authorization: Bearer TOKEN" (else 401) and the
// "WatchGuard-API-Key" header (else 403). Errors are
// {"error": {"code": "...", "message": "..."}} with codes such as
// [CodeTierLimit]; 400 invalid, 401/403 credentials, 404, 409 conflict, 429
// with Retry-After in whole seconds, 5xx. Under a rate limit
// ([Faults.RateLimit]) every /rest answer states it in RateLimit-Policy,
// -Limit, -Remaining and -Reset headers ([RateLimitPolicyHeader]).
//
// # Rules
//
//   - Accounts: ids are "ACC-" and seven random (seeded) digits. Name and an
//     email with an @ are required. A subscriber (type 2) cannot have
//     children: 409 PARENT_IS_SUBSCRIBER. At most [DefaultMaxTiers] tiers
//     below the root: 409 TIER_LIMIT. Unknown parent: 404. Names need not
//     be unique under a parent, as in the real service, so a client that
//     retries a lost create makes a duplicate. PATCH needs all four of
//     name, firstName, lastName, email (400 otherwise; first and last name
//     may be empty), checked like a create. Deleting an account that
//     still has children is 409 HAS_CHILDREN unless force=true, which
//     deletes the descendants too; deleting the root is 409 ROOT_ACCOUNT;
//     an account that holds allocations, or with force any descendant
//     that does, is 409 HAS_ALLOCATIONS and nothing is deleted. Deleting
//     an account deletes its operators.
//   - Allocations: products EPP, EDR, EPDR, ADVANCED_EPDR (base) and
//     PATCH_MANAGEMENT, FULL_ENCRYPTION, ADVANCED_REPORTING, DATA_CONTROL,
//     SIEM_FEEDER (add-on modules); an unknown product is 400
//     UNKNOWN_PRODUCT, an unknown type or a quantity below 1 is 400. The
//     root's inventory is configured ([WithRootInventory]); any other
//     account's inventory is what is allocated to it, and what it hands
//     to its children comes out of it, so a reseller's allocation is the
//     stock of its end customers. Every broken rule is a 409: one
//     allocation per account and product, and one type (ALLOCATION_EXISTS,
//     ALLOCATION_TYPE_CONFLICT; change the quantity with PUT), except that
//     a paid allocation replaces a running trial of the product, ending
//     the account's module trials with it; a subscriber holds one base
//     product, a service provider several (ONE_BASE_PRODUCT); an add-on
//     needs base products of its own type (NO_BASE_PRODUCT,
//     ALLOCATION_TYPE_CONFLICT) and never exceeds their total quantity
//     (ADDON_EXCEEDS_BASE); a trial is at most 250 endpoints
//     (TRIAL_LIMIT), lasts 30 days of the simulator's clock, then its
//     licences return to the parent and no trial of that product is
//     available to the account for 90 days (TRIAL_UNAVAILABLE); an
//     increase must fit the parent's unallocated inventory
//     (INSUFFICIENT_INVENTORY); a decrease or delete below what the
//     account's children hold is refused (ALLOCATED_TO_CHILDREN); the root
//     is never allocated to (ROOT_ACCOUNT).
//   - Operators: bad username syntax is 400 INVALID_USERNAME, an unknown
//     account 404, a role that does not fit the account type 400
//     INVALID_ROLE, all at once. Usernames are unique across the system,
//     case-insensitively; uniqueness is decided atomically when the POST
//     arrives, but a duplicate is reported by the transaction (FAILED,
//     errorCode USERNAME_TAKEN), as the real API does. A transaction stays
//     PENDING for the configured delay (default 0: until the next request of
//     any kind). On SUCCESS an activation email lands in the outbox.
//   - Children are listed in creation order; the name filter is exact.
//
// # Simulator endpoints (no token needed)
//
//	GET  /_sim/state          the whole state as JSON ([Snapshot])
//	GET  /_sim/stats          request counters ([Stats])
//	GET  /_sim/faults         faults in force ([Faults])
//	PUT  /_sim/faults         replace them; {} clears
//	GET|POST /_sim/activate?token=… or ?username=…   click the activation link
//	POST /_sim/reset          back to the root alone; stats zeroed; RNG re-seeded
//	POST /_sim/revoke-tokens  forget every access token
//	POST /_sim/clock          {"advance":"720h"}: move the simulator's time forward → {now}
//	POST /_sim/accounts/{id}/convert   the console's "Convert Account": subscriber → service provider
//	PATCH /_sim/accounts/{id}          {name?, firstName?, lastName?, email?}: edit behind the owner's back
//	DELETE /_sim/accounts/{id}         delete with descendants, operators and allocations, whatever they hold
//
// The conversion is one way (409 NOT_A_SUBSCRIBER for a service provider)
// and refused on the deepest tier (409 TIER_LIMIT: such a provider could
// never have children); the account keeps its parent, operators and
// allocations, and its operators' roles become ADMINISTRATOR→OWNER,
// ANALYST→HELPDESK, OBSERVER→AUDITOR (a transaction still pending then
// settles with the remapped role).
//
// # What is documented and what is inferred
//
// Taken from WatchGuard's public help centre and API pages: the path
// prefixes and headers; the tier limit; the one-way, console-only
// subscriber-to-provider conversion with its role mapping; one
// endpoint-security product per subscriber and several per service
// provider; module quantity ≤ product quantity; product and modules both
// term or both subscription; trials of 250 endpoints for 30 days, none of
// that product for 90 days after one ends, a new subscription cancelling
// a trial of the same product. Taken from third-party clients of the API
// (not official): PATCH with all four of name, firstName, lastName, email
// answering 204; DELETE with force, which also deletes the children,
// answering {childIds}; the Allocations v2 POST and DELETE bodies and the
// summary/{hardware|software} path.
//
// Inferred here, where the public sources are silent: that the quantity
// update is a PUT on the same path with the same body; POST answering 200
// with the allocation; the summary's shape; that {accountId} is the target
// managed account; that a trial is its own allocationType "trial"; that
// inventory is per product whatever the type; that an add-on counts
// against all base products of its type on the account; that module
// trials end with their product's trial; that a delete is refused while
// the account holds allocations (the console deletes everything; the
// simulator asks for the licences back first, as the adapter must keep
// its subscription records true); every error code and the 409 status for
// a broken rule. Not modelled: unlimited subscriptions, "linked to
// licence", term expiry dates, serial numbers, trial extensions and
// upgrades, hardware (its summary is always empty), and the summary's
// allocationStatus/offset/limit parameters (ignored: an account's
// allocations are few).
//
// Faults apply to /rest routes only, never to /_sim or /oauth/token; see
// [Faults]. Decisions come from a seeded RNG, so a sequential client
// replays a run exactly.
//
// # A session with curl
//
// The default seed makes the ids below stable on a fresh simulator.
//
//	pandasim --listen 127.0.0.1:8085 &
//	TOKEN=$(curl -s -u demo:demo-password -d 'grant_type=client_credentials&scope=api-access' http://127.0.0.1:8085/oauth/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//	H=(-H "Authorization: Bearer $TOKEN" -H 'WatchGuard-API-Key: demo-api-key')
//	curl -s "${H[@]}" -d '{"type":2,"name":"Acme","email":"it@acme.example"}' http://127.0.0.1:8085/rest/platform/accounts/v1/accounts/ACC-0000001
//	# {"id":"ACC-7693732","parentId":"ACC-0000001","type":2,"name":"Acme",...}
//	curl -s "${H[@]}" -d '{"username":"acme.admin","accountId":"ACC-7693732","email":"it@acme.example","role":"ADMINISTRATOR"}' http://127.0.0.1:8085/rest/platform/operator-mgmt/v1/operators
//	# {"transaction_id":"TX-9dcec3ad077dec6c","status":"PENDING",...}
//	curl -s "${H[@]}" 'http://127.0.0.1:8085/rest/platform/operator-mgmt/v1/TransactionStatus?transaction_id=TX-9dcec3ad077dec6c'
//	# {"transaction_id":"TX-9dcec3ad077dec6c","status":"SUCCESS",...}
//	curl -s -X POST 'http://127.0.0.1:8085/_sim/activate?username=acme.admin'
//	curl -s http://127.0.0.1:8085/_sim/state
//
// Trials use the simulator's clock: [WithClock] in Go tests, POST
// /_sim/clock from another process. Tokens expire on the same clock.
//
// What this package must not do: log a credential, token, API key or
// activation token; apply faults to its own /_sim endpoints; need anything
// but the standard library.
package pandasim

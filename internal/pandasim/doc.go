// Package pandasim is a faithful simulator of the Panda remote system: the
// WatchGuard Cloud accounts and operator-management APIs that DESIGN.md
// section 4 models. [Server] is an http.Handler; command pandasim serves it.
// Plugin authors and BSS teams test against it; it is also what the panda
// client's tests run against over loopback.
//
// # API
//
//	POST   /oauth/token                                   HTTP Basic, grant_type=client_credentials&scope=api-access
//	POST   /rest/platform/accounts/v1/accounts/{parentId}  create a child account → 201
//	GET    /rest/platform/accounts/v1/accounts/{id}
//	GET    /rest/platform/accounts/v1/accounts/{id}/children?name=&type=&offset=&limit=
//	DELETE /rest/platform/accounts/v1/accounts/{id}        → 204
//	POST   /rest/platform/operator-mgmt/v1/operators      → 202 {transaction_id, status: PENDING}
//	GET    /rest/platform/operator-mgmt/v1/TransactionStatus?transaction_id=
//	GET    /rest/platform/operator-mgmt/v1/operators/{username}
//	GET    /rest/platform/operator-mgmt/v1/operators?accountId=
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
//     retries a lost create makes a duplicate. Deleting an account that
//     still has children is 409 HAS_CHILDREN; deleting the root is 409
//     ROOT_ACCOUNT; deleting an account deletes its operators.
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
// What this package must not do: log a credential, token, API key or
// activation token; apply faults to its own /_sim endpoints; need anything
// but the standard library.
package pandasim

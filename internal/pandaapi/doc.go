// Package pandaapi is the client for the Panda remote system: the Accounts,
// Operator Management and Allocations APIs modelled on WatchGuard Cloud,
// where Panda's products live today.
//
// [*Client] implements [API] over HTTP; the Panda adapter consumes its own,
// smaller interface (plugin/panda's Remote) through an adapter. The client
// obtains OAuth2 client-credentials tokens, caches and refreshes them, sends
// the WatchGuard-API-Key header on every call, retries what is safe to retry
// and paces itself after a 429.
//
// Every failure from the remote side is an [*Error] whose Kind is one of the
// sentinel errors ([ErrNotFound], [ErrConflict], [ErrInvalid],
// [ErrUnauthorized], [ErrRateLimited], [ErrUnavailable]) so the adapter can
// map it to a gRPC code with errors.Is; a refusal also carries the server's
// reason in [Error.Code] (e.g. [CodeInsufficientInventory]) so the adapter
// can name the rule.
//
// Retries: reads, the account PATCH (it sets all fields), the allocation
// PUT (it sets the quantity) and the DELETEs are idempotent and resent
// after a 5xx or a lost answer; a DELETE whose resend finds the object gone
// succeeded. The creates (accounts, operators, allocations) are not.
//
// What this package must not do: it never retries a create (POST) once the
// request may have reached the server, because the write may have been
// committed; it reports a retryable [ErrUnavailable] instead and leaves the
// find-prior-work decision to the adapter. It never puts a credential,
// token or API key into an error message or a log record.
package pandaapi

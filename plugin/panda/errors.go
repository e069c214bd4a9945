package panda

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/plugin/diag"
)

// settingsSubject is the PreconditionFailure subject of problems the
// operator fixes with Configure.
const settingsSubject = "settings"

// remoteError maps a failure of the Panda client, during the step named by
// doing (e.g. "reading operator alice"), to the contract's gRPC codes. The
// client's errors never hold a credential, so their text may be passed on.
func remoteError(ctx context.Context, doing string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return contextError(ctx, doing)
	}
	var pe *RemoteError
	switch {
	case errors.Is(err, ErrUnauthorized):
		return diag.FailedPrecondition(diag.CodeRemoteUnauthorized, settingsSubject,
			"Panda refused the configured credentials while "+doing+": check access_id, password and api_key, then call Configure")
	case errors.Is(err, ErrRateLimited):
		return diag.ResourceExhausted(diag.CodeRateLimited,
			fmt.Sprintf("Panda's rate limit outlasted the retries while %s: retry later (%v)", doing, err), retryDelay(err))
	case errors.Is(err, ErrUnavailable):
		return diag.Unavailable(diag.CodeRemoteUnavailable,
			fmt.Sprintf("Panda is unavailable while %s: retry with backoff; it is safe (%v)", doing, err), retryDelay(err))
	case errors.As(err, &pe):
		// A NotFound, Conflict or Invalid the step did not expect: the
		// remote state or the adapter is not what it should be.
		return diag.Errorf(codes.Internal, "unexpected answer from Panda while %s: %v", doing, err)
	default:
		return diag.Errorf(codes.Internal, "%s: %v", doing, err)
	}
}

// retryDelay is the server's Retry-After hint, if the error carries one.
func retryDelay(err error) time.Duration {
	var pe *RemoteError
	if errors.As(err, &pe) {
		return pe.RetryAfter
	}
	return 0
}

// contextError is the error when the caller's context ended the call.
func contextError(ctx context.Context, doing string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return diag.Errorf(codes.Canceled, "canceled while %s", doing)
	}
	return diag.Errorf(codes.DeadlineExceeded, "the caller's deadline passed while %s; retrying is safe: Synchronize is idempotent", doing)
}

// mayHaveCommitted reports whether a failed create may nevertheless have
// been applied by Panda (the answer was lost).
func mayHaveCommitted(err error) bool {
	var pe *RemoteError
	return errors.As(err, &pe) && pe.MayHaveCommitted
}

// remoteCode is the machine-readable code of Panda's error body, if any.
func remoteCode(err error) string {
	var pe *RemoteError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
)

// Exit codes. Scripts can tell what to do next from the class alone.
const (
	exitOK          = 0 // success
	exitError       = 1 // anything else: a local file, a bug, an unknown error
	exitUsage       = 2 // bad flags, arguments or input files
	exitInvalid     = 3 // INVALID_ARGUMENT, OUT_OF_RANGE: fix the input, don't retry
	exitState       = 4 // FAILED_PRECONDITION, ALREADY_EXISTS, NOT_FOUND, ABORTED: fix the state, then retry
	exitUnavailable = 5 // UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, CANCELED: retry later
	exitAuth        = 6 // UNAUTHENTICATED, PERMISSION_DENIED: check the token or certificates
	exitCheck       = 7 // the call worked but found problems: validate errors, probe not ready, batch items failed or skipped, reconcile drift
)

// exitCodesHelp documents the codes above in `provctl --help`.
const exitCodesHelp = `Exit codes:
  0  success
  1  other error (local files, unknown errors)
  2  usage: bad flags, arguments or input files
  3  INVALID_ARGUMENT: fix the input, do not retry
  4  FAILED_PRECONDITION, ALREADY_EXISTS, NOT_FOUND: fix the state, then retry
  5  UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED: retry later (calls are idempotent)
  6  UNAUTHENTICATED, PERMISSION_DENIED: check --token-file or the certificates
  7  the call worked but found problems: validate found errors, probe not ready,
     sync-batch had failed or skipped accounts, reconcile found drift`

// usageError is a mistake in how provctl was called; it exits exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// checkError means the call succeeded and its output (already printed) shows
// problems; it exits exitCheck.
type checkError struct{ msg string }

func (e checkError) Error() string { return e.msg }

// exitCode classifies err.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ce checkError
	if errors.As(err, &ce) {
		return exitCheck
	}
	if !isStatusError(err) {
		return exitError
	}
	switch diag.Parse(err).Code {
	case codes.InvalidArgument, codes.OutOfRange:
		return exitInvalid
	case codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound, codes.Aborted:
		return exitState
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Canceled:
		return exitUnavailable
	case codes.Unauthenticated, codes.PermissionDenied:
		return exitAuth
	}
	return exitError
}

// isStatusError reports whether err carries a gRPC status (or is a context
// error, which diag.Parse maps to one).
func isStatusError(err error) bool {
	if _, ok := status.FromError(err); ok {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// codeName is the canonical upper-snake name of a gRPC code, as the contract
// and grpcurl spell it.
func codeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return c.String()
}

var codeNames = map[codes.Code]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// hints say what the caller does next, from the contract's error tables.
var hints = map[codes.Code]string{
	codes.InvalidArgument:    "fix the input; retrying will not help",
	codes.FailedPrecondition: "fix the state (e.g. synchronize the parent first), then retry",
	codes.AlreadyExists:      "choose another value for the field named above",
	codes.NotFound:           "check the name or id",
	codes.Unavailable:        "retry with backoff: the call is idempotent",
	codes.ResourceExhausted:  "retry later",
	codes.DeadlineExceeded:   "retry, perhaps with a longer --timeout: the call is idempotent",
	codes.Unauthenticated:    "pass the daemon's token with --token-file, or a client certificate",
	codes.PermissionDenied:   "check the credentials",
}

// printError writes err for a person: the gRPC code, the message, the reason,
// every field violation, the retry delay and what to do next. Nothing here
// reads a secret: tokens and settings never enter an error.
func printError(w io.Writer, err error) {
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "provctl: %v\nRun 'provctl --help' for usage.\n", ue.err)
		return
	}
	var ce checkError
	if errors.As(err, &ce) {
		fmt.Fprintf(w, "provctl: %s\n", ce.msg)
		return
	}
	if !isStatusError(err) {
		fmt.Fprintf(w, "provctl: %v\n", err)
		return
	}
	fmt.Fprint(w, formatStatus(diag.Parse(err)))
}

// formatStatus renders a parsed gRPC error, one fact per line.
func formatStatus(d diag.Details) string {
	var b strings.Builder
	fmt.Fprintf(&b, "provctl: %s: %s\n", codeName(d.Code), oneLine(d.Message))
	if d.Reason != "" {
		fmt.Fprintf(&b, "  reason: %s\n", d.Reason)
	}
	vs := dedupeViolations(d.Violations)
	if len(vs) > 0 {
		b.WriteString("  field violations:\n")
		for _, v := range vs {
			field := v.Field
			if field == "" {
				field = "(request)"
			}
			fmt.Fprintf(&b, "    %s: %s", field, oneLine(v.Description))
			if v.Reason != "" {
				fmt.Fprintf(&b, " [%s]", v.Reason)
			}
			b.WriteByte('\n')
		}
	}
	if d.RetryAfter > 0 {
		fmt.Fprintf(&b, "  retry after: %s\n", d.RetryAfter)
	}
	if h, ok := hints[d.Code]; ok {
		fmt.Fprintf(&b, "  hint: %s\n", h)
	}
	return b.String()
}

// dedupeViolations drops repeats: a state problem travels both as a
// BadRequest and a PreconditionFailure violation.
func dedupeViolations(vs []diag.Violation) []diag.Violation {
	seen := make(map[diag.Violation]bool, len(vs))
	out := vs[:0:0]
	for _, v := range vs {
		if seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

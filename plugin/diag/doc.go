// Package diag is the protocol-level error vocabulary that plugins and the
// host share. It lists every ErrorInfo reason once, per domain: the
// provisioning.v1 reasons any adapter may answer (the Code* constants) and
// the provisioning.host.v1 reasons only the host answers (the Reason*
// constants, built with [Host]).
//
// It builds the two ways a provisioning plugin reports problems, so they
// always agree: [provisioningv1.Diagnostic]s for a form (GetSyncOptions,
// ValidateSyncOptions) and gRPC status errors with google.rpc details for a
// failed call (Synchronize), with the same codes and field keys.
//
// It also reads such errors back ([Parse]) for callers that print them, such
// as provctl.
//
// The mapping from diagnostic code to gRPC code follows the contract's error
// table: input problems are INVALID_ARGUMENT (BadRequest field violations),
// state problems FAILED_PRECONDITION (PreconditionFailure + ErrorInfo), a
// unique remote value held by someone else ALREADY_EXISTS.
package diag

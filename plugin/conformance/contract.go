package conformance

import (
	"regexp"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// allowedCodes are the error codes provisioning.v1 documents for each RPC
// (the tables in adapter.proto), beyond [anyRPCCodes].
var allowedCodes = map[string][]codes.Code{
	rpcGetPluginInfo:         nil,
	rpcConfigure:             {codes.InvalidArgument},
	rpcProbe:                 {codes.FailedPrecondition},
	rpcGetSyncOptions:        {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
	rpcValidateSyncOptions:   {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
	rpcSynchronize:           {codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.ResourceExhausted},
	rpcGetSyncStatus:         {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
	rpcDeleteAccount:         {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
	rpcGetServiceDefinition:  {codes.FailedPrecondition},
	rpcValidateSubscription:  {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
	rpcProvisionSubscription: {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
	rpcSuspendSubscription:   {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
	rpcResumeSubscription:    {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
	rpcCancelSubscription:    {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
	rpcGetSubscriptionStatus: {codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted},
}

// anyRPCCodes may answer any call: the caller's deadline or cancellation, and
// a plugin that is shutting down (UNAVAILABLE, in the contract's general
// table). INTERNAL and UNKNOWN are never acceptable in a conformance run: the
// contract calls INTERNAL a bug, and UNKNOWN is what a plugin answers when it
// returns a plain Go error instead of a status.
var anyRPCCodes = []codes.Code{codes.DeadlineExceeded, codes.Canceled, codes.Unavailable}

// gatedRPCs maps the capabilities that switch an RPC on to that RPC. A plugin
// that does not claim one answers UNIMPLEMENTED for its RPC.
var gatedRPCs = map[provisioningv1.Capability]string{
	provisioningv1.Capability_CAPABILITY_PROBE:        rpcProbe,
	provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS: rpcGetSyncOptions,
	provisioningv1.Capability_CAPABILITY_VALIDATE:     rpcValidateSyncOptions,
	provisioningv1.Capability_CAPABILITY_SYNCHRONIZE:  rpcSynchronize,
	provisioningv1.Capability_CAPABILITY_SYNC_STATUS:  rpcGetSyncStatus,
	provisioningv1.Capability_CAPABILITY_DELETE:       rpcDeleteAccount,
	// The catalogue stands for all the order RPCs: it is the one with no
	// side effects and no input to refuse.
	provisioningv1.Capability_CAPABILITY_SUBSCRIPTIONS: rpcGetServiceDefinition,
}

// codeAllowed reports whether rpc may fail with c, given the RPCs the plugin
// does not claim (unclaimed).
func codeAllowed(rpc string, c codes.Code, unclaimed map[string]bool) bool {
	if slices.Contains(anyRPCCodes, c) || slices.Contains(allowedCodes[rpc], c) {
		return true
	}
	return c == codes.Unimplemented && unclaimed[rpc]
}

var (
	// dnsLabel is RFC 1123's label, lower case only: plugin names become
	// binary names, metric labels and config keys.
	dnsLabel = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// semver is the regular expression semver.org gives for SemVer 2.0.0.
	semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
		`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	// upperSnake is the shape of Diagnostic.code and ErrorInfo.reason.
	upperSnake = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
)

// accountPath reports whether p (the part after "account.") names a field of
// provisioning.v1.Account, nested messages included ("contact.first_name").
func accountPath(p string) bool {
	md := (&provisioningv1.Account{}).ProtoReflect().Descriptor()
	parts := strings.Split(p, ".")
	for i, part := range parts {
		fd := md.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		if fd.Kind() != protoreflect.MessageKind {
			return false
		}
		md = fd.Message()
	}
	return false
}

// errDetails is what the checks read from a failed call's status.
type errDetails struct {
	code         codes.Code
	message      string
	reason       string   // ErrorInfo.reason
	badRequest   []string // BadRequest field violation fields
	precondition bool     // a PreconditionFailure with at least one violation
}

func readError(err error) errDetails {
	st := status.Convert(err)
	d := errDetails{code: st.Code(), message: st.Message()}
	for _, det := range st.Details() {
		switch v := det.(type) {
		case *errdetails.ErrorInfo:
			d.reason = v.GetReason()
		case *errdetails.BadRequest:
			for _, fv := range v.GetFieldViolations() {
				d.badRequest = append(d.badRequest, fv.GetField())
			}
		case *errdetails.PreconditionFailure:
			d.precondition = d.precondition || len(v.GetViolations()) > 0
		}
	}
	return d
}

package diag_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestToError(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		diags []*provisioningv1.Diagnostic
		want  diag.Details
	}{
		"no diagnostics": {
			want: diag.Details{Code: codes.OK},
		},
		"warnings only": {
			diags: []*provisioningv1.Diagnostic{diag.Warning("account.corporate_email", diag.CodeInvalidEmail, "no email", "")},
			want:  diag.Details{Code: codes.OK},
		},
		"input problem": {
			diags: []*provisioningv1.Diagnostic{diag.Error("username", diag.CodeInvalidValue, "too short", "at least 5 characters")},
			want: diag.Details{
				Code: codes.InvalidArgument, Message: "username: too short", Reason: diag.CodeInvalidValue,
				Violations: []diag.Violation{{Field: "username", Reason: diag.CodeInvalidValue, Description: "too short: at least 5 characters"}},
			},
		},
		"state problem": {
			diags: []*provisioningv1.Diagnostic{diag.Error("parent_account", diag.CodeParentNotSynced, "reseller R1 is not synchronized", "")},
			want: diag.Details{
				Code: codes.FailedPrecondition, Message: "parent_account: reseller R1 is not synchronized", Reason: diag.CodeParentNotSynced,
				Violations: []diag.Violation{
					{Field: "parent_account", Reason: diag.CodeParentNotSynced, Description: "reseller R1 is not synchronized"},
				},
			},
		},
		"input wins over state and conflict; every error listed": {
			diags: []*provisioningv1.Diagnostic{
				diag.Error("username", diag.CodeUsernameTaken, "taken", ""),
				diag.Error("parent_account", diag.CodeParentNotSynced, "not synced", ""),
				diag.Warning("", "SOMETHING", "ignored", ""),
				diag.Error("", diag.CodeInvalidAccount, "no id", ""),
			},
			want: diag.Details{
				Code: codes.InvalidArgument, Message: "username: taken; parent_account: not synced; account: no id", Reason: diag.CodeInvalidAccount,
				Violations: []diag.Violation{
					{Field: "username", Reason: diag.CodeUsernameTaken, Description: "taken"},
					{Field: "parent_account", Reason: diag.CodeParentNotSynced, Description: "not synced"},
					{Field: "account", Reason: diag.CodeInvalidAccount, Description: "no id"},
				},
			},
		},
		"conflict": {
			diags: []*provisioningv1.Diagnostic{diag.Error("username", diag.CodeUsernameTaken, "taken", "")},
			want: diag.Details{
				Code: codes.AlreadyExists, Message: "username: taken", Reason: diag.CodeUsernameTaken,
				Violations: []diag.Violation{{Field: "username", Reason: diag.CodeUsernameTaken, Description: "taken"}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := diag.Parse(diag.ToError(tc.diags))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(ToError(...)) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConstructors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err  error
		want diag.Details
	}{
		"not configured": {
			err: diag.NotConfigured(),
			want: diag.Details{Code: codes.FailedPrecondition, Message: "plugin is not configured: call Configure first", Reason: diag.CodeNotConfigured,
				Violations: []diag.Violation{{Field: "plugin", Reason: diag.CodeNotConfigured, Description: "plugin is not configured: call Configure first"}}},
		},
		"already exists": {
			err: diag.AlreadyExists("username", diag.CodeUsernameTaken, "username acme is taken"),
			want: diag.Details{Code: codes.AlreadyExists, Message: "username acme is taken", Reason: diag.CodeUsernameTaken,
				Violations: []diag.Violation{{Field: "username", Reason: diag.CodeUsernameTaken, Description: "username acme is taken"}}},
		},
		"unavailable with retry": {
			err:  diag.Unavailable(diag.CodeRemoteUnavailable, "remote down", 3*time.Second),
			want: diag.Details{Code: codes.Unavailable, Message: "remote down", Reason: diag.CodeRemoteUnavailable, RetryAfter: 3 * time.Second},
		},
		"rate limited gets a default delay": {
			err:  diag.ResourceExhausted(diag.CodeRateLimited, "slow down", 0),
			want: diag.Details{Code: codes.ResourceExhausted, Message: "slow down", Reason: diag.CodeRateLimited, RetryAfter: time.Second},
		},
		"plain": {
			err:  diag.Errorf(codes.Internal, "bug %d", 7),
			want: diag.Details{Code: codes.Internal, Message: "bug 7"},
		},
		"context deadline": {
			err:  fmt.Errorf("call: %w", context.DeadlineExceeded),
			want: diag.Details{Code: codes.DeadlineExceeded, Message: "call: context deadline exceeded"},
		},
		"not a status": {
			err:  errors.New("boom"),
			want: diag.Details{Code: codes.Unknown, Message: "boom"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, diag.Parse(tc.err)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGRPCCode(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]codes.Code{
		diag.CodeParentNotSynced:   codes.FailedPrecondition,
		diag.CodeParentNotReseller: codes.FailedPrecondition,
		diag.CodeTierLimit:         codes.FailedPrecondition,
		diag.CodeUsernameTaken:     codes.AlreadyExists,
		diag.CodeInvalidEmail:      codes.InvalidArgument,
		"VENDOR_SPECIFIC":          codes.InvalidArgument,
	} {
		if got := diag.GRPCCode(code); got != want {
			t.Errorf("GRPCCode(%s) = %v, want %v", code, got, want)
		}
	}
}

func ExampleToError() {
	err := diag.ToError([]*provisioningv1.Diagnostic{
		diag.Error("parent_account", diag.CodeParentNotSynced, "reseller R-1 is not synchronized with Panda", "synchronize the reseller first"),
	})
	d := diag.Parse(err)
	fmt.Println(d.Code, d.Reason)
	for _, v := range d.Violations {
		fmt.Printf("%s: %s\n", v.Field, v.Description)
	}
	// Output:
	// FailedPrecondition PARENT_NOT_SYNCED
	// parent_account: reseller R-1 is not synchronized with Panda: synchronize the reseller first
}

// TestDomains checks that an error carries the domain of its reason: the
// package-level builders provisioning.v1, diag.Host provisioning.host.v1,
// with the same details otherwise.
func TestDomains(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err        error
		wantDomain string
		want       diag.Details
	}{
		"protocol unavailable": {
			err: diag.Unavailable(diag.CodeRemoteUnavailable, "down", 2*time.Second), wantDomain: diag.Domain,
			want: diag.Details{Code: codes.Unavailable, Message: "down", Reason: diag.CodeRemoteUnavailable, RetryAfter: 2 * time.Second},
		},
		"host unavailable": {
			err: diag.Host.Unavailable(diag.ReasonStoreUnavailable, "store down", 0), wantDomain: diag.HostDomain,
			want: diag.Details{Code: codes.Unavailable, Message: "store down", Reason: diag.ReasonStoreUnavailable, RetryAfter: time.Second},
		},
		"host invalid argument": {
			err: diag.Host.InvalidArgument("account.id", diag.ReasonDuplicateAccount, "twice"), wantDomain: diag.HostDomain,
			want: diag.Details{Code: codes.InvalidArgument, Message: "account.id: twice", Reason: diag.ReasonDuplicateAccount,
				Violations: []diag.Violation{{Field: "account.id", Reason: diag.ReasonDuplicateAccount, Description: "twice"}}},
		},
		"host failed precondition": {
			err: diag.Host.FailedPrecondition(diag.ReasonParentMissing, "R1", "no parent"), wantDomain: diag.HostDomain,
			want: diag.Details{Code: codes.FailedPrecondition, Message: "no parent", Reason: diag.ReasonParentMissing,
				Violations: []diag.Violation{{Field: "R1", Reason: diag.ReasonParentMissing, Description: "no parent"}}},
		},
		"protocol failed precondition": {
			err: diag.FailedPrecondition(diag.CodeRootAccountMissing, "settings", "no root"), wantDomain: diag.Domain,
			want: diag.Details{Code: codes.FailedPrecondition, Message: "no root", Reason: diag.CodeRootAccountMissing,
				Violations: []diag.Violation{{Field: "settings", Reason: diag.CodeRootAccountMissing, Description: "no root"}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, diag.Parse(tc.err)); diff != "" {
				t.Errorf("details (-want +got):\n%s", diff)
			}
			var domain string
			for _, d := range status.Convert(tc.err).Details() {
				if ei, ok := d.(*errdetails.ErrorInfo); ok {
					domain = ei.GetDomain()
				}
			}
			if domain != tc.wantDomain {
				t.Errorf("ErrorInfo domain = %q, want %q", domain, tc.wantDomain)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestPrintError(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err  error
		want string
	}{
		"parent not synced": {
			err: diag.ToError([]*provisioningv1.Diagnostic{
				diag.Error("parent_account", diag.CodeParentNotSynced, "the reseller R-1 is not synchronized", "Synchronize it first."),
			}),
			want: "provctl: FAILED_PRECONDITION: parent_account: the reseller R-1 is not synchronized\n" +
				"  reason: PARENT_NOT_SYNCED\n" +
				"  field violations:\n" +
				"    parent_account: the reseller R-1 is not synchronized: Synchronize it first. [PARENT_NOT_SYNCED]\n" +
				"  hint: fix the state (e.g. synchronize the parent first), then retry\n",
		},
		"two bad fields": {
			err: diag.ToError([]*provisioningv1.Diagnostic{
				diag.Error("account.corporate_email", diag.CodeInvalidEmail, "not an address", ""),
				diag.Error("", diag.CodeInvalidAccount, "no id", ""),
			}),
			want: "provctl: INVALID_ARGUMENT: account.corporate_email: not an address; account: no id\n" +
				"  reason: INVALID_EMAIL\n" +
				"  field violations:\n" +
				"    account.corporate_email: not an address [INVALID_EMAIL]\n" +
				"    account: no id [INVALID_ACCOUNT]\n" +
				"  hint: fix the input; retrying will not help\n",
		},
		"username taken": {
			err: diag.AlreadyExists("username", diag.CodeUsernameTaken, "username acme-owner is taken"),
			want: "provctl: ALREADY_EXISTS: username acme-owner is taken\n" +
				"  reason: USERNAME_TAKEN\n" +
				"  field violations:\n" +
				"    username: username acme-owner is taken [USERNAME_TAKEN]\n" +
				"  hint: choose another value for the field named above\n",
		},
		"retry": {
			err: diag.Unavailable(diag.CodeRemoteUnavailable, "Panda is down", 2*time.Second),
			want: "provctl: UNAVAILABLE: Panda is down\n" +
				"  reason: REMOTE_UNAVAILABLE\n" +
				"  retry after: 2s\n" +
				"  hint: retry with backoff: the call is idempotent\n",
		},
		"message too large": {
			err: status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5242931 vs. 4194304)"),
			want: "provctl: RESOURCE_EXHAUSTED: grpc: received message larger than max (5242931 vs. 4194304)\n" +
				"  hint: the message is larger than the limit: retrying will not help; send less per call (fewer items, smaller pages)\n",
		},
		"plain status": {
			err:  status.Error(codes.Internal, "boom\nat line 2"),
			want: "provctl: INTERNAL: boom at line 2\n",
		},
		"deadline": {
			err: fmt.Errorf("call: %w", context.DeadlineExceeded),
			want: "provctl: DEADLINE_EXCEEDED: call: context deadline exceeded\n" +
				"  hint: retry, perhaps with a longer --timeout: the call is idempotent\n",
		},
		"local error": {
			err:  errors.New("read accounts.jsonl: is a directory"),
			want: "provctl: read accounts.jsonl: is a directory\n",
		},
		"usage": {
			err:  usagef("-o %q: want table or json", "yaml"),
			want: "provctl: -o \"yaml\": want table or json\nRun 'provctl --help' for usage.\n",
		},
		"check": {
			err:  checkError{"validation found 2 error(s)"},
			want: "provctl: validation found 2 error(s)\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			printError(&b, tc.err)
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("printError (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err  error
		want int
	}{
		"nil":                 {nil, exitOK},
		"usage":               {usagef("x"), exitUsage},
		"wrapped usage":       {fmt.Errorf("ctx: %w", usagef("x")), exitUsage},
		"check":               {checkError{"x"}, exitCheck},
		"invalid argument":    {status.Error(codes.InvalidArgument, "x"), exitInvalid},
		"failed precondition": {status.Error(codes.FailedPrecondition, "x"), exitState},
		"already exists":      {status.Error(codes.AlreadyExists, "x"), exitState},
		"not found":           {status.Error(codes.NotFound, "x"), exitState},
		"unavailable":         {status.Error(codes.Unavailable, "x"), exitUnavailable},
		"resource exhausted":  {status.Error(codes.ResourceExhausted, "x"), exitUnavailable},
		"message too large":   {status.Error(codes.ResourceExhausted, "grpc: trying to send message larger than max (9 vs. 4)"), exitInvalid},
		"deadline":            {context.DeadlineExceeded, exitUnavailable},
		"unauthenticated":     {status.Error(codes.Unauthenticated, "x"), exitAuth},
		"internal":            {status.Error(codes.Internal, "x"), exitError},
		"plain":               {errors.New("x"), exitError},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := exitCode(tc.err); got != tc.want {
				t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

// Every gRPC code has its canonical name.
func TestCodeNames(t *testing.T) {
	t.Parallel()
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if _, ok := codeNames[c]; !ok {
			t.Errorf("no name for %v", c)
		}
	}
}

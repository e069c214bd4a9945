package servicemanager_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/host/servicemanager"
	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// The error table of docs/interworks.md: each gRPC code's HTTP status,
// envelope Code, Retry-After and message.
func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err        error
		status     int
		code       int
		retryAfter string
		message    string // substring
		notMessage string
	}{
		"invalid argument names the interworks property": {
			err:    diag.InvalidArgument("account.corporate_email", diag.CodeInvalidEmail, "account.corporate_email: not an address"),
			status: 200, code: -3, message: "Email: not an address",
		},
		"an add-on's field is the Addons[] item's property": {
			err:    diag.InvalidArgument("subscription.addons[1].quantity", diag.CodeInvalidValue, "subscription.addons[1].quantity: 30 is more than the base's 25; subscription.addons[0].product_id: unknown"),
			status: 200, code: -3, message: "Addons[1].Quantity: 30 is more than the base's 25; Addons[0].ProductID: unknown",
		},
		"failed precondition": {
			err:    diag.FailedPrecondition(diag.CodeParentNotSynced, "parent_account", "reseller R-1 is not synchronized"),
			status: 200, code: -9, message: "reseller R-1 is not synchronized",
		},
		"already exists": {
			err:    diag.AlreadyExists("username", diag.CodeUsernameTaken, "username taken"),
			status: 200, code: -6, message: "username taken",
		},
		"not found":                  {err: status.Error(codes.NotFound, "gone"), status: 200, code: -5, message: "gone"},
		"unavailable":                {err: diag.Unavailable(diag.CodeRemoteUnavailable, "down", 2500*time.Millisecond), status: 503, code: -14, retryAfter: "3", message: "down"},
		"rate limited, no RetryInfo": {err: status.Error(codes.ResourceExhausted, "slow down"), status: 503, code: -8, retryAfter: "5"},
		"deadline":                   {err: status.Error(codes.DeadlineExceeded, "deadline"), status: 503, code: -4, retryAfter: "5", message: "retry it"},
		"aborted":                    {err: status.Error(codes.Aborted, "conflict"), status: 503, code: -10, retryAfter: "5"},
		"unimplemented":              {err: status.Error(codes.Unimplemented, "no"), status: 501, code: -12, message: "Accounts/Synchronize is not supported"},
		"internal hides the cause": {
			err:    status.Error(codes.Internal, "panic: nil map at server.go:42"),
			status: 500, code: -13, message: "track id trk-err", notMessage: "nil map",
		},
		"a cancelled call": {err: context.Canceled, status: 503, code: -1, retryAfter: "5"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeHost()
			f.fail["C-1"] = tc.err
			s := newServer(t, f)
			req := httptest.NewRequest("POST", "/panda/api/Accounts/Synchronize", strings.NewReader(`{"ID":"C-1"}`))
			req.Header.Set("X-CloudPlatform-ApplicationId", appID)
			req.Header.Set("X-CloudPlatform-APIKey", apiKey)
			req.Header.Set("X-CloudPlatform-TrackId", "trk-err")
			rr := httptest.NewRecorder()
			s.ServeHTTP(rr, req)
			var res servicemanager.Result
			if err := json.Unmarshal(rr.Body.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			if rr.Code != tc.status || res.Code != tc.code || rr.Header().Get("Retry-After") != tc.retryAfter {
				t.Errorf("HTTP %d Code %d Retry-After %q, want %d %d %q (%s)", rr.Code, res.Code, rr.Header().Get("Retry-After"),
					tc.status, tc.code, tc.retryAfter, res.Message)
			}
			if !strings.Contains(res.Message, tc.message) || (tc.notMessage != "" && strings.Contains(res.Message, tc.notMessage)) {
				t.Errorf("Message %q, want it to contain %q and not %q", res.Message, tc.message, tc.notMessage)
			}
		})
	}
}

// blockingHost answers GetSyncRecord only when the call's context ends.
type blockingHost struct{ *fakeHost }

func (b blockingHost) GetSyncRecord(ctx context.Context, _ *hostv1.GetSyncRecordRequest, _ ...grpc.CallOption) (*hostv1.GetSyncRecordResponse, error) {
	<-ctx.Done()
	return nil, status.FromContextError(ctx.Err()).Err()
}

// The host calls of one request are bounded: past WithCallTimeout the
// answer is 503 with Retry-After.
func TestCallTimeout(t *testing.T) {
	t.Parallel()
	s := newServer(t, blockingHost{newFakeHost()}, servicemanager.WithCallTimeout(time.Millisecond))
	req := httptest.NewRequest("POST", "/panda/api/Accounts/Synchronize", strings.NewReader(`{"ID":"C-1"}`))
	req.Header.Set("X-CloudPlatform-ApplicationId", appID)
	req.Header.Set("X-CloudPlatform-APIKey", apiKey)
	rr := httptest.NewRecorder()
	s.ServeHTTP(rr, req)
	if rr.Code != 503 || rr.Header().Get("Retry-After") == "" {
		t.Errorf("HTTP %d Retry-After %q, want 503 with Retry-After: %s", rr.Code, rr.Header().Get("Retry-After"), rr.Body)
	}
}

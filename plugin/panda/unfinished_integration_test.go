package panda_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestIntegrationUnfinishedAttempt: a plugin is SIGKILLed after Panda
// committed its create (the account, or the operator), and the retry goes
// to another plugin process with a data folder of its own (another
// daemon's), whose journal knows nothing. With unfinished_attempt it adopts
// the orphan (one Panda account, the chosen username); without it, it
// cannot (ALREADY_EXISTS for the operator's username, or a second account).
// A look-alike synchronized before is never adopted.
func TestIntegrationUnfinishedAttempt(t *testing.T) {
	t.Parallel()
	afterAccount := func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, pandasim.AccountsPrefix+"/")
	}
	afterOperator := func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Path == pandasim.OperatorsPrefix+"/operators"
	}
	tests := map[string]struct {
		killOn     func(r *http.Request) bool
		unfinished bool
		// wantCode is the retry's code; wantAccounts the Panda accounts
		// named Twin Corp after it (T-0's included).
		wantCode     codes.Code
		wantAccounts int
	}{
		"after CreateAccount, flagged":    {killOn: afterAccount, unfinished: true, wantCode: codes.OK, wantAccounts: 2},
		"after CreateOperator, flagged":   {killOn: afterOperator, unfinished: true, wantCode: codes.OK, wantAccounts: 2},
		"after CreateAccount, unflagged":  {killOn: afterAccount, wantCode: codes.OK, wantAccounts: 3},
		"after CreateOperator, unflagged": {killOn: afterOperator, wantCode: codes.AlreadyExists, wantAccounts: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, false)
			e.launch().Process.Kill() // the first plugin has no data folder
			p := e.launch(plugin.WithDataDir(filepath.Join(t.TempDir(), "a")))
			e.configure()
			ctx := ctxT(t)
			// A look-alike that exists before, without an operator of the
			// username asked for: never this account's.
			t0, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: twin("T-0"), AutoFill: true})
			if err != nil {
				t.Fatalf("T-0: %v", err)
			}

			// The intercept runs on the simulator's goroutines.
			var killed atomic.Bool
			e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if !tc.killOn(r) || !killed.CompareAndSwap(false, true) {
					return false
				}
				e.sim.ServeHTTP(httptest.NewRecorder(), r) // Panda commits
				if err := syscall.Kill(p.Pid, syscall.SIGKILL); err != nil {
					t.Errorf("kill: %v", err)
				}
				plugintest.WaitExit(t, p.Pid, 10e9)
				w.WriteHeader(http.StatusInternalServerError)
				return true
			})
			req := &provisioningv1.SynchronizeRequest{Account: twin("T-1"), Values: map[string]string{"role": "User", "username": "tom.twin.one"}}
			if _, err := e.client.Synchronize(ctx, req); err == nil {
				t.Fatal("Synchronize answered although its plugin was killed")
			}
			if !killed.Load() {
				t.Fatal("the plugin was not killed")
			}
			e.setIntercept(nil)

			// Another daemon's plugin: a data folder of its own.
			e.launch(plugin.WithDataDir(filepath.Join(t.TempDir(), "b")))
			e.configure()
			req.UnfinishedAttempt = tc.unfinished
			resp, err := e.client.Synchronize(ctx, req)
			if got := status.Code(err); got != tc.wantCode {
				t.Fatalf("retry on another plugin: %v, want %v", err, tc.wantCode)
			}
			st := e.state()
			if n := len(st.byName["Twin Corp"]); n != tc.wantAccounts {
				t.Errorf("%d Panda accounts named Twin Corp, want %d: %+v", n, tc.wantAccounts, st.byName["Twin Corp"])
			}
			if err != nil {
				return
			}
			id := resp.GetRecord().GetRemoteId()
			if id == t0.GetRecord().GetRemoteId() {
				t.Fatalf("T-1 adopted T-0's Panda account %s", id)
			}
			if ops := st.operators[id]; len(ops) != 1 || ops[0].Username != "tom.twin.one" {
				t.Errorf("T-1's account %s has operators %+v, want tom.twin.one", id, ops)
			}
		})
	}
}

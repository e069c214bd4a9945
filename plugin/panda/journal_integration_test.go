package panda_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestIntegrationJournalSurvivesKill: the plugin process is SIGKILLed after
// Panda committed its write (the account, or the operator) but before the
// plugin saw the answer, so the caller never gets its record. A new plugin
// process on the same data folder adopts its predecessor's work on the
// retry: one Panda account, the username the caller chose. A look-alike
// BSS account (same name and email) synchronized afterwards still gets a
// Panda account of its own.
func TestIntegrationJournalSurvivesKill(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// killOn says which request's commit the plugin does not live to
		// see.
		killOn func(r *http.Request) bool
	}{
		"after CreateAccount": {killOn: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, pandasim.AccountsPrefix+"/")
		}},
		"after CreateOperator": {killOn: func(r *http.Request) bool {
			return r.Method == http.MethodPost && r.URL.Path == pandasim.OperatorsPrefix+"/operators"
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, false)
			e.launch().Process.Kill() // the first plugin has no data folder
			dataDir := filepath.Join(t.TempDir(), "plugins", "panda")
			p := e.launch(plugin.WithDataDir(dataDir))
			e.configure()
			ctx := ctxT(t)
			// A look-alike that exists before: never this account's.
			if _, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: twin("T-0"), AutoFill: true}); err != nil {
				t.Fatalf("T-0: %v", err)
			}

			// Written by the simulator's handler goroutine, read here.
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

			e.launch(plugin.WithDataDir(dataDir))
			e.configure()
			resp, err := e.client.Synchronize(ctx, req)
			if err != nil {
				t.Fatalf("retry after the restart: %v", err)
			}
			st := e.state()
			if n := len(st.byName["Twin Corp"]); n != 2 {
				t.Errorf("%d Panda accounts named Twin Corp, want 2 (T-0's and T-1's): %+v", n, st.byName["Twin Corp"])
			}
			id := resp.GetRecord().GetRemoteId()
			if ops := st.operators[id]; len(ops) != 1 || ops[0].Username != "tom.twin.one" {
				t.Errorf("T-1's account %s has operators %+v, want tom.twin.one", id, ops)
			}

			// A look-alike BSS account is not T-1's: an account of its own.
			t2, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: twin("T-2"), AutoFill: true})
			if err != nil || !t2.GetCreated() || t2.GetRecord().GetRemoteId() == id {
				t.Fatalf("T-2: %v, %v; want a new account, not %s", t2, err, id)
			}
			if n := len(e.state().byName["Twin Corp"]); n != 3 {
				t.Errorf("%d Panda accounts named Twin Corp, want 3", n)
			}
		})
	}
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudbss/provisioning/internal/loadtest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// The orders story through the real stack: the provisioning-host daemon as a
// binary behind a bearer token, the Panda plugin as its subprocess, pandasim
// over loopback. provctl runs in-process against the daemon's address. The
// allocations are checked in pandasim itself, not only in provctl's output.
// It skips while the daemon answers the orders RPCs UNIMPLEMENTED.
func TestOrdersThroughDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon, the Panda plugin and pandasim")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bins, err := loadtest.Build(ctx, filepath.Join(dir, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	logs, err := loadtest.NewLogs(filepath.Join(dir, "run.log"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, src := range []string{"host", "pandasim"} {
				t.Logf("last lines of %s:\n%s", src, logs.Tail(src, 15))
			}
		}
		_ = logs.Close()
	})
	creds := loadtest.Credentials{AccessID: "provctl-orders", Password: randomSecret(t, "pw-"), APIKey: randomSecret(t, "key-")}
	token := randomSecret(t, "token-")
	s, err := loadtest.StartStack(ctx, loadtest.StackConfig{Bins: bins, Dir: dir, Sim: loadtest.SimConfig{Credentials: creds}, Token: token, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	env := map[string]string{"PROVCTL_HOST": s.Host.Addr, "PROVCTL_TOKEN_FILE": s.TokenFile(), "PROVCTL_PLUGIN": loadtest.PluginName}
	ex := func(name string) string { return filepath.Join("..", "..", "examples", name) }
	var all strings.Builder
	pc := func(wantCode int, args ...string) result {
		t.Helper()
		r := provctl(t, "", env, args...)
		all.WriteString(r.stdout + r.stderr)
		if r.code != wantCode {
			t.Fatalf("provctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		return r
	}
	want := func(r result, subs ...string) {
		t.Helper()
		for _, sub := range subs {
			if !strings.Contains(r.stdout+r.stderr, sub) {
				t.Errorf("output lacks %q:\n%s%s", sub, r.stdout, r.stderr)
			}
		}
	}

	if r := provctl(t, "", env, "products"); r.code != exitOK {
		if strings.Contains(r.stderr, "UNIMPLEMENTED") {
			t.Skip("provisioning-host does not serve the orders RPCs yet (provctl products answered UNIMPLEMENTED); this test runs once the host and the Panda plugin do")
		}
		t.Fatalf("products: exit %d\n%s", r.code, r.stderr)
	} else {
		want(r, "EPDR", "PATCH_MANAGEMENT", "addon", "allocation_type")
	}

	order := ex("orders/subscription.json")
	want(pc(exitState, "subscribe", order), "ACCOUNT_NOT_SYNCED", "hint: synchronize the account first")
	pc(exitOK, "sync", ex("reseller.json"), "--set", "role=Reseller", "--set", "username=acme-resellers")
	pc(exitOK, "sync", ex("end-customer.json"), "--auto")

	want(pc(exitOK, "subscribe", order, "--check"), "No problems found.")
	want(pc(exitOK, "subscribe", order), "Status:        active", "Quantity:      25", "Result:        created")
	want(pc(exitOK, "subscribe", order), "Result:        unchanged")
	want(pc(exitInvalid, "subscription", "set-quantity", "S-3001", "10"), "ADDON_EXCEEDS_BASE", "subscription.addons[0].quantity")
	want(pc(exitOK, "subscription", "set-quantity", "S-3001", "30"), "Quantity:      30", "Add-ons:       PATCH_MANAGEMENT:25", "Result:        updated")
	r := pc(exitOK, "subscription", "get", "S-3001")
	want(r, "Desired:       EPDR x30, add-ons PATCH_MANAGEMENT:25")
	remote := ""
	for _, l := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(l, "Remote id:"); ok {
			remote, _, _ = strings.Cut(strings.TrimSpace(v), "/")
		}
	}
	if got := simAllocated(ctx, t, s, remote, "EPDR"); got != 30 {
		t.Errorf("pandasim holds %d EPDR for %s after set-quantity 30, want 30", got, remote)
	}

	// The import sets S-3001 back to 25 and adds two orders of the reseller.
	r = pc(exitOK, "subscribe-batch", ex("orders/orders.jsonl"), "-o", "json")
	if n := strings.Count(r.stdout, `"outcome":"provisioned"`); n != 3 {
		t.Errorf("subscribe-batch: %d provisioned, want 3:\n%s", n, r.stdout)
	}
	want(r, "Summary: 3 subscriptions: 3 ok (2 created, 1 updated), 0 failed")
	if got := simAllocated(ctx, t, s, remote, "EPDR"); got != 25 {
		t.Errorf("pandasim holds %d EPDR for %s after the import, want 25", got, remote)
	}

	want(pc(exitOK, "subscription", "suspend", "S-3001"), "Status:        suspended", "Quantity:      25")
	if got := simAllocated(ctx, t, s, remote, "EPDR"); got != 0 {
		t.Errorf("pandasim holds %d EPDR for %s while suspended, want 0", got, remote)
	}
	want(pc(exitOK, "subscription", "suspend", "S-3001"), "Result:        unchanged")
	want(pc(exitOK, "subscription", "resume", "S-3001"), "Status:        active")
	want(pc(exitOK, "subscription", "cancel", "S-3002"), "Status:        cancelled")
	want(pc(exitState, "subscription", "resume", "S-3002"), "SUBSCRIPTION_CANCELLED")
	want(pc(exitState, "subscription", "get", "S-404"), "NOT_FOUND", "SUBSCRIPTION_NOT_FOUND")

	r = pc(exitOK, "subscriptions", "--account", "R-2001")
	want(r, "S-3002", "S-3003", "cancelled")
	r = pc(exitOK, "subscriptions", "--status", "active", "-o", "json")
	var list hostv1.ListSubscriptionRecordsResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rec := range list.GetRecords() {
		ids = append(ids, rec.GetSubscriptionId())
	}
	if strings.Join(ids, ",") != "S-3001,S-3003" {
		t.Errorf("active subscriptions: %v, want S-3001, S-3003", ids)
	}
	if out := all.String(); strings.Contains(out, creds.Password) || strings.Contains(out, creds.APIKey) || strings.Contains(out, token) {
		t.Errorf("a secret reached provctl's output:\n%s", out)
	}
}

// simAllocated is what pandasim allocates of product to the remote account.
func simAllocated(ctx context.Context, t *testing.T, s *loadtest.Stack, account, product string) int {
	t.Helper()
	snap, err := s.Sim.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range snap.Allocations {
		if a.AccountID == account && a.ProductName == product {
			n += a.Quantity
		}
	}
	return n
}

// randomSecret is a value a leak check can search for.
func randomSecret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 16) // the daemon's minimum token is 32 characters
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestDaemonStoreDeleted: deleting sync-records.db under a running daemon
// makes the next Synchronize fail with DATA_LOSS (it used to answer OK and
// lose the record at the next start) and health NOT_SERVING; a corrupt
// database stops the next start with a message naming the file.
func TestDaemonStoreDeleted(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDaemon(t, daemonConfig{dataDir: dataDir})
	conn := d.dial(t)
	c := hostv1.NewHostServiceClient(conn)
	ctx := context.Background()
	syncAcct := func(id string) error {
		_, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{
			Account: acct(id, provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, "")}})
		return err
	}
	if err := syncAcct("BEFORE"); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dataDir, "sync-records.db")
	for _, f := range []string{db, db + "-wal", db + "-shm"} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := syncAcct("AFTER"); status.Code(err) != codes.DataLoss {
		t.Errorf("Synchronize after sync-records.db was deleted: %v, want DataLoss", err)
	}
	hc := healthpb.NewHealthClient(conn)
	waitFor(t, "health NOT_SERVING", func() bool {
		h, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: hostv1.HostService_ServiceDesc.ServiceName})
		return err == nil && h.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
	})
	if !strings.Contains(d.stderr.String(), db) {
		t.Errorf("the daemon's log does not name %s:\n%s", db, d.stderr)
	}
	d.stop(t)

	// A corrupt database: the daemon refuses to start and says why.
	if err := os.WriteFile(db, []byte("SQLite format 3\x00"+strings.Repeat("\xa5", 8192)), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := plugintest.Build(t, daemonPkg)
	cfgPath := filepath.Join(t.TempDir(), "host.yaml")
	cfg := "plugins:\n  - name: " + plug + "\n    path: " + plugintest.Build(t, pluginPkg) + "\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(rctx, bin, "--config", cfgPath, "--listen", "127.0.0.1:0", "--data-dir", dataDir).CombinedOutput()
	if rctx.Err() != nil || err == nil {
		t.Fatalf("daemon served a corrupt database: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), db) || !strings.Contains(string(out), "integrity") {
		t.Errorf("refusal does not name %s and the check:\n%s", db, out)
	}
}

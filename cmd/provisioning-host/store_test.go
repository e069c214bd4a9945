package main_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudbss/provisioning/internal/pgtest"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestMigrateStore moves a deployment from SQLite to PostgreSQL as
// docs/deploy.md says: a daemon on SQLite synchronizes accounts and stops;
// migrate-store copies its records; a daemon on PostgreSQL answers them as
// they were.
func TestMigrateStore(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")

	d := startDaemon(t, daemonConfig{dataDir: dataDir})
	c := hostv1.NewHostServiceClient(d.dial(t))
	for _, a := range []*struct{ id, parent string }{{"R1", ""}, {"C1", "R1"}, {"C2", "R1"}} {
		typ := reseller
		if a.parent != "" {
			typ = customer
		}
		if _, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: syncReq(acct(a.id, typ, a.parent))}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := c.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{Plugin: plug})
	if err != nil || len(before.GetRecords()) != 3 {
		t.Fatalf("before: %v, %v", before, err)
	}
	d.stop(t)

	bin := plugintest.Build(t, daemonPkg)
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, "migrate-store", "--data-dir", dataDir, "--store", dsn)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("migrate-store: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "copied 3 sync records and 0 subscription records") {
		t.Errorf("migrate-store said %q", out.String())
	}

	// Another, empty, data dir: the records can only come from PostgreSQL.
	pg := startDaemon(t, daemonConfig{flags: []string{"--store", dsn}})
	c = hostv1.NewHostServiceClient(pg.dial(t))
	after, err := c.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{Plugin: plug})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.GetRecords(), after.GetRecords(), protocmp.Transform()); diff != "" {
		t.Errorf("records on PostgreSQL (-sqlite +postgres):\n%s", diff)
	}
	got, err := c.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: plug, AccountId: "C1"})
	if err != nil || got.GetRecord().GetRemoteParentId() == "" {
		t.Errorf("GetSyncRecord C1 on PostgreSQL: %v, %v", got, err)
	}
	if strings.Contains(pg.stderr.String(), "postgres://") {
		t.Error("the daemon logged its connection string")
	}
}

func TestStoreFlag(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, daemonPkg)
	tests := map[string]struct {
		args []string
		want string
	}{
		"not PostgreSQL":                {[]string{"--config", "x.yaml", "--store", "mysql://db"}, "--store: want a PostgreSQL connection string"},
		"migrate-store without --store": {[]string{"migrate-store", "--data-dir", t.TempDir()}, "--store postgres://... is required"},
		"migrate-store with a password that does not parse": {
			[]string{"migrate-store", "--data-dir", t.TempDir(), "--store", "postgres://u:s3cret@h:badport/db"}, "does not parse"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var errOut bytes.Buffer
			cmd := exec.Command(bin, tc.args...)
			cmd.Stderr = &errOut
			if err := cmd.Run(); err == nil {
				t.Fatal("succeeded")
			}
			if !strings.Contains(errOut.String(), tc.want) || strings.Contains(errOut.String(), "s3cret") {
				t.Errorf("stderr %q, want %q and no password", errOut.String(), tc.want)
			}
		})
	}
}

func syncReq(a *provisioningv1.Account) *provisioningv1.SynchronizeRequest {
	return &provisioningv1.SynchronizeRequest{Account: a}
}

package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/internal/pgtest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// pair is two daemons on one PostgreSQL schema and one pandasim, as two
// machines behind a load balancer.
type pair struct {
	stack   *loadtest.Stack // pandasim and the first daemon
	second  *loadtest.Daemon
	clients [2]hostv1.HostServiceClient
}

// startPair starts pandasim and two daemons sharing a fresh schema. args
// are extra flags of both daemons.
func startPair(ctx context.Context, t *testing.T, sim loadtest.SimConfig, settings map[string]string, args ...string) *pair {
	t.Helper()
	dsn := pgtest.Schema(t)
	logs := newLogs(t)
	if sim.Credentials == (loadtest.Credentials{}) {
		sim.Credentials = testCredentials(t)
	}
	hostArgs := append([]string{"--store", dsn}, args...)
	s := startStack(t, ctx, loadtest.StackConfig{
		Sim:  sim,
		Host: loadtest.HostConfig{Args: hostArgs, Settings: settings},
		Logs: logs,
	})
	c := s.Host.Config
	c.Dir, c.DataDir = filepath.Join(t.TempDir(), "host2"), ""
	d2, err := loadtest.StartHost(ctx, bins.Host, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !d2.Exited() {
			_ = d2.Stop(30 * time.Second)
		}
	})
	conn, err := d2.Dial("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &pair{stack: s, second: d2, clients: [2]hostv1.HostServiceClient{s.Client, hostv1.NewHostServiceClient(conn)}}
	if err := loadtest.WaitRunning(ctx, p.clients[1]); err != nil {
		t.Fatal(err)
	}
	return p
}

func customer(id string) *provisioningv1.SynchronizeRequest {
	low := strings.ToLower(id)
	return &provisioningv1.SynchronizeRequest{
		Account: &provisioningv1.Account{
			Id: id, Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Customer " + id, CorporateEmail: "it@" + low + ".example",
			Contact: &provisioningv1.Contact{FirstName: "Multi", LastName: "Daemon"}, Country: "ES", Language: "es-ES",
		},
		Values:   map[string]string{"username": "op." + low},
		AutoFill: true,
	}
}

// TestTwoDaemonsOneAccount sends 50 concurrent Synchronize calls for one
// account, split across two daemons on one database: pandasim ends with
// one account and one operator, and every call answers it.
func TestTwoDaemonsOneAccount(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := startPair(ctx, t, loadtest.SimConfig{}, nil)
	var wg sync.WaitGroup
	remote := make([]string, 50)
	errs := make([]error, 50)
	for i := range remote {
		wg.Go(func() {
			resp, err := p.clients[i%2].Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: loadtest.PluginName, Request: customer("MD-ONE")})
			errs[i] = err
			remote[i] = resp.GetResponse().GetRecord().GetRemoteId()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d (daemon %d): %v", i, i%2+1, err)
		}
	}
	snap, err := p.stack.Sim.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range snap.Accounts {
		if a.Name == "Customer MD-ONE" {
			ids = append(ids, a.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("pandasim holds %d accounts for MD-ONE: %v", len(ids), ids)
	}
	ops := 0
	for _, op := range snap.Operators {
		if op.AccountID == ids[0] {
			ops++
		}
	}
	if ops != 1 {
		t.Errorf("pandasim holds %d operators for MD-ONE, want 1", ops)
	}
	for i, r := range remote {
		if errs[i] == nil && r != ids[0] {
			t.Errorf("call %d answered remote id %q, pandasim has %s", i, r, ids[0])
		}
	}
}

// TestPendingSettlesAfterItsDaemonDies: a Synchronize through the first
// daemon answers PENDING (the operator's transaction outlives the call); the
// first daemon is SIGKILLed; the second settles the record.
func TestPendingSettlesAfterItsDaemonDies(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := startPair(ctx, t, loadtest.SimConfig{Args: []string{"--tx-delay", "2s"}},
		map[string]string{"tx_deadline": "100ms", "tx_poll_interval": "20ms"},
		"--settle-interval", "200ms")
	resp, err := p.clients[0].Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: loadtest.PluginName, Request: customer("MD-PENDING")})
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.GetResponse().GetRecord().GetStatus(); st != provisioningv1.SyncStatus_SYNC_STATUS_PENDING {
		t.Fatalf("first answer %s, want PENDING (the transaction must outlive the call)", st)
	}
	p.stack.Host.Kill()
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := p.clients[1].GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: loadtest.PluginName, AccountId: "MD-PENDING"})
		if err != nil {
			t.Fatal(err)
		}
		st := r.GetRecord().GetStatus()
		if st == provisioningv1.SyncStatus_SYNC_STATUS_SYNCED {
			return
		}
		if st != provisioningv1.SyncStatus_SYNC_STATUS_PENDING || time.Now().After(deadline) {
			t.Fatalf("record %s after the first daemon died: %v", st, r.GetRecord())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTwoDaemonsBatchOneKilled splits a batch (CHAOS_ACCOUNTS, 2,000 under
// make chaos) across two daemons on one database, SIGKILLs the first when
// about a quarter of the accounts are stored, then runs the whole batch on the
// survivor until it passes: every account is in pandasim exactly once, with
// one operator, under the right parent, and the store agrees.
//
// What the killed daemon's plugin created without its answer being stored
// is adopted by the survivor through the host's attempt markers (the
// shared store) and the adapter's unfinished-attempt rule: see
// docs/deploy.md, "A daemon killed in the middle of a create".
func TestTwoDaemonsBatchOneKilled(t *testing.T) {
	t.Parallel()
	n := envInt(t, "CHAOS_ACCOUNTS", 150)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	p := startPair(ctx, t, loadtest.SimConfig{}, nil)
	h := population("MK", n)
	all := writeBatch(t, h)
	// Halves of whole families: a reseller's customers go with it.
	var halves [2][]string
	group := -1
	h.Each(func(a loadtest.Account) {
		if a.ParentID == "" {
			group++
		}
		halves[group%2] = append(halves[group%2], a.Line())
	})
	var files [2]string
	for i := range files {
		files[i] = filepath.Join(t.TempDir(), fmt.Sprintf("half%d.jsonl", i))
		if err := os.WriteFile(files[i], []byte(strings.Join(halves[i], "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for ctx.Err() == nil {
			recs, err := loadtest.ListRecords(ctx, p.clients[1])
			if err == nil && len(recs) >= n/4 {
				p.stack.Host.Kill()
				t.Logf("SIGKILLed the first daemon with %d of %d records stored", len(recs), n)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	addrs := [2]string{p.stack.Host.Addr, p.second.Addr}
	for i := range files {
		wg.Go(func() {
			res, err := loadtest.SyncBatch(ctx, bins.Provctl, addrs[i], files[i], loadtest.BatchOptions{Auto: true, Concurrency: 16})
			t.Logf("daemon %d's half: %s (%v)", i+1, res, err)
		})
	}
	wg.Wait()
	<-killed

	for pass := 1; ; pass++ {
		res, err := loadtest.SyncBatch(ctx, bins.Provctl, p.second.Addr, all, loadtest.BatchOptions{Auto: true, Concurrency: 16})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("re-run %d on the survivor: %s", pass, res)
		if res.Synced == n {
			break
		}
		if pass == maxPasses {
			t.Fatalf("after %d re-runs: %s", pass, res)
		}
	}
	snap, err := p.stack.Sim.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := loadtest.Verify(ctx, snap, h, p.clients[1])
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() {
		t.Fatalf("after the kill and the re-run:\n%s", v)
	}
	t.Log(v)
}

package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/host/server"
	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

const plug = "testplugin"

var (
	reseller = provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER
	customer = provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER
)

// newClient runs the test plugin under a host and serves HostService over
// an in-memory connection, as provctl's --plugin mode does.
func newClient(t testing.TB, st store.Store) hostv1.HostServiceClient {
	t.Helper()
	cfg := &catalog.Config{Plugins: []catalog.Entry{{
		Name: plug, Path: plugintest.Build(t, "github.com/cloudbss/provisioning/host/internal/testplugin"),
	}}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := host.New(cfg, host.WithLogger(quiet), host.WithStore(st))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	hostv1.RegisterHostServiceServer(gs, server.New(h, st, server.WithLogger(quiet)))
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Close(ctx)
	})
	return hostv1.NewHostServiceClient(conn)
}

func acct(id string, typ provisioningv1.AccountType, parent string) *provisioningv1.Account {
	return &provisioningv1.Account{Id: id, Type: typ, ParentId: parent, Name: "Co " + id, CorporateEmail: id + "@example.com"}
}

func TestAncestorsFilledFromStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	c := newClient(t, st)

	child := acct("C1", customer, "R1")
	// Parent never synchronized: the store has nothing, the plugin says so.
	opts, err := c.GetSyncOptions(ctx, &hostv1.GetSyncOptionsRequest{Plugin: plug, Request: &provisioningv1.GetSyncOptionsRequest{Account: child}})
	if err != nil {
		t.Fatal(err)
	}
	if ds := opts.GetResponse().GetDiagnostics(); len(ds) != 1 || ds[0].GetCode() != "PARENT_NOT_SYNCED" {
		t.Errorf("diagnostics before the parent = %v", ds)
	}
	_, err = c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: child}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Synchronize before the parent: %v", err)
	}

	rs, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: acct("R1", reseller, "")}})
	if err != nil {
		t.Fatal(err)
	}
	// Stored before the answer.
	if e, err := st.Get(ctx, plug, "R1"); err != nil || e.Record.GetRemoteId() != rs.GetResponse().GetRecord().GetRemoteId() {
		t.Fatalf("stored R1 = %v, %v", e, err)
	}

	opts, err = c.GetSyncOptions(ctx, &hostv1.GetSyncOptionsRequest{Plugin: plug, Request: &provisioningv1.GetSyncOptionsRequest{Account: child}})
	if err != nil {
		t.Fatal(err)
	}
	if ds := opts.GetResponse().GetDiagnostics(); len(ds) != 0 {
		t.Errorf("diagnostics after the parent = %v", ds)
	}
	if v := opts.GetResponse().GetFields()[1].GetValue(); v != rs.GetResponse().GetRecord().GetRemoteId() {
		t.Errorf("parent field = %q, want the reseller's remote id", v)
	}
	cs, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: child}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.GetResponse().GetRecord().GetRemoteParentId(); got != rs.GetResponse().GetRecord().GetRemoteId() {
		t.Errorf("child's remote parent = %q", got)
	}

	// Ancestors the caller sends never win over the store's: without a
	// record they are filled from the store.
	v, err := c.ValidateSyncOptions(ctx, &hostv1.ValidateSyncOptionsRequest{Plugin: plug, Request: &provisioningv1.ValidateSyncOptionsRequest{
		Account:   child,
		Ancestors: []*provisioningv1.Ancestor{{Account: acct("R1", reseller, "")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ds := v.GetResponse().GetDiagnostics(); len(ds) != 0 {
		t.Errorf("the stored parent was not used: %v", ds)
	}
}

func TestRecordsAndStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t, store.NewMemory())

	for i := range 7 {
		a := acct(fmt.Sprintf("A%d", i), customer, "")
		if i == 3 {
			a.Name = "pending"
		}
		if _, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: a}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	token := ""
	for {
		resp, err := c.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{Plugin: plug, PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetRecords() {
			got = append(got, r.GetAccountId())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if fmt.Sprint(got) != "[A0 A1 A2 A3 A4 A5 A6]" {
		t.Errorf("paged records = %v", got)
	}
	pend, err := c.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING})
	if err != nil || len(pend.GetRecords()) != 1 {
		t.Fatalf("pending = %v, %v", pend, err)
	}

	// A bare record means the stored one; the refreshed record is stored.
	ss, err := c.GetSyncStatus(ctx, &hostv1.GetSyncStatusRequest{Plugin: plug, Request: &provisioningv1.GetSyncStatusRequest{Record: &provisioningv1.SyncRecord{AccountId: "A3"}}})
	if err != nil || ss.GetResponse().GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_SYNCED {
		t.Fatalf("GetSyncStatus = %v, %v", ss, err)
	}
	rec, err := c.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: plug, AccountId: "A3"})
	if err != nil || rec.GetRecord().GetStatus() != provisioningv1.SyncStatus_SYNC_STATUS_SYNCED || rec.GetAccount().GetName() != "pending" {
		t.Errorf("GetSyncRecord = %v, %v", rec, err)
	}

	for name, tc := range map[string]struct {
		call func() error
		want codes.Code
	}{
		"no plugin": {func() error {
			_, err := c.Probe(ctx, &hostv1.ProbeRequest{})
			return err
		}, codes.InvalidArgument},
		"unknown plugin": {func() error {
			_, err := c.Probe(ctx, &hostv1.ProbeRequest{Plugin: "nope"})
			return err
		}, codes.NotFound},
		"record never synced": {func() error {
			_, err := c.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: plug, AccountId: "ZZ"})
			return err
		}, codes.NotFound},
		"status never synced": {func() error {
			_, err := c.GetSyncStatus(ctx, &hostv1.GetSyncStatusRequest{Plugin: plug, Request: &provisioningv1.GetSyncStatusRequest{Record: &provisioningv1.SyncRecord{AccountId: "ZZ"}}})
			return err
		}, codes.NotFound},
		"bad page token": {func() error {
			_, err := c.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{PageToken: "x"})
			return err
		}, codes.InvalidArgument},
		"negative page size": {func() error {
			_, err := c.ListSyncRecords(ctx, &hostv1.ListSyncRecordsRequest{PageSize: -1})
			return err
		}, codes.InvalidArgument},
		"no account": {func() error {
			_, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug})
			return err
		}, codes.InvalidArgument},
	} {
		if got := status.Code(tc.call()); got != tc.want {
			t.Errorf("%s: code %v, want %v", name, got, tc.want)
		}
	}
	pl, err := c.ListPlugins(ctx, &hostv1.ListPluginsRequest{})
	if err != nil || len(pl.GetPlugins()) != 1 || pl.GetPlugins()[0].GetDisplayName() != "Test Plugin" {
		t.Errorf("ListPlugins = %v, %v", pl, err)
	}
}

func TestBatchHierarchy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	c := newClient(t, st)
	// OLD is synchronized before the batch: its children need not be in it.
	if _, err := c.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plug, Request: &provisioningv1.SynchronizeRequest{Account: acct("OLD", reseller, "")}}); err != nil {
		t.Fatal(err)
	}
	bad := acct("BAD", reseller, "")
	bad.Name = "fail"
	items := []*provisioningv1.Account{
		acct("C1", customer, "R1"), // child listed before its parent
		acct("R1", reseller, ""),
		acct("C2", customer, "R1"),
		acct("C3", customer, "OLD"),   // parent only in the store
		acct("C4", customer, "GHOST"), // parent nowhere
		acct("X", reseller, "Y"),      // cycle X <-> Y
		acct("Y", reseller, "X"),
		acct("Z", customer, "X"), // below the cycle
		bad,
		acct("BADKID", reseller, "BAD"),
		acct("BADGRANDKID", customer, "BADKID"),
		acct("R1", reseller, ""), // duplicate
		{},                       // no id
	}
	req := &hostv1.SynchronizeBatchRequest{Plugin: plug, Concurrency: 3}
	for _, a := range items {
		req.Items = append(req.Items, &hostv1.BatchItem{Account: a})
	}
	stream, err := c.SynchronizeBatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	seen := map[string]bool{}
	n := 0
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if r.GetOutcome() == hostv1.Outcome_OUTCOME_SYNCED {
			if p := map[string]string{"C1": "R1", "C2": "R1"}[r.GetAccountId()]; p != "" && !seen[p] {
				t.Errorf("%s synced before its parent %s", r.GetAccountId(), p)
			}
			seen[r.GetAccountId()] = true
		}
		got[r.GetAccountId()] = append(got[r.GetAccountId()], r.GetOutcome().String()+" "+status.FromProto(r.GetError()).Code().String())
	}
	want := map[string]string{
		"C1":          "OUTCOME_SYNCED OK",
		"R1":          "OUTCOME_FAILED InvalidArgument,OUTCOME_SYNCED OK", // and its duplicate
		"C2":          "OUTCOME_SYNCED OK",
		"C3":          "OUTCOME_SYNCED OK",
		"C4":          "OUTCOME_SKIPPED FailedPrecondition",
		"X":           "OUTCOME_FAILED InvalidArgument",
		"Y":           "OUTCOME_FAILED InvalidArgument",
		"Z":           "OUTCOME_SKIPPED FailedPrecondition",
		"BAD":         "OUTCOME_FAILED InvalidArgument",
		"BADKID":      "OUTCOME_SKIPPED FailedPrecondition",
		"BADGRANDKID": "OUTCOME_SKIPPED FailedPrecondition",
		"":            "OUTCOME_FAILED InvalidArgument",
	}
	if n != len(items) {
		t.Errorf("%d results for %d items", n, len(items))
	}
	for k, w := range want {
		slices.Sort(got[k])
		if strings.Join(got[k], ",") != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	// Parents' fresh records were threaded into the children.
	r1, _ := st.Get(ctx, plug, "R1")
	c1, _ := st.Get(ctx, plug, "C1")
	if c1.Record.GetRemoteParentId() != r1.Record.GetRemoteId() {
		t.Errorf("C1 remote parent %q, R1 remote id %q", c1.Record.GetRemoteParentId(), r1.Record.GetRemoteId())
	}

	if _, err := recvErr(c.SynchronizeBatch(ctx, &hostv1.SynchronizeBatchRequest{Plugin: plug})); status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty batch: %v", err)
	}
	if _, err := recvErr(c.SynchronizeBatch(ctx, &hostv1.SynchronizeBatchRequest{Plugin: "nope", Items: req.Items[:1]})); status.Code(err) != codes.NotFound {
		t.Errorf("unknown plugin: %v", err)
	}
}

func recvErr(s hostv1.HostService_SynchronizeBatchClient, err error) (*hostv1.SynchronizeBatchResponse, error) {
	if err != nil {
		return nil, err
	}
	return s.Recv()
}

// BenchmarkSynchronizeBatch measures a batch of 1,000 accounts (100
// resellers with 9 end customers each) through HostService, the test plugin
// subprocess and a SQLite store.
func BenchmarkSynchronizeBatch(b *testing.B) {
	st, err := store.OpenSQLite(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c := newClient(b, st)
	ctx := context.Background()
	for run := 0; b.Loop(); run++ {
		req := &hostv1.SynchronizeBatchRequest{Plugin: plug, Concurrency: 16}
		for r := range 100 {
			rid := fmt.Sprintf("B%d-R%03d", run, r)
			req.Items = append(req.Items, &hostv1.BatchItem{Account: acct(rid, reseller, "")})
			for k := range 9 {
				req.Items = append(req.Items, &hostv1.BatchItem{Account: acct(fmt.Sprintf("%s-C%d", rid, k), customer, rid)})
			}
		}
		stream, err := c.SynchronizeBatch(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			r, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil || r.GetOutcome() != hostv1.Outcome_OUTCOME_SYNCED {
				b.Fatal(r, err)
			}
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "accounts/s")
}

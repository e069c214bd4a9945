package panda_test

// Integration tests: the real plugin binary, launched through go-plugin with
// AutoMTLS as a host would, talking real HTTP to a real pandasim on
// loopback. Each test has its own simulator and plugin process so that
// fault injection stays local and the tests can run in parallel.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

const pluginPkg = "github.com/cloudbss/provisioning/cmd/provisioning-plugin-panda"

// simEnv is one pandasim behind an HTTP test server and one plugin process
// configured against it.
type simEnv struct {
	t      *testing.T
	sim    *pandasim.Server
	url    string
	client provisioningv1.ProvisioningAdapterClient
	// intercept, when set, may answer a request instead of the simulator.
	intercept func(w http.ResponseWriter, r *http.Request) bool

	mu     sync.Mutex
	tokens map[string]bool // bearer tokens the plugin sent
	stderr bytes.Buffer
}

// Write collects the plugin's stderr.
func (e *simEnv) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stderr.Write(p)
}

func (e *simEnv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		e.mu.Lock()
		e.tokens[tok] = true
		e.mu.Unlock()
	}
	e.mu.Lock()
	icpt := e.intercept
	e.mu.Unlock()
	if icpt != nil && icpt(w, r) {
		return
	}
	e.sim.ServeHTTP(w, r)
}

func (e *simEnv) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	e.mu.Lock()
	e.intercept = f
	e.mu.Unlock()
}

// newSimEnv starts a simulator and the plugin; configure says whether to
// call Configure with the simulator's settings.
func newSimEnv(t *testing.T, configure bool, simOpts ...pandasim.Option) *simEnv {
	t.Helper()
	sim, err := pandasim.New(append([]pandasim.Option{pandasim.WithCredentials("bss-owner", testPassword, testAPIKey)}, simOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e := &simEnv{t: t, sim: sim, tokens: map[string]bool{}}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	e.url = srv.URL

	// Registered before Launch, so it runs after the plugin is killed and
	// its whole stderr has been read.
	t.Cleanup(e.checkNoSecretLogged)
	e.launch()
	if configure {
		e.configure()
	}
	return e
}

// launch starts a plugin process, which from then on serves e.client, and
// returns it.
func (e *simEnv) launch(opts ...plugin.LaunchOption) *plugintest.Plugin {
	e.t.Helper()
	bin := plugintest.Build(e.t, pluginPkg)
	p := plugintest.Launch(e.t, bin, []string{"PROVISIONING_PLUGIN_LOG_LEVEL=debug"},
		append([]plugin.LaunchOption{plugin.WithStderr(e), plugin.WithClientLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	e.client = p.Client
	return p
}

func (e *simEnv) settings(overrides ...string) map[string]string {
	return settings(append([]string{
		"api_url", e.url, "tx_poll_interval", "5ms", "tx_deadline", "5s", "request_timeout", "5s",
	}, overrides...)...)
}

func (e *simEnv) configure(overrides ...string) {
	e.t.Helper()
	if _, err := e.client.Configure(context.Background(), &provisioningv1.ConfigureRequest{Settings: e.settings(overrides...)}); err != nil {
		e.t.Fatalf("Configure: %v", err)
	}
}

// checkNoSecretLogged fails the test if the plugin ever logged the
// password, the API key or a bearer token it used.
func (e *simEnv) checkNoSecretLogged() {
	e.mu.Lock()
	defer e.mu.Unlock()
	logged := e.stderr.String()
	if logged == "" {
		e.t.Error("the plugin logged nothing: is stderr captured?")
	}
	secrets := []string{testPassword, testAPIKey}
	for tok := range e.tokens {
		secrets = append(secrets, tok)
	}
	for _, s := range secrets {
		if strings.Contains(logged, s) {
			e.t.Errorf("the plugin logged a secret (%d characters)", len(s))
		}
	}
}

// state is the simulator's state: accounts by id and operators by account.
type simState struct {
	accounts  map[string]pandasim.Account
	operators map[string][]pandasim.Operator
	byName    map[string][]pandasim.Account
}

func (e *simEnv) state() simState {
	snap := e.sim.Snapshot()
	st := simState{accounts: map[string]pandasim.Account{}, operators: map[string][]pandasim.Operator{}, byName: map[string][]pandasim.Account{}}
	for _, a := range snap.Accounts {
		st.accounts[a.ID] = a
		st.byName[a.Name] = append(st.byName[a.Name], a)
	}
	for _, o := range snap.Operators {
		st.operators[o.AccountID] = append(st.operators[o.AccountID], o)
	}
	return st
}

// exactlyOne checks that one Panda account has the name, with one operator,
// and returns both.
func (e *simEnv) exactlyOne(name string) (pandasim.Account, pandasim.Operator) {
	e.t.Helper()
	st := e.state()
	accs := st.byName[name]
	if len(accs) != 1 {
		e.t.Fatalf("%d Panda accounts named %q, want 1: %+v", len(accs), name, accs)
	}
	ops := st.operators[accs[0].ID]
	if len(ops) != 1 {
		e.t.Fatalf("%d operators on %s, want 1: %+v", len(ops), accs[0].ID, ops)
	}
	return accs[0], ops[0]
}

func (e *simEnv) setFaults(f pandasim.Faults) {
	e.t.Helper()
	if err := e.sim.SetFaults(f); err != nil {
		e.t.Fatal(err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestIntegrationScenarios walks the three scenarios of the form end to
// end: a direct customer, a reseller, and an end customer before and after
// its reseller is synchronized; then activation and deletion as seen by
// GetSyncStatus.
func TestIntegrationScenarios(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	c := e.client

	info, err := c.GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{})
	if err != nil || info.GetName() != "panda" || info.GetDisplayName() != "Panda Antivirus" {
		t.Fatalf("GetPluginInfo = %v, %v", info, err)
	}
	probe, err := c.Probe(ctx, &provisioningv1.ProbeRequest{})
	if err != nil || !probe.GetReady() {
		t.Fatalf("Probe = %v, %v", probe, err)
	}

	// Direct customer.
	form, err := c.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: directCustomer()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"role=User", "username=jane.doe"}, fieldValues(form.GetFields())); diff != "" {
		t.Errorf("direct customer form (-want +got):\n%s", diff)
	}
	requests := e.sim.Stats().APIRequests
	direct, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: janeValues})
	if err != nil {
		t.Fatal(err)
	}
	// ListChildren, CreateAccount, CreateOperator, GetTransaction: no
	// username check before the create (nothing could be adopted), the
	// operator transaction checks it.
	if n := e.sim.Stats().APIRequests - requests; n != 4 {
		t.Errorf("Synchronize of a new account made %d API requests, want 4", n)
	}
	if r := direct.GetRecord(); !direct.GetCreated() || r.GetStatus() != stSynced || r.GetRemoteParentId() != pandasim.DefaultRootAccountID {
		t.Errorf("direct customer: %v", direct)
	}
	acc, op := e.exactlyOne("Acme Corp")
	if acc.Type != pandasim.TypeSubscriber || acc.ParentID != pandasim.DefaultRootAccountID || acc.ID != direct.GetRecord().GetRemoteId() ||
		op.Role != "ADMINISTRATOR" || op.Username != "jane.doe" || op.Email != "jane.doe@acme.example" {
		t.Errorf("direct customer in Panda: %+v %+v", acc, op)
	}
	requests = e.sim.Stats().APIRequests
	replay, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: janeValues, Record: direct.GetRecord()})
	if err != nil || replay.GetCreated() || replay.GetRecord().GetRemoteId() != acc.ID {
		t.Errorf("replay = %v, %v", replay, err)
	}
	if n := e.sim.Stats().APIRequests - requests; n != 2 {
		t.Errorf("a replay made %d API requests, want 2 (GetOperator, GetAccount: reads only)", n)
	}
	if replay.GetUpdated() {
		t.Error("a replay with nothing changed says updated")
	}
	// The form of a synchronized account shows what was synchronized.
	form, err = c.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: directCustomer(), Record: direct.GetRecord()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"role=User (read-only)", "username=jane.doe (read-only)"}, fieldValues(form.GetFields())); diff != "" {
		t.Errorf("synchronized form (-want +got):\n%s", diff)
	}

	// Reseller.
	form, err = c.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: resellerAccount()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"role=Reseller", "username=ops.resell-ltd"}, fieldValues(form.GetFields())); diff != "" {
		t.Errorf("reseller form (-want +got):\n%s", diff)
	}

	// End customer before its reseller is synchronized.
	before := []*provisioningv1.Ancestor{{Account: resellerAccount()}}
	form, err = c.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: endCustomer(), Ancestors: before})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"parent_account= (read-only)", "role=User", "username=it.beta-sl"}, fieldValues(form.GetFields())); diff != "" {
		t.Errorf("end customer form before (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ERROR PARENT_NOT_SYNCED parent_account"}, diagKeys(form.GetDiagnostics())); diff != "" {
		t.Errorf("end customer diagnostics before (-want +got):\n%s", diff)
	}
	if !strings.Contains(form.GetDiagnostics()[0].GetSummary(), "Resell Ltd") {
		t.Errorf("diagnostic does not name the reseller: %v", form.GetDiagnostics()[0])
	}
	_, err = c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: endCustomer(), Ancestors: before, AutoFill: true})
	if got := errKey(err); got != "FailedPrecondition PARENT_NOT_SYNCED parent_account" {
		t.Errorf("end customer before its reseller: %q", got)
	}

	// The reseller is synchronized (storefront path), then the end customer.
	res, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: resellerAccount(), AutoFill: true})
	if err != nil {
		t.Fatal(err)
	}
	racc, rop := e.exactlyOne("Resell Ltd")
	if racc.Type != pandasim.TypeServiceProvider || rop.Role != "OWNER" || rop.Username != "ops.resell-ltd" || res.GetRecord().GetRemoteId() != racc.ID {
		t.Errorf("reseller in Panda: %+v %+v; record %v", racc, rop, res.GetRecord())
	}
	after := []*provisioningv1.Ancestor{{Account: resellerAccount(), Record: res.GetRecord()}}
	form, err = c.GetSyncOptions(ctx, &provisioningv1.GetSyncOptionsRequest{Account: endCustomer(), Ancestors: after})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"parent_account=" + racc.ID + " (read-only)", "role=User", "username=it.beta-sl"}, fieldValues(form.GetFields())); diff != "" {
		t.Errorf("end customer form after (-want +got):\n%s", diff)
	}
	if len(form.GetDiagnostics()) != 0 {
		t.Errorf("end customer diagnostics after: %v", form.GetDiagnostics())
	}
	end, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: endCustomer(), Ancestors: after, AutoFill: true})
	if err != nil {
		t.Fatal(err)
	}
	eacc, eop := e.exactlyOne("Beta SL")
	if eacc.ParentID != racc.ID || eacc.Type != pandasim.TypeSubscriber || eop.Role != "ADMINISTRATOR" || end.GetRecord().GetRemoteParentId() != racc.ID {
		t.Errorf("end customer in Panda: %+v %+v; record %v", eacc, eop, end.GetRecord())
	}

	// Activation, then deletion, as GetSyncStatus sees them.
	status := func(rec *provisioningv1.SyncRecord) *provisioningv1.SyncRecord {
		t.Helper()
		resp, err := c.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: rec})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetRecord()
	}
	if got := status(direct.GetRecord()).GetStatus(); got != stSynced {
		t.Errorf("before activation: %v", got)
	}
	resp, err := http.Post(e.url+"/_sim/activate?username=jane.doe", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	active := status(direct.GetRecord())
	if active.GetStatus() != stActive {
		t.Errorf("after activation: %v", active)
	}
	api, err := pandaapi.New(pandaapi.Config{BaseURL: e.url, AccessID: "bss-owner", Password: testPassword, APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.DeleteAccount(ctx, acc.ID); err != nil {
		t.Fatal(err)
	}
	if got := status(active); got.GetStatus() != stMissing {
		t.Errorf("after deletion: %v", got)
	}
}

// TestIntegrationErrorCodes produces every code of the contract's error
// table through the real plugin.
func TestIntegrationErrorCodes(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, false)
	ctx := ctxT(t)
	c := e.client
	synchronize := func(ctx context.Context, req *provisioningv1.SynchronizeRequest) error {
		_, err := c.Synchronize(ctx, req)
		return err
	}
	customer := func(id, name, email string) *provisioningv1.Account {
		return &provisioningv1.Account{Id: id, Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: name, CorporateEmail: email}
	}

	// Before Configure.
	_, err := c.Probe(ctx, &provisioningv1.ProbeRequest{})
	if got := errKey(err); got != "FailedPrecondition NOT_CONFIGURED plugin" {
		t.Errorf("before Configure: %q", got)
	}
	_, err = c.Configure(ctx, &provisioningv1.ConfigureRequest{Settings: e.settings("api_url", "nope")})
	if got := errKey(err); got != "InvalidArgument INVALID_VALUE api_url" {
		t.Errorf("bad setting: %q", got)
	}

	// Wrong credentials: Probe says why, Synchronize fails FAILED_PRECONDITION.
	e.configure("password", "wrong-password")
	probe, err := c.Probe(ctx, &provisioningv1.ProbeRequest{})
	if err != nil || probe.GetReady() || !strings.Contains(probe.GetMessage(), "refused the credentials") {
		t.Errorf("Probe with a wrong password = %v, %v", probe, err)
	}
	err = synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
	if got := errKey(err); got != "FailedPrecondition REMOTE_UNAUTHORIZED settings" {
		t.Errorf("wrong password: %q", got)
	}
	e.configure("api_key", "wrong-key")
	err = synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
	if got := errKey(err); got != "FailedPrecondition REMOTE_UNAUTHORIZED settings" {
		t.Errorf("wrong API key: %q", got)
	}
	e.configure()

	deep := func(n int) []*provisioningv1.Ancestor {
		var out []*provisioningv1.Ancestor
		for i := range n {
			parent := ""
			if i < n-1 {
				parent = fmt.Sprintf("R-%d", i+1)
			}
			out = append(out, &provisioningv1.Ancestor{
				Account: &provisioningv1.Account{Id: fmt.Sprintf("R-%d", i), Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "R", ParentId: parent},
				Record:  &provisioningv1.SyncRecord{Status: stSynced, RemoteId: fmt.Sprintf("ACC-900000%d", i), Values: map[string]string{"role": "Reseller"}},
			})
		}
		return out
	}
	taken, err := c.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: customer("T-1", "Holder", "h@holder.example"), Values: map[string]string{"role": "User", "username": "taken.name"}})
	if err != nil || !taken.GetCreated() {
		t.Fatalf("set up the taken username: %v, %v", taken, err)
	}

	cases := []struct {
		name   string
		faults *pandasim.Faults
		icpt   func(w http.ResponseWriter, r *http.Request) bool
		call   func(ctx context.Context) error
		want   string
	}{
		{name: "INVALID_ARGUMENT: bad username", want: "InvalidArgument INVALID_USERNAME username",
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: map[string]string{"role": "User", "username": "no"}})
			}},
		{name: "INVALID_ARGUMENT: bad email", want: "InvalidArgument INVALID_EMAIL account.corporate_email",
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: customer("X-1", "X", "x@"), AutoFill: true})
			}},
		{name: "INVALID_ARGUMENT: role not allowed", want: "InvalidArgument ROLE_NOT_ALLOWED role",
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: map[string]string{"role": "Reseller", "username": "jane.doe"}})
			}},
		{name: "INVALID_ARGUMENT: missing account id", want: "InvalidArgument INVALID_ACCOUNT account.id",
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: customer("", "X", "x@x.example"), AutoFill: true})
			}},
		{name: "INVALID_ARGUMENT: unknown value key", want: "InvalidArgument UNKNOWN_FIELD colour",
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true, Values: map[string]string{"colour": "red"}})
			}},
		{name: "FAILED_PRECONDITION: parent not synced", want: "FailedPrecondition PARENT_NOT_SYNCED parent_account",
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: endCustomer(), AutoFill: true})
			}},
		{name: "FAILED_PRECONDITION: parent not a reseller", want: "FailedPrecondition PARENT_NOT_RESELLER parent_account",
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: endCustomer(), AutoFill: true,
					Ancestors: []*provisioningv1.Ancestor{resellerAncestor(stSynced, "User")}})
			}},
		{name: "FAILED_PRECONDITION: tier limit", want: "FailedPrecondition TIER_LIMIT parent_account",
			call: func(ctx context.Context) error {
				acc := endCustomer()
				acc.ParentId = "R-0"
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, AutoFill: true, Ancestors: deep(3)})
			}},
		{name: "ALREADY_EXISTS: username taken", want: "AlreadyExists USERNAME_TAKEN username",
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), Values: map[string]string{"role": "User", "username": "taken.name"}})
			}},
		{name: "UNAVAILABLE: Panda failing", want: "Unavailable REMOTE_UNAVAILABLE", faults: &pandasim.Faults{ErrorRate: 1},
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
			}},
		{name: "RESOURCE_EXHAUSTED: rate limit outlasts the retries", want: "ResourceExhausted RATE_LIMITED",
			icpt: func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasPrefix(r.URL.Path, "/rest/") {
					return false
				}
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"error":{"code":"RATE_LIMITED","message":"slow down"}}`)
				return true
			},
			call: func(ctx context.Context) error {
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
			}},
		{name: "DEADLINE_EXCEEDED: caller's deadline", want: "DeadlineExceeded", faults: &pandasim.Faults{Latency: pandasim.Duration(5 * time.Second)},
			call: func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				return synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.faults != nil {
				e.setFaults(*tc.faults)
				defer e.setFaults(pandasim.Faults{})
			}
			if tc.icpt != nil {
				e.setIntercept(tc.icpt)
				defer e.setIntercept(nil)
			}
			err := tc.call(ctx)
			if got := errKey(err); got != tc.want {
				t.Errorf("error = %q (%v), want %q", got, err, tc.want)
			}
			if d := diag.Parse(err); (d.Code == codes.Unavailable || d.Code == codes.ResourceExhausted) && d.RetryAfter <= 0 {
				t.Errorf("%v without RetryInfo", d.Code)
			}
		})
	}
	// None of the failures above left a Panda account behind.
	if n := len(e.state().byName["Acme Corp"]); n != 0 {
		t.Errorf("%d accounts left behind by failed calls", n)
	}
}

// TestIntegrationConcurrentSynchronize: 50 concurrent calls for one account
// make exactly one Panda account and one operator; exactly one call says it
// created them.
func TestIntegrationConcurrentSynchronize(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true)
	ctx := ctxT(t)
	const n = 50
	var wg sync.WaitGroup
	results := make([]*provisioningv1.SynchronizeResponse, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if results[i].GetCreated() {
			created++
		}
	}
	acc, op := e.exactlyOne("Acme Corp")
	if created != 1 {
		t.Errorf("%d calls report created, want 1", created)
	}
	for i, r := range results {
		if r.GetRecord().GetRemoteId() != acc.ID || r.GetRecord().GetValues()["username"] != op.Username {
			t.Errorf("call %d answered %v, want account %s", i, r.GetRecord(), acc.ID)
		}
	}
	// Requests: 4 for the call that did the work; 2 (GetOperator,
	// GetAccount) for each later call, which starts from the journaled
	// record.
	if got, most := e.sim.Stats().APIRequests, int64(4+2*(n-1)); got > most {
		t.Errorf("%d API requests for %d calls, want at most %d", got, n, most)
	}
}

// TestIntegrationCommitThenFail: Panda applies writes but the answers get
// lost. Retried as a BSS core would, every account still ends with exactly
// one Panda account and one operator.
func TestIntegrationCommitThenFail(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, true, pandasim.WithSeed(7))
	ctx := ctxT(t)

	// Every write loses its answer: the call cannot finish, but leaves no
	// duplicate; the retry after the fault finishes without creating more.
	e.setFaults(pandasim.Faults{CommitThenFailRate: 1, CommitThenFailMode: pandasim.CommitThenFailMixed})
	_, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
	if got := errKey(err); got != "Unavailable REMOTE_UNAVAILABLE" {
		t.Errorf("with every answer lost: %q", got)
	}
	if n := len(e.state().byName["Acme Corp"]); n != 1 {
		t.Fatalf("%d accounts after lost answers, want 1", n)
	}
	e.setFaults(pandasim.Faults{})
	resp, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := e.exactlyOne("Acme Corp")
	if resp.GetRecord().GetRemoteId() != acc.ID || resp.GetRecord().GetStatus() != stSynced {
		t.Errorf("retry answered %v", resp.GetRecord())
	}

	// Half the writes lose their answer, over many accounts.
	e.setFaults(pandasim.Faults{CommitThenFailRate: 0.5, CommitThenFailMode: pandasim.CommitThenFailMixed})
	for i := range 8 {
		acc := &provisioningv1.Account{
			Id: fmt.Sprintf("CTF-%d", i), Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER,
			Name: fmt.Sprintf("Lossy %d", i), CorporateEmail: fmt.Sprintf("owner%d@lossy.example", i),
		}
		var rec *provisioningv1.SyncRecord
		for attempt := 1; ; attempt++ {
			resp, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: acc, AutoFill: true})
			if err == nil {
				rec = resp.GetRecord()
				break
			}
			if c := diag.Parse(err).Code; c != codes.Unavailable || attempt == 20 {
				t.Fatalf("%s attempt %d: %v", acc.GetId(), attempt, err)
			}
		}
		pacc, op := e.exactlyOne(acc.GetName())
		if rec.GetRemoteId() != pacc.ID || rec.GetValues()["username"] != op.Username {
			t.Errorf("%s: record %v, Panda %+v %+v", acc.GetId(), rec, pacc, op)
		}
	}
	if e.sim.Stats().CommitThenFail == 0 {
		t.Error("no answer was lost: the test proves nothing")
	}
}

// TestIntegrationPending: an operator transaction slower than tx_deadline
// answers PENDING; GetSyncStatus and Synchronize resume it.
func TestIntegrationPending(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, false, pandasim.WithTxDelay(300*time.Millisecond))
	e.configure("tx_deadline", "0s")
	ctx := ctxT(t)
	resp, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true})
	if err != nil {
		t.Fatal(err)
	}
	pending := resp.GetRecord()
	if pending.GetStatus() != stPending || len(pending.GetPrivate()) == 0 || !resp.GetCreated() {
		t.Fatalf("Synchronize = %v", resp)
	}
	st, err := e.client.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: pending})
	if err != nil || st.GetRecord().GetStatus() != stPending {
		t.Fatalf("GetSyncStatus while pending = %v, %v", st, err)
	}
	// A retried Synchronize with the PENDING record creates nothing new.
	again, err := e.client.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: directCustomer(), AutoFill: true, Record: pending})
	if err != nil || again.GetCreated() || again.GetRecord().GetRemoteId() != pending.GetRemoteId() {
		t.Fatalf("Synchronize with the PENDING record = %v, %v", again, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err = e.client.GetSyncStatus(ctx, &provisioningv1.GetSyncStatusRequest{Record: pending})
		if err != nil {
			t.Fatal(err)
		}
		if st.GetRecord().GetStatus() != stPending || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := st.GetRecord(); got.GetStatus() != stSynced || strings.Contains(string(got.GetPrivate()), `"tx"`) {
		t.Errorf("GetSyncStatus after the transaction = %v", got)
	}
	e.exactlyOne("Acme Corp")
}

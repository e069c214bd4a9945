package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cloudbss/provisioning/host/servicemanager"
	"github.com/cloudbss/provisioning/internal/loadtest"
	"github.com/cloudbss/provisioning/internal/pandasim"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// smStack is pandasim + the daemon serving the interworks endpoint for
// the Panda plugin.
type smStack struct {
	sim    *loadtest.Sim
	host   *loadtest.Process
	url    string // the endpoint's base, http://127.0.0.1:PORT
	appID  string
	apiKey string
	logs   *loadtest.Logs
	track  int
	// client reaches the same daemon over gRPC, to check what it stored.
	client hostv1.HostServiceClient
}

// startServiceManager starts pandasim and provisioning-host with
// --service-manager-listen; the catalog gives the plugin's
// service_manager credentials, the key through env:.
func startServiceManager(t *testing.T, ctx context.Context) *smStack {
	t.Helper()
	logs := newLogs(t)
	creds := testCredentials(t)
	sim, err := loadtest.StartSim(ctx, bins.PandaSim, loadtest.SimConfig{Credentials: creds, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Stop(10 * time.Second) })
	s := &smStack{sim: sim, appID: "e2e-interworks-app", apiKey: secret(t, "smkey-"), logs: logs}

	dir := t.TempDir()
	plugin, err := filepath.Abs(bins.Plugin)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := yaml.Marshal(map[string]any{"plugins": []any{map[string]any{
		"name": "panda", "path": plugin,
		"settings": map[string]string{
			"api_url": sim.URL, "access_id": creds.AccessID, "password": "env:E2E_PANDA_PASSWORD",
			"api_key": "env:E2E_PANDA_API_KEY", "root_account_id": "ACC-0000001",
		},
		"service_manager": map[string]string{"application_id": s.appID, "api_key": "env:E2E_SM_API_KEY"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	catPath := filepath.Join(dir, "host.yaml")
	if err := os.WriteFile(catPath, cat, 0o600); err != nil {
		t.Fatal(err)
	}
	s.host, err = loadtest.Start(ctx, loadtest.ProcessSpec{
		Name: "host", Path: bins.Host, Logs: logs, StartTimeout: time.Minute,
		Args: []string{"--config", catPath, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
			"--service-manager-listen", "127.0.0.1:0", "--call-timeout", "20s"},
		Env:   []string{"E2E_PANDA_PASSWORD=" + creds.Password, "E2E_PANDA_API_KEY=" + creds.APIKey, "E2E_SM_API_KEY=" + s.apiKey},
		Ready: regexp.MustCompile(`service manager listening on (\S+)`),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.host.Stop(30 * time.Second) })
	s.url = s.host.Addr
	// The gRPC address is the line before the endpoint's.
	lines, err := logs.Find("provisioning-host listening on ")
	if err != nil || len(lines) == 0 {
		t.Fatalf("no gRPC address in the daemon's output (%v)", err)
	}
	grpcAddr := lines[len(lines)-1][strings.LastIndex(lines[len(lines)-1], " ")+1:]
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	s.client = hostv1.NewHostServiceClient(conn)
	t.Cleanup(func() {
		// The API key and the simulator's secrets never reach a log line.
		for _, secret := range []string{s.apiKey, creds.Password, creds.APIKey} {
			if hits, err := logs.Find(secret); err != nil || len(hits) > 0 {
				t.Errorf("a secret reached the logs (%v): %d lines", err, len(hits))
			}
		}
	})
	return s
}

// answer is one HTTP exchange.
type answer struct {
	status     int
	retryAfter string
	servicemanager.Result
}

// post sends body to route with the stack's credentials and a fresh track
// id, which it returns in the answer's logs check.
func (s *smStack) post(t *testing.T, ctx context.Context, route string, body any) answer {
	t.Helper()
	return s.callWith(t, ctx, "POST", route, body, s.appID, s.apiKey)
}

func (s *smStack) callWith(t *testing.T, ctx context.Context, method, route string, body any, appID, key string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+"/panda/api/"+route, rd)
	if err != nil {
		t.Fatal(err)
	}
	s.track++
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(servicemanager.HeaderApplicationID, appID)
	req.Header.Set(servicemanager.HeaderAPIKey, key)
	req.Header.Set(servicemanager.HeaderTrackID, fmt.Sprintf("e2e-track-%d", s.track))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &a.Result); err != nil {
		t.Fatalf("%s %s: not the envelope: %v: %s", method, route, err, raw)
	}
	return a
}

// ok fails unless the answer is success (HTTP 200, Code 0) with a Result.
func (a answer) ok(t *testing.T, what string) string {
	t.Helper()
	if a.status != 200 || a.Code != 0 || a.Result.Result == "" {
		t.Fatalf("%s: HTTP %d Code %d %q Result %q, want success", what, a.status, a.Code, a.Message, a.Result.Result)
	}
	return a.Result.Result
}

func (s *smStack) state(t *testing.T, ctx context.Context) pandasim.Snapshot {
	t.Helper()
	snap, err := s.sim.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func accountOf(snap pandasim.Snapshot, id string) (pandasim.Account, bool) {
	for _, a := range snap.Accounts {
		if a.ID == id {
			return a, true
		}
	}
	return pandasim.Account{}, false
}

func operatorsOf(snap pandasim.Snapshot, accountID string) []pandasim.Operator {
	var out []pandasim.Operator
	for _, o := range snap.Operators {
		if o.AccountID == accountID {
			out = append(out, o)
		}
	}
	return out
}

// interworks' Account bodies of the flow, spelled as its SDK models.
func reseller() map[string]any {
	return map[string]any{
		"ID": "IW-R-1", "ExternalID": "", "ResellerID": "", "Name": "Acme Resellers Ltd", "Email": "ops@acme-resellers.example",
		"Phone": "+34 910 000 000", "Language": "es-ES",
		"ContactDetails": map[string]any{"PrimaryFirstName": "Ana", "PrimaryLastName": "Ruiz", "PrimaryPhone": "+34 600 000 001", "PrimaryEmail": "ana@acme-resellers.example"},
		"Address":        map[string]any{"Country": map[string]any{"Code": "ES", "Name": "Spain"}},
		"SyncOptions":    map[string]any{"role": "Reseller", "username": "iw-acme-resellers"},
	}
}

func endCustomer() map[string]any {
	return map[string]any{
		"ID": "IW-C-1", "ExternalID": "", "ResellerID": "IW-R-1", "ResellerExternalID": "", "Name": "Umbrella SL", "Email": "it@umbrella.example",
		// The older ContactDetails shape.
		"ContactDetails": map[string]any{"FirstName": "Bo", "LastName": "Li", "Phone": "+34 600 000 002", "Email": "bo@umbrella.example"},
		"SyncOptions":    map[string]any{"parent_account": "", "role": "User", "username": "iw-umbrella-admin"},
	}
}

func storefrontCustomer() map[string]any {
	return map[string]any{
		"ID": "IW-S-1", "ExternalID": "", "ResellerID": "", "Name": "Initech", "Email": "peter.gibbons@initech.example",
		"ContactDetails": map[string]any{"PrimaryFirstName": "Peter", "PrimaryLastName": "Gibbons", "PrimaryPhone": "", "PrimaryEmail": "peter.gibbons@initech.example"},
		// interworks fills the username option with the customer's email.
		"SyncOptions": map[string]any{"username": "peter.gibbons@initech.example"},
	}
}

var pandaUsername = regexp.MustCompile(`^[A-Za-z0-9.+_-]{5,65}$`)

// TestServiceManagerAccounts runs interworks' account calls over HTTP
// against the real daemon, the Panda plugin and pandasim: the reseller
// provisioning flow, a failing pre-check, a storefront order, replays,
// authentication and Panda being down.
func TestServiceManagerAccounts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := startServiceManager(t, ctx)
	start := s.state(t, ctx)

	t.Run("wrong API key is 401 and reaches nothing", func(t *testing.T) {
		a := s.callWith(t, ctx, "POST", "Accounts/Synchronize", reseller(), s.appID, "wrong-"+s.apiKey)
		if a.status != http.StatusUnauthorized || a.Code == 0 {
			t.Fatalf("HTTP %d Code %d, want 401", a.status, a.Code)
		}
		if got := s.state(t, ctx); len(got.Accounts) != len(start.Accounts) {
			t.Errorf("a refused call created accounts: %d → %d", len(start.Accounts), len(got.Accounts))
		}
	})

	t.Run("sync options", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/PANDA/api/accounts/SYNCOPTIONS", nil)
		req.Header.Set(servicemanager.HeaderApplicationID, s.appID)
		req.Header.Set(servicemanager.HeaderAPIKey, s.apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got servicemanager.SyncOptionsResult
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("HTTP %d: %v", resp.StatusCode, err)
		}
		ids := map[string]servicemanager.CustomFieldDefinition{}
		for _, f := range got.Fields {
			ids[f.ID] = f.Definition
		}
		if ids["role"].Kind != "List" || len(ids["role"].PredefinedValues) != 2 || ids["username"].Kind != "SimpleValue" || !ids["parent_account"].IsReadOnly {
			t.Errorf("options = %+v", got.Fields)
		}
	})

	t.Run("end customer before its reseller: the pre-check fails and creates nothing", func(t *testing.T) {
		before := s.state(t, ctx)
		a := s.post(t, ctx, "Accounts/Synchronize?checkonly=true", endCustomer())
		if a.status != 200 || a.Code != -9 || !strings.Contains(a.Message, "parent_account") {
			t.Fatalf("HTTP %d Code %d %q, want 200, -9 naming parent_account", a.status, a.Code, a.Message)
		}
		after := s.state(t, ctx)
		if len(after.Accounts) != len(before.Accounts) || len(after.Operators) != len(before.Operators) {
			t.Errorf("the pre-check created remote objects")
		}
	})

	var resellerID, customerID, storefrontID string
	t.Run("reseller provisioning flow", func(t *testing.T) {
		pre := s.post(t, ctx, "Accounts/Synchronize", withCheckOnly(reseller()))
		if pre.status != 200 || pre.Code != 0 {
			t.Fatalf("reseller pre-check: HTTP %d Code %d %q", pre.status, pre.Code, pre.Message)
		}
		resellerID = s.post(t, ctx, "Accounts/Synchronize", reseller()).ok(t, "reseller Synchronize")
		cust := endCustomer()
		customerID = s.post(t, ctx, "Accounts/Synchronize", cust).ok(t, "end customer Synchronize")

		snap := s.state(t, ctx)
		r, ok := accountOf(snap, resellerID)
		if !ok || r.ParentID != snap.RootAccountID {
			t.Errorf("reseller %s: %+v (found %v), want under the root %s", resellerID, r, ok, snap.RootAccountID)
		}
		c, ok := accountOf(snap, customerID)
		if !ok || c.ParentID != resellerID {
			t.Errorf("end customer %s: parent %q (found %v), want the reseller's account %s", customerID, c.ParentID, ok, resellerID)
		}
		if ops := operatorsOf(snap, customerID); len(ops) != 1 || ops[0].Username != "iw-umbrella-admin" {
			t.Errorf("end customer's operators: %+v", ops)
		}
		// The host stored what a gRPC caller sees.
		rec, err := s.client.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: "panda", AccountId: "IW-C-1"})
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetRecord().GetRemoteParentId() != resellerID || rec.GetAccount().GetParentId() != "IW-R-1" {
			t.Errorf("stored end customer: record %v account %v", rec.GetRecord(), rec.GetAccount())
		}
		ex := s.post(t, ctx, "Accounts/Exists", map[string]any{"ID": "IW-C-1"})
		if ex.Code != 1 || ex.Result.Result != customerID {
			t.Errorf("Exists: Code %d Result %q, want 1 %s", ex.Code, ex.Result.Result, customerID)
		}
	})

	t.Run("storefront order: the email username becomes a valid Panda username", func(t *testing.T) {
		a := s.post(t, ctx, "Accounts/Synchronize", storefrontCustomer())
		storefrontID = a.ok(t, "storefront Synchronize")
		u := a.AccountExtraInfo["username"]
		if !pandaUsername.MatchString(u) || strings.Contains(u, "@") {
			t.Fatalf("reported username %q is not a valid Panda username", u)
		}
		ops := operatorsOf(s.state(t, ctx), storefrontID)
		if len(ops) != 1 || ops[0].Username != u {
			t.Errorf("Panda operators of %s: %+v, want one named %q", storefrontID, ops, u)
		}
	})

	t.Run("replaying every call changes nothing", func(t *testing.T) {
		if resellerID == "" || customerID == "" || storefrontID == "" {
			t.Skip("the flow above failed")
		}
		before := s.state(t, ctx)
		for _, c := range []struct {
			body map[string]any
			want string
		}{{reseller(), resellerID}, {endCustomer(), customerID}, {storefrontCustomer(), storefrontID}} {
			// interworks sends the Result back as ExternalID.
			c.body["ExternalID"] = c.want
			if c.body["ResellerID"] != "" {
				c.body["ResellerExternalID"] = resellerID
			}
			if got := s.post(t, ctx, "Accounts/Synchronize", c.body).ok(t, "replay"); got != c.want {
				t.Errorf("replay of %s answered %s, want %s", c.body["ID"], got, c.want)
			}
		}
		after := s.state(t, ctx)
		if len(after.Accounts) != len(before.Accounts) || len(after.Operators) != len(before.Operators) {
			t.Errorf("replays changed Panda: %d/%d accounts/operators → %d/%d",
				len(before.Accounts), len(before.Operators), len(after.Accounts), len(after.Operators))
		}
	})

	t.Run("Panda down: 503 with Retry-After, then the retry succeeds", func(t *testing.T) {
		if err := s.sim.SetFaults(ctx, pandasim.Faults{ErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		body := map[string]any{"ID": "IW-D-1", "Name": "Down Corp", "Email": "it@down.example", "SyncOptions": map[string]any{"username": "iw-down-admin"}}
		a := s.post(t, ctx, "Accounts/Synchronize", body)
		if err := s.sim.SetFaults(ctx, pandasim.Faults{}); err != nil {
			t.Fatal(err)
		}
		if a.status != http.StatusServiceUnavailable || a.retryAfter == "" || a.Code == 0 {
			t.Fatalf("HTTP %d Retry-After %q Code %d %q, want 503 with Retry-After", a.status, a.retryAfter, a.Code, a.Message)
		}
		id := s.post(t, ctx, "Accounts/Synchronize", body).ok(t, "retry after Panda is back")
		if ops := operatorsOf(s.state(t, ctx), id); len(ops) != 1 {
			t.Errorf("after the retry, %s has %d operators, want 1", id, len(ops))
		}
	})

	t.Run("Accounts/Delete", func(t *testing.T) {
		if storefrontID == "" {
			t.Skip("the storefront order above failed")
		}
		a := s.post(t, ctx, "Accounts/Delete", map[string]any{"ID": "IW-S-1", "ExternalID": storefrontID})
		if a.status == http.StatusNotImplemented {
			t.Skipf("host does not implement DeleteAccount yet: %s", a.Message)
		}
		a.ok(t, "Delete")
		if _, ok := accountOf(s.state(t, ctx), storefrontID); ok {
			t.Errorf("Panda account %s still exists after Delete", storefrontID)
		}
		// Idempotent.
		a = s.post(t, ctx, "Accounts/Delete", map[string]any{"ID": "IW-S-1", "ExternalID": storefrontID})
		if a.status != 200 || a.Code != 0 {
			t.Errorf("second Delete: HTTP %d Code %d %q", a.status, a.Code, a.Message)
		}
	})

	t.Run("every log line of a call carries its track id", func(t *testing.T) {
		hits, err := s.logs.Find("e2e-track-")
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) < s.track-1 { // the 401 logs its track id too
			t.Errorf("%d log lines with a track id for %d calls", len(hits), s.track)
		}
	})
}

func withCheckOnly(m map[string]any) map[string]any {
	m["CheckOnly"] = true
	return m
}

// TestServiceManagerSubscriptions runs interworks' order calls: Create →
// Update (quantity) → Suspend → Activate → Cancel, each Result sent back as
// the next call's ID, a failing pre-check, and replays. It skips while the
// host does not implement ProvisionSubscription.
func TestServiceManagerSubscriptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := startServiceManager(t, ctx)
	s.post(t, ctx, "Accounts/Synchronize", reseller()).ok(t, "reseller Synchronize")
	s.post(t, ctx, "Accounts/Synchronize", endCustomer()).ok(t, "end customer Synchronize")

	order := func(id string, qty int, check bool) map[string]any {
		return map[string]any{
			"ID": id, "SubscriptionID": "IW-SUB-1", "Name": "Panda EPDR", "ServiceType": "panda", "ProductID": "EPDR",
			"ActionType": "Provision", "Quantity": qty, "Account": endCustomer(), "IsTrial": false, "CheckOnly": check,
			"AttributeList": map[string]any{}, "Addons": []any{},
		}
	}
	pre := s.post(t, ctx, "Subscriptions/Create", order("", 10, true))
	if pre.status == http.StatusNotImplemented {
		t.Skipf("host does not implement ProvisionSubscription yet: %s", pre.Message)
	}
	if pre.status != 200 || pre.Code != 0 {
		t.Fatalf("pre-check: HTTP %d Code %d %q", pre.status, pre.Code, pre.Message)
	}
	// An add-on above its base product breaks a rule of the catalogue: a
	// business error (Code -3), and nothing is allocated.
	tooMany := order("", 10, true)
	tooMany["Addons"] = []any{map[string]any{"ID": "IW-ADDON-1", "ProductID": "PATCH_MANAGEMENT", "ActionType": "Provision", "Quantity": 20}}
	bad := s.post(t, ctx, "Subscriptions/Create", tooMany)
	if bad.status != 200 || bad.Code != -3 {
		t.Errorf("pre-check of 20 add-on licences on a base of 10: HTTP %d Code %d %q, want HTTP 200 Code -3", bad.status, bad.Code, bad.Message)
	}

	id := s.post(t, ctx, "Subscriptions/Create", order("", 10, false)).ok(t, "Create")
	steps := []struct {
		route    string
		body     map[string]any
		status   provisioningv1.SubscriptionStatus
		quantity int32
	}{
		{"Subscriptions/Update", order(id, 20, false), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, 20},
		{"Subscriptions/Suspend", order(id, 20, false), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED, 20},
		{"Subscriptions/Activate", order(id, 20, false), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, 20},
		{"Subscriptions/Cancel", order(id, 20, false), provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED, 20},
	}
	for _, st := range steps {
		got := s.post(t, ctx, st.route, st.body).ok(t, st.route)
		if got != id {
			t.Errorf("%s answered Result %q, want %q", st.route, got, id)
		}
		rec, err := s.client.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: "panda", SubscriptionId: id})
		if err != nil {
			t.Fatalf("after %s: %v", st.route, err)
		}
		if r := rec.GetRecord(); r.GetStatus() != st.status || r.GetQuantity() != st.quantity || r.GetAccountId() != "IW-C-1" {
			t.Errorf("after %s: record %v, want %v with %d licences of IW-C-1", st.route, r, st.status, st.quantity)
		}
		// Replaying each call changes nothing and answers the same.
		before := s.state(t, ctx)
		if again := s.post(t, ctx, st.route, st.body); again.status != 200 || again.Code != 0 {
			t.Errorf("replay of %s: HTTP %d Code %d %q", st.route, again.status, again.Code, again.Message)
		}
		if after := s.state(t, ctx); len(after.Accounts) != len(before.Accounts) {
			t.Errorf("replay of %s changed Panda", st.route)
		}
	}
	after := s.post(t, ctx, "Subscriptions/Activate", order(id, 20, false))
	if after.Code != -9 {
		t.Errorf("Activate after Cancel: Code %d %q, want -9", after.Code, after.Message)
	}
}

package pandasim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudbss/provisioning/internal/pandasim"
)

// harness drives a simulator in-process through its http.Handler.
type harness struct {
	t   testing.TB
	sim *pandasim.Server
	tok string
}

func newHarness(t testing.TB, opts ...pandasim.Option) *harness {
	t.Helper()
	sim, err := pandasim.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, sim: sim}
	h.tok = h.token()
	return h
}

func (h *harness) token() string {
	h.t.Helper()
	rec := h.raw(tokenRequest(pandasim.DefaultAccessID, pandasim.DefaultPassword, "client_credentials", "api-access"))
	if rec.Code != http.StatusOK {
		h.t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var tr pandasim.TokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
		h.t.Fatal(err)
	}
	return tr.AccessToken
}

func tokenRequest(id, pw, grant, scope string) *http.Request {
	form := url.Values{"grant_type": {grant}, "scope": {scope}}
	r := httptest.NewRequest(http.MethodPost, pandasim.TokenPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		r.SetBasicAuth(id, pw)
	}
	return r
}

func (h *harness) raw(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, r)
	return rec
}

// do sends an authenticated API request and decodes the answer into out
// (when non-nil), returning the status and, for errors, the code.
func (h *harness) do(method, target, body string, out any) (int, string) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.Header.Set("Authorization", "Bearer "+h.tok)
	r.Header.Set("WatchGuard-API-Key", pandasim.DefaultAPIKey)
	rec := h.raw(r)
	return rec.Code, decodeAnswer(h.t, rec, out)
}

func decodeAnswer(t testing.TB, rec *httptest.ResponseRecorder, out any) string {
	t.Helper()
	if rec.Code >= 400 {
		var eb pandasim.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
			t.Fatalf("error answer %d is not an ErrorBody: %q", rec.Code, rec.Body)
		}
		return eb.Error.Code
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("answer %q: %v", rec.Body, err)
		}
	}
	return ""
}

func (h *harness) createAccount(parent string, typ int, name string) pandasim.Account {
	h.t.Helper()
	var a pandasim.Account
	body := `{"type":` + string(rune('0'+typ)) + `,"name":"` + name + `","email":"` + name + `@example.com"}`
	if st, code := h.do(http.MethodPost, pandasim.AccountsPrefix+"/"+parent, body, &a); st != http.StatusCreated {
		h.t.Fatalf("create %s under %s: %d %s", name, parent, st, code)
	}
	return a
}

const root = pandasim.DefaultRootAccountID

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := map[string]struct {
		req      *http.Request
		wantCode int
		wantErr  string
	}{
		"good":            {req: tokenRequest("demo", "demo-password", "client_credentials", "api-access"), wantCode: 200},
		"wrong password":  {req: tokenRequest("demo", "nope", "client_credentials", "api-access"), wantCode: 401, wantErr: pandasim.CodeInvalidClient},
		"no basic auth":   {req: tokenRequest("", "", "client_credentials", "api-access"), wantCode: 401, wantErr: pandasim.CodeInvalidClient},
		"wrong grant":     {req: tokenRequest("demo", "demo-password", "password", "api-access"), wantCode: 400, wantErr: pandasim.CodeUnsupportedGrantType},
		"wrong scope":     {req: tokenRequest("demo", "demo-password", "client_credentials", "admin"), wantCode: 400, wantErr: pandasim.CodeInvalidScope},
		"GET not allowed": {req: httptest.NewRequest(http.MethodGet, pandasim.TokenPath, nil), wantCode: 405, wantErr: pandasim.CodeInvalidRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := h.raw(tc.req)
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantErr != "" {
				if got := decodeAnswer(t, rec, nil); got != tc.wantErr {
					t.Errorf("code %q, want %q", got, tc.wantErr)
				}
			}
		})
	}
}

func TestAPIAuthentication(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	h := newHarness(t, pandasim.WithTokenTTL(time.Minute), pandasim.WithClock(func() time.Time { return time.Unix(0, clock.Load()) }))
	expired := h.tok
	clock.Add(int64(time.Minute))
	fresh := h.token()
	tests := map[string]struct {
		auth, key string
		wantCode  int
		wantErr   string
	}{
		"ok":                {auth: "Bearer " + fresh, key: pandasim.DefaultAPIKey, wantCode: 200},
		"no token":          {key: pandasim.DefaultAPIKey, wantCode: 401, wantErr: pandasim.CodeInvalidToken},
		"unknown token":     {auth: "Bearer 0123", key: pandasim.DefaultAPIKey, wantCode: 401, wantErr: pandasim.CodeInvalidToken},
		"basic, not bearer": {auth: "Basic ZGVtbzpkZW1vLXBhc3N3b3Jk", key: pandasim.DefaultAPIKey, wantCode: 401, wantErr: pandasim.CodeInvalidToken},
		"expired token":     {auth: "Bearer " + expired, key: pandasim.DefaultAPIKey, wantCode: 401, wantErr: pandasim.CodeTokenExpired},
		"no api key":        {auth: "Bearer " + fresh, wantCode: 403, wantErr: pandasim.CodeInvalidAPIKey},
		"wrong api key":     {auth: "Bearer " + fresh, key: "other", wantCode: 403, wantErr: pandasim.CodeInvalidAPIKey},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, pandasim.AccountsPrefix+"/"+root, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.key != "" {
				r.Header.Set("WatchGuard-API-Key", tc.key)
			}
			rec := h.raw(r)
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
			if got := decodeAnswer(t, rec, nil); got != tc.wantErr {
				t.Errorf("code %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sub := h.createAccount(root, 2, "sub")
	tests := map[string]struct {
		method, target, body string
		wantStatus           int
		wantErr              string
	}{
		"empty body":          {"POST", pandasim.AccountsPrefix + "/" + root, "", 400, pandasim.CodeInvalidRequest},
		"not json":            {"POST", pandasim.AccountsPrefix + "/" + root, "{", 400, pandasim.CodeInvalidRequest},
		"array":               {"POST", pandasim.AccountsPrefix + "/" + root, "[]", 400, pandasim.CodeInvalidRequest},
		"trailing data":       {"POST", pandasim.AccountsPrefix + "/" + root, `{"type":2,"name":"a","email":"a@b"} {}`, 400, pandasim.CodeInvalidRequest},
		"type as string":      {"POST", pandasim.AccountsPrefix + "/" + root, `{"type":"2","name":"a","email":"a@b"}`, 400, pandasim.CodeInvalidRequest},
		"huge body":           {"POST", pandasim.AccountsPrefix + "/" + root, `{"name":"` + strings.Repeat("a", 70_000) + `"}`, 413, pandasim.CodeInvalidRequest},
		"unknown fields ok":   {"POST", pandasim.AccountsPrefix + "/" + root, `{"type":2,"name":"a","email":"a@b","extra":1}`, 201, ""},
		"bad type filter":     {"GET", pandasim.AccountsPrefix + "/" + root + "/children?type=3", "", 400, pandasim.CodeInvalidRequest},
		"bad offset":          {"GET", pandasim.AccountsPrefix + "/" + root + "/children?offset=-1", "", 400, pandasim.CodeInvalidRequest},
		"bad limit":           {"GET", pandasim.AccountsPrefix + "/" + root + "/children?limit=x", "", 400, pandasim.CodeInvalidRequest},
		"no transaction id":   {"GET", pandasim.OperatorsPrefix + "/TransactionStatus", "", 400, pandasim.CodeInvalidRequest},
		"no account id":       {"GET", pandasim.OperatorsPrefix + "/operators", "", 400, pandasim.CodeInvalidRequest},
		"operator no account": {"POST", pandasim.OperatorsPrefix + "/operators", `{"username":"abcde","email":"a@b","role":"OWNER"}`, 400, pandasim.CodeInvalidRequest},
		"operator bad role":   {"POST", pandasim.OperatorsPrefix + "/operators", `{"username":"abcde","accountId":"` + sub.ID + `","email":"a@b","role":"OWNER"}`, 400, pandasim.CodeInvalidRole},
		"unknown route":       {"GET", "/rest/nope", "", 404, pandasim.CodeNotFound},
		"wrong method":        {"PUT", pandasim.AccountsPrefix + "/" + root, "", 405, pandasim.CodeInvalidRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, code := h.do(tc.method, tc.target, tc.body, nil)
			if diff := cmp.Diff([2]any{tc.wantStatus, tc.wantErr}, [2]any{st, code}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSeedReplaysIDs(t *testing.T) {
	t.Parallel()
	ids := func(seed uint64) []string {
		h := newHarness(t, pandasim.WithSeed(seed))
		var out []string
		for range 5 {
			out = append(out, h.createAccount(root, 2, "x").ID)
		}
		return out
	}
	a, b, c := ids(42), ids(42), ids(43)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different ids:\n%s", diff)
	}
	if cmp.Equal(a, c) {
		t.Errorf("different seeds, same ids %v", a)
	}
}

func TestTxDelayAndActivation(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	h := newHarness(t, pandasim.WithTxDelay(time.Minute), pandasim.WithClock(func() time.Time { return time.Unix(0, clock.Load()) }))
	sp := h.createAccount(root, 1, "sp")
	var tx pandasim.Transaction
	if st, code := h.do("POST", pandasim.OperatorsPrefix+"/operators", `{"username":"owner.sp","accountId":"`+sp.ID+`","email":"o@sp.example","role":"OWNER"}`, &tx); st != 202 || tx.Status != "PENDING" {
		t.Fatalf("POST: %d %s %+v", st, code, tx)
	}
	status := func() string {
		var got pandasim.Transaction
		h.do("GET", pandasim.OperatorsPrefix+"/TransactionStatus?transaction_id="+tx.ID, "", &got)
		return got.Status
	}
	if s := status(); s != "PENDING" {
		t.Fatalf("before the delay: %s", s)
	}
	clock.Add(int64(time.Minute))
	if s := status(); s != "SUCCESS" {
		t.Fatalf("after the delay: %s", s)
	}
	// Activation by username, then by the emailed token; both idempotent.
	for _, q := range []string{"username=OWNER.SP", "token=" + h.sim.Snapshot().Outbox[0].Token} {
		rec := h.raw(httptest.NewRequest("POST", "/_sim/activate?"+q, nil))
		var op pandasim.Operator
		if decodeAnswer(t, rec, &op); rec.Code != 200 || !op.Activated {
			t.Errorf("activate %s: %d %+v", q, rec.Code, op)
		}
	}
	if rec := h.raw(httptest.NewRequest("POST", "/_sim/activate?token=nope", nil)); rec.Code != 404 {
		t.Errorf("unknown token: %d", rec.Code)
	}
}

func TestFaultsEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	put := func(body string) *httptest.ResponseRecorder {
		return h.raw(httptest.NewRequest("PUT", "/_sim/faults", strings.NewReader(body)))
	}
	if rec := put(`{"errorRate":1.5}`); rec.Code != 400 {
		t.Errorf("errorRate 1.5 accepted: %d", rec.Code)
	}
	if rec := put(`{"commitThenFailMode":"sometimes"}`); rec.Code != 400 {
		t.Errorf("bad mode accepted: %d", rec.Code)
	}
	if rec := put(`{"errorRate":1,"latency":"1ms","rateLimit":1000,"commitThenFailRate":0.5,"commitThenFailMode":"cut"}`); rec.Code != 200 {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	var f pandasim.Faults
	decodeAnswer(t, h.raw(httptest.NewRequest("GET", "/_sim/faults", nil)), &f)
	want := pandasim.Faults{ErrorRate: 1, Latency: pandasim.Duration(time.Millisecond), RateLimit: 1000, CommitThenFailRate: 0.5, CommitThenFailMode: "cut"}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
	if st, code := h.do("GET", pandasim.AccountsPrefix+"/"+root, "", nil); st != 503 || code != pandasim.CodeUnavailable {
		t.Errorf("with errorRate 1: %d %s", st, code)
	}
	// /_sim is never faulted.
	if rec := h.raw(httptest.NewRequest("GET", "/_sim/state", nil)); rec.Code != 200 {
		t.Errorf("/_sim/state faulted: %d", rec.Code)
	}
	if rec := put(`{}`); rec.Code != 200 {
		t.Fatal(rec.Code)
	}
	if st, _ := h.do("GET", pandasim.AccountsPrefix+"/"+root, "", nil); st != 200 {
		t.Errorf("after clearing: %d", st)
	}
	var stats pandasim.Stats
	decodeAnswer(t, h.raw(httptest.NewRequest("GET", "/_sim/stats", nil)), &stats)
	if stats.InjectedErrors != 1 || stats.ByRoute["GET "+pandasim.AccountsPrefix+"/{id}"] != 2 || stats.APIRequests != 2 {
		t.Errorf("stats = %+v", stats)
	}
}

func TestResetKeepsTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first := h.createAccount(root, 2, "a")
	if rec := h.raw(httptest.NewRequest("POST", "/_sim/reset", nil)); rec.Code != 204 {
		t.Fatal(rec.Code)
	}
	if n := len(h.sim.Snapshot().Accounts); n != 1 {
		t.Errorf("accounts after reset = %d", n)
	}
	// The RNG is re-seeded: the same id comes again.
	if again := h.createAccount(root, 2, "a"); again.ID != first.ID {
		t.Errorf("after reset id %s, want %s", again.ID, first.ID)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pandasim.WithTxDelay(time.Hour))
	sp := h.createAccount(root, 1, "sp")
	sub := h.createAccount(sp.ID, 2, "sub")
	h.createAccount(sp.ID, 2, "other")
	h.do("POST", pandasim.OperatorsPrefix+"/operators", `{"username":"pending.op","accountId":"`+sub.ID+`","email":"p@x.example","role":"ANALYST"}`, nil)
	path := filepath.Join(t.TempDir(), "state.json")
	if err := h.sim.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	before := h.sim.Snapshot()
	h3 := newHarness(t, pandasim.WithTxDelay(time.Hour))
	if err := h3.sim.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, h3.sim.Snapshot()); diff != "" {
		t.Errorf("round trip (-saved +loaded):\n%s", diff)
	}
	// The indexes were rebuilt: children by name, the reserved username.
	var page pandasim.AccountPage
	h3.do("GET", pandasim.AccountsPrefix+"/"+sp.ID+"/children?name=sub", "", &page)
	if page.Total != 1 || page.Data[0].ID != sub.ID {
		t.Errorf("children by name after load: %+v", page)
	}
	if err := h3.sim.Restore(h3.sim.Snapshot()); err != nil { // a restore of a restore is fine
		t.Fatal(err)
	}
	// The pending transaction still holds its username: a second claim is
	// doomed.
	var dup pandasim.Transaction
	h3.do("POST", pandasim.OperatorsPrefix+"/operators", `{"username":"PENDING.OP","accountId":"`+sub.ID+`","email":"p@x.example","role":"ANALYST"}`, &dup)
	txs := h3.sim.Snapshot().Transactions
	if len(txs) != 2 || txs[1].DoomedCode != pandasim.CodeUsernameTaken {
		t.Errorf("transactions after load = %+v; want the second doomed", txs)
	}
	if st, _ := h3.do("DELETE", pandasim.AccountsPrefix+"/"+sp.ID, "", nil); st != 409 {
		t.Errorf("delete of a loaded parent with children: %d, want 409", st)
	}
}

func TestLoadRejectsBrokenState(t *testing.T) {
	t.Parallel()
	sim, _ := pandasim.New()
	for name, snap := range map[string]pandasim.Snapshot{
		"no root id":      {},
		"root missing":    {RootAccountID: root, Accounts: []pandasim.Account{{ID: "ACC-0000002", ParentID: root}}},
		"orphan":          {RootAccountID: root, Accounts: []pandasim.Account{{ID: root}, {ID: "ACC-0000003", ParentID: "ACC-0000002"}}},
		"orphan operator": {RootAccountID: root, Accounts: []pandasim.Account{{ID: root}}, Operators: []pandasim.Operator{{Username: "abcde", AccountID: "ACC-0000002"}}},
	} {
		if err := sim.Restore(snap); err == nil {
			t.Errorf("%s: Restore accepted it", name)
		}
	}
}

// The rate limit states itself on every API answer, 429 or not, so that a
// client can pace to it; without a limit nothing is stated.
func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Unix(1_000, 0).UnixNano())
	h := newHarness(t, pandasim.WithClock(func() time.Time { return time.Unix(0, clock.Load()) }),
		pandasim.WithFaults(pandasim.Faults{RateLimit: 4, RateBurst: 2}))
	type stated struct {
		Status                          int
		Policy, Limit, Remaining, Reset string
		RetryAfter                      string
	}
	get := func() stated {
		r := httptest.NewRequest(http.MethodGet, pandasim.AccountsPrefix+"/"+root, nil)
		r.Header.Set("Authorization", "Bearer "+h.tok)
		r.Header.Set("WatchGuard-API-Key", pandasim.DefaultAPIKey)
		rec := h.raw(r)
		hd := rec.Result().Header
		return stated{rec.Code, hd.Get(pandasim.RateLimitPolicyHeader), hd.Get(pandasim.RateLimitLimitHeader),
			hd.Get(pandasim.RateLimitRemainingHeader), hd.Get(pandasim.RateLimitResetHeader), hd.Get("Retry-After")}
	}
	var got []stated
	got = append(got, get(), get(), get()) // the bucket of 2, then refused
	clock.Add(int64(250 * time.Millisecond))
	got = append(got, get()) // one token refilled, spent
	want := []stated{
		{200, "4;w=1", "2", "1", "1", ""},
		{200, "4;w=1", "2", "0", "1", ""},
		{429, "4;w=1", "2", "0", "1", "1"},
		{200, "4;w=1", "2", "0", "1", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}

	free := newHarness(t)
	r := httptest.NewRequest(http.MethodGet, pandasim.AccountsPrefix+"/"+root, nil)
	r.Header.Set("Authorization", "Bearer "+free.tok)
	r.Header.Set("WatchGuard-API-Key", pandasim.DefaultAPIKey)
	if v := free.raw(r).Result().Header.Get(pandasim.RateLimitLimitHeader); v != "" {
		t.Errorf("no rate limit, yet RateLimit-Limit: %q", v)
	}
}

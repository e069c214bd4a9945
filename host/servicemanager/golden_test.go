package servicemanager_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudbss/provisioning/host/servicemanager"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

var update = flag.Bool("update", false, "rewrite the golden responses in testdata/")

const (
	appID  = "app-golden"
	apiKey = "key-golden-secret"
)

func newServer(t *testing.T, h servicemanager.Host, opts ...servicemanager.Option) *servicemanager.Server {
	t.Helper()
	s, err := servicemanager.New(h, map[string]servicemanager.Credentials{"panda": {ApplicationID: appID, APIKey: apiKey}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// synced puts R-100 as a synchronized reseller.
func synced(f *fakeHost) {
	f.put(&provisioningv1.Account{Id: "R-100", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Acme Resellers Ltd"},
		&provisioningv1.SyncRecord{Plugin: "panda", AccountId: "R-100", Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: "REMOTE-R-100",
			Values: map[string]string{"role": "Reseller", "username": "acme-resellers"}})
}

// goldenCase is one call: testdata/NAME.request.json is the body
// interworks sends (field names as its SDK models spell them),
// testdata/NAME.response.json the body answered.
type goldenCase struct {
	method, path string
	header       http.Header // replaces the credentials when set
	setup        func(*fakeHost)
	status       int
	retryAfter   string
	// host checks the requests the host received.
	host func(t *testing.T, calls []proto.Message)
}

var goldenCases = map[string]goldenCase{
	"syncoptions": {method: "GET", path: "/panda/api/Accounts/SyncOptions", status: 200},
	"synchronize-reseller": {method: "POST", path: "/panda/api/accounts/synchronize", status: 200,
		host: func(t *testing.T, calls []proto.Message) {
			want := &provisioningv1.Account{Id: "R-100", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Acme Resellers Ltd",
				CorporateEmail: "ops@acme-resellers.example", Country: "ES", Language: "es-ES",
				Contact: &provisioningv1.Contact{FirstName: "Ana", LastName: "Ruiz", Phone: "+34 600 000 001"}}
			checkSynchronized(t, calls, want, map[string]string{"role": "Reseller", "username": "acme-resellers"})
		}},
	"synchronize-end-customer": {method: "POST", path: "/PANDA/API/Accounts/Synchronize", setup: synced, status: 200,
		host: func(t *testing.T, calls []proto.Message) {
			// The older ContactDetails shape; the empty parent_account is
			// dropped (not filled).
			want := &provisioningv1.Account{Id: "C-200", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Umbrella SL",
				CorporateEmail: "it@umbrella.example", ParentId: "R-100",
				Contact: &provisioningv1.Contact{FirstName: "Bo", LastName: "Li", Phone: "+34 600 000 002"}}
			checkSynchronized(t, calls, want, map[string]string{"role": "User", "username": "umbrella-admin"})
		}},
	"synchronize-storefront-email-username": {method: "POST", path: "/panda/api/Accounts/Synchronize", status: 200,
		host: func(t *testing.T, calls []proto.Message) {
			want := &provisioningv1.Account{Id: "C-300", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Initech",
				CorporateEmail: "peter@initech.example", Country: "US", Language: "en",
				Contact: &provisioningv1.Contact{FirstName: "Peter", LastName: "Gibbons"}}
			checkSynchronized(t, calls, want, map[string]string{"username": "suggested.user"})
		}},
	"synchronize-check-only": {method: "POST", path: "/panda/api/Accounts/Synchronize", status: 200,
		host: func(t *testing.T, calls []proto.Message) { noSynchronize(t, calls) }},
	"synchronize-parent-not-synced": {method: "POST", path: "/panda/api/Accounts/Synchronize?CheckOnly=True", status: 200,
		host: func(t *testing.T, calls []proto.Message) { noSynchronize(t, calls) }},
	"synchronize-invalid-role":         {method: "POST", path: "/panda/api/Accounts/Synchronize", status: 200},
	"synchronize-username-taken":       {method: "POST", path: "/panda/api/Accounts/Synchronize", status: 200},
	"synchronize-external-id-mismatch": {method: "POST", path: "/panda/api/Accounts/Synchronize", setup: synced, status: 200},
	"synchronize-replay": {method: "POST", path: "/panda/api/Accounts/Synchronize", setup: synced, status: 200,
		host: func(t *testing.T, calls []proto.Message) {
			// No role in the body: the stored type (reseller) is kept.
			want := &provisioningv1.Account{Id: "R-100", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Acme Resellers Ltd",
				CorporateEmail: "ops@acme-resellers.example", Contact: &provisioningv1.Contact{FirstName: "Ana", LastName: "Ruiz"}}
			checkSynchronized(t, calls, want, map[string]string{"username": "acme-resellers"})
		}},
	"synchronize-remote-down": {method: "POST", path: "/panda/api/Accounts/Synchronize", setup: func(f *fakeHost) { f.down = true },
		status: 503, retryAfter: "7"},
	"synchronize-malformed": {method: "POST", path: "/panda/api/Accounts/Synchronize", status: 400},
	"synchronize-wrong-key": {method: "POST", path: "/panda/api/Accounts/Synchronize", header: http.Header{"X-Cloudplatform-Applicationid": {appID}, "X-Cloudplatform-Apikey": {"wrong"}}, status: 401},
	"exists":                {method: "POST", path: "/panda/api/Accounts/Exists", setup: synced, status: 200},
	"delete":                {method: "POST", path: "/panda/api/Accounts/Delete", setup: synced, status: 200},
	"exists-not-synced":     {method: "POST", path: "/panda/api/Accounts/Exists", status: 200},
	"unknown-route":         {method: "POST", path: "/panda/api/Accounts/Rename", status: 404},
	"wrong-method":          {method: "GET", path: "/panda/api/Accounts/Synchronize", status: 405},
	"unknown-plugin":        {method: "GET", path: "/acronis/api/Accounts/SyncOptions", status: 401},
	"no-credentials-at-all": {method: "GET", path: "/panda/api/Accounts/SyncOptions", header: http.Header{}, status: 401},
	"delete-not-synced":     {method: "POST", path: "/panda/api/Accounts/Delete", status: 200},
	"delete-unimplemented":  {method: "POST", path: "/panda/api/Accounts/Delete", setup: func(f *fakeHost) { synced(f); f.noSubscriptions = true }, status: 501},
	"servicedefinition":     {method: "GET", path: "/panda/api/Fields/ServiceDefinition", status: 200},

	"subscription-create": {method: "POST", path: "/panda/api/Subscriptions/Create", setup: customer, status: 200,
		host: provisioned(&provisioningv1.Subscription{Id: "SUB-1000", AccountId: "C-200", ProductId: "EPDR", Quantity: 10,
			Attributes: map[string]string{"allocation_type": "subscription"},
			Addons:     []*provisioningv1.Addon{{Id: "PATCH_MANAGEMENT", ProductId: "PATCH_MANAGEMENT", Quantity: 10}}})},
	"subscription-create-check-only": {method: "POST", path: "/panda/api/Subscriptions/Create", setup: customer, status: 200,
		host: func(t *testing.T, calls []proto.Message) { noProvision(t, calls) }},
	"subscription-create-precheck-fails": {method: "POST", path: "/panda/api/subscriptions/create", setup: customer, status: 200,
		host: func(t *testing.T, calls []proto.Message) { noProvision(t, calls) }},
	"subscription-create-account-not-synced": {method: "POST", path: "/panda/api/Subscriptions/Create", status: 200},
	"subscription-create-unknown-product":    {method: "POST", path: "/panda/api/Subscriptions/Create", setup: customer, status: 200},
	"subscription-update": {method: "POST", path: "/panda/api/Subscriptions/Update", setup: withSubscription, status: 200,
		host: provisioned(&provisioningv1.Subscription{Id: "SUB-1000", AccountId: "C-200", ProductId: "EPDR", Quantity: 20,
			Attributes: map[string]string{"allocation_type": "subscription"},
			Addons:     []*provisioningv1.Addon{{Id: "PATCH_MANAGEMENT", ProductId: "PATCH_MANAGEMENT", Quantity: 20}}})},
	"subscription-upgrade-to-paid": {method: "POST", path: "/panda/api/Subscriptions/UpgradeToPaid", setup: withSubscription, status: 200,
		host: provisioned(&provisioningv1.Subscription{Id: "SUB-1000", AccountId: "C-200", ProductId: "EPDR", Quantity: 10,
			Attributes: map[string]string{"allocation_type": "subscription"}})},
	"subscription-suspend":         {method: "POST", path: "/panda/api/Subscriptions/Suspend", setup: withSubscription, status: 200},
	"subscription-activate":        {method: "POST", path: "/panda/api/Subscriptions/Activate", setup: withSubscription, status: 200},
	"subscription-cancel":          {method: "POST", path: "/panda/api/Subscriptions/Cancel", setup: withSubscription, status: 200},
	"subscription-suspend-unknown": {method: "POST", path: "/panda/api/Subscriptions/Suspend", setup: customer, status: 200},
	"subscription-activate-after-cancel": {method: "POST", path: "/panda/api/Subscriptions/Activate", status: 200,
		setup: func(f *fakeHost) {
			withSubscription(f)
			f.subs["SUB-1000"].Status = provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED
		}},
	"subscription-suspend-check-only": {method: "POST", path: "/panda/api/Subscriptions/Suspend?checkonly=true", setup: withSubscription, status: 200,
		host: func(t *testing.T, calls []proto.Message) {
			for _, c := range calls {
				if _, ok := c.(*hostv1.SuspendSubscriptionRequest); ok {
					t.Error("a check-only Suspend suspended")
				}
			}
		}},
	"subscription-unimplemented": {method: "POST", path: "/panda/api/Subscriptions/Create", setup: func(f *fakeHost) { customer(f); f.noSubscriptions = true }, status: 501},
	"addon-create": {method: "POST", path: "/panda/api/Addon/Create", setup: withSubscription, status: 200,
		host: provisioned(&provisioningv1.Subscription{Id: "SUB-1000", AccountId: "C-200", ProductId: "EPDR", Quantity: 10,
			Attributes: map[string]string{"allocation_type": "subscription"},
			Addons:     []*provisioningv1.Addon{{Id: "PATCH_MANAGEMENT", ProductId: "PATCH_MANAGEMENT", Quantity: 5}}})},
	"addon-update": {method: "POST", path: "/panda/api/Addons/Update", setup: withSubscription, status: 200,
		host: provisioned(&provisioningv1.Subscription{Id: "SUB-1000", AccountId: "C-200", ProductId: "EPDR", Quantity: 10,
			Attributes: map[string]string{"allocation_type": "subscription"},
			Addons:     []*provisioningv1.Addon{{Id: "PATCH_MANAGEMENT", ProductId: "PATCH_MANAGEMENT", Quantity: 8}}})},
	"synchronize-pending": {method: "POST", path: "/panda/api/Accounts/Synchronize", setup: func(f *fakeHost) { f.pending = true },
		status: 503, retryAfter: "5"},
	"addon-cancel": {method: "POST", path: "/panda/api/Addons/Cancel", setup: withSubscription, status: 200,
		host: provisioned(&provisioningv1.Subscription{Id: "SUB-1000", AccountId: "C-200", ProductId: "EPDR", Quantity: 10,
			Attributes: map[string]string{"allocation_type": "subscription"}})},
}

// customer: R-100 and its end customer C-200 are synchronized.
func customer(f *fakeHost) {
	synced(f)
	f.put(&provisioningv1.Account{Id: "C-200", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Umbrella SL", ParentId: "R-100"},
		&provisioningv1.SyncRecord{Plugin: "panda", AccountId: "C-200", Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: "REMOTE-C-200",
			RemoteParentId: "REMOTE-R-100", Values: map[string]string{"role": "User", "username": "umbrella-admin"}})
}

// withSubscription: C-200 holds SUB-1000, 10 EPDR with 10 Patch Management.
func withSubscription(f *fakeHost) {
	customer(f)
	f.putSubscription(&provisioningv1.SubscriptionRecord{Plugin: "panda", SubscriptionId: "SUB-1000", AccountId: "C-200", ProductId: "EPDR",
		Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, Quantity: 10, RemoteId: "ALLOC-SUB-1000",
		Addons: []*provisioningv1.Addon{{Id: "PATCH_MANAGEMENT", ProductId: "PATCH_MANAGEMENT", Quantity: 10}}})
}

// provisioned checks the one ProvisionSubscription call's desired state.
func provisioned(want *provisioningv1.Subscription) func(t *testing.T, calls []proto.Message) {
	return func(t *testing.T, calls []proto.Message) {
		t.Helper()
		var got []*provisioningv1.Subscription
		for _, c := range calls {
			if r, ok := c.(*hostv1.ProvisionSubscriptionRequest); ok {
				got = append(got, r.GetRequest().GetSubscription())
			}
		}
		if len(got) != 1 {
			t.Fatalf("%d ProvisionSubscription calls, want 1", len(got))
		}
		if diff := cmp.Diff(want, got[0], protocmp.Transform()); diff != "" {
			t.Errorf("desired state sent (-want +got):\n%s", diff)
		}
	}
}

func noProvision(t *testing.T, calls []proto.Message) {
	t.Helper()
	for _, c := range calls {
		if _, ok := c.(*hostv1.ProvisionSubscriptionRequest); ok {
			t.Errorf("a check-only call provisioned: %v", c)
		}
	}
}

// requestFile names the request body of a case; some cases share one.
func requestFile(name string) string {
	switch name {
	case "synchronize-wrong-key", "synchronize-pending":
		return "synchronize-reseller"
	case "exists-not-synced":
		return "exists"
	case "unknown-route", "delete-not-synced", "delete-unimplemented":
		return "delete"
	case "subscription-create-account-not-synced", "subscription-unimplemented":
		return "subscription-create"
	case "subscription-suspend-unknown", "subscription-suspend-check-only":
		return "subscription-suspend"
	case "subscription-activate-after-cancel":
		return "subscription-activate"
	}
	return name
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for name, tc := range goldenCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeHost()
			if tc.setup != nil {
				tc.setup(f)
			}
			s := newServer(t, f)
			var body []byte
			if tc.method == http.MethodPost {
				var err error
				if body, err = os.ReadFile(filepath.Join("testdata", requestFile(name)+".request.json")); err != nil {
					t.Fatal(err)
				}
			}
			req := httptest.NewRequest(tc.method, tc.path, bytes.NewReader(body))
			if tc.header != nil {
				req.Header = tc.header.Clone()
			} else {
				req.Header.Set("X-CloudPlatform-ApplicationId", appID)
				req.Header.Set("X-CloudPlatform-APIKey", apiKey)
			}
			req.Header.Set("X-CloudPlatform-TrackId", "track-"+name)
			req.Header.Set("Content-Type", "application/json")
			rr := httptest.NewRecorder()
			s.ServeHTTP(rr, req)

			if rr.Code != tc.status {
				t.Errorf("status = %d, want %d; body %s", rr.Code, tc.status, rr.Body)
			}
			if got := rr.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if ct := rr.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			golden := filepath.Join("testdata", name+".response.json")
			if *update {
				// Indented as answered: the field order is the wire's.
				var b bytes.Buffer
				if err := json.Indent(&b, bytes.TrimSpace(rr.Body.Bytes()), "", "  "); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, append(b.Bytes(), '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if diff := cmp.Diff(decodeJSON(t, want), decodeJSON(t, rr.Body.Bytes())); diff != "" {
				t.Errorf("answer differs from %s (-want +got):\n%s", golden, diff)
			}
			if bytes.Contains(rr.Body.Bytes(), []byte(apiKey)) {
				t.Error("the answer contains the API key")
			}
			if tc.host != nil {
				tc.host(t, f.requests())
			}
		})
	}
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return v
}

// checkSynchronized finds the one Synchronize request and compares its
// account and values.
func checkSynchronized(t *testing.T, calls []proto.Message, want *provisioningv1.Account, values map[string]string) {
	t.Helper()
	var got []*hostv1.SynchronizeRequest
	for _, c := range calls {
		if r, ok := c.(*hostv1.SynchronizeRequest); ok {
			got = append(got, r)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d Synchronize calls, want 1", len(got))
	}
	r := got[0]
	if r.GetPlugin() != "panda" || !r.GetRequest().GetAutoFill() {
		t.Errorf("plugin %q auto_fill %v, want panda, true", r.GetPlugin(), r.GetRequest().GetAutoFill())
	}
	if !proto.Equal(r.GetRequest().GetAccount(), want) {
		t.Errorf("account sent:\n %v\nwant\n %v", r.GetRequest().GetAccount(), want)
	}
	if diff := cmp.Diff(values, r.GetRequest().GetValues()); diff != "" {
		t.Errorf("values sent (-want +got):\n%s", diff)
	}
}

func noSynchronize(t *testing.T, calls []proto.Message) {
	t.Helper()
	for _, c := range calls {
		if _, ok := c.(*hostv1.SynchronizeRequest); ok {
			t.Errorf("a check-only call reached Synchronize: %v", c)
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// orderFile is the order most cases send: EPDR x10 with a Patch Management
// add-on of 10, for the synchronized account C-1.
const orderFile = `{"id": "S-1", "account_id": "C-1", "product_id": "EPDR", "quantity": 10,
  "addons": [{"id": "S-1-PM", "product_id": "PATCH_MANAGEMENT", "quantity": 10}],
  "attributes": {"allocation_type": "subscription"}}`

func orderS1() *provisioningv1.Subscription {
	return &provisioningv1.Subscription{Id: "S-1", AccountId: "C-1", ProductId: "EPDR", Quantity: 10,
		Addons:     []*provisioningv1.Addon{{Id: "S-1-PM", ProductId: "PATCH_MANAGEMENT", Quantity: 10}},
		Attributes: map[string]string{"allocation_type": "subscription"}}
}

// newOrderHost is a fake host where accounts C-1 and C-2 are synchronized,
// with the given subscriptions already provisioned (and the log of what was
// sent cleared).
func newOrderHost(t *testing.T, subs ...*provisioningv1.Subscription) *fakeHost {
	t.Helper()
	f := newFakeHost()
	for _, id := range []string{"C-1", "C-2"} {
		f.records[id] = &provisioningv1.SyncRecord{Plugin: "panda", AccountId: id, Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED, RemoteId: "ACC-" + id}
	}
	for _, s := range subs {
		if _, err := f.ProvisionSubscription(t.Context(), &hostv1.ProvisionSubscriptionRequest{Plugin: "panda",
			Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: s}}); err != nil {
			t.Fatal(err)
		}
	}
	f.orders.sent = nil
	return f
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Each orders command against the fake host: the exit code by error class,
// what the output says, and what provctl sent.
func TestOrdersCommands(t *testing.T) {
	t.Parallel()
	s1 := orderS1()
	tests := map[string]struct {
		subs  []*provisioningv1.Subscription // provisioned before the run
		setup func(f *fakeHost)
		stdin string
		// args; "@ORDER" is replaced by a file holding orderFile.
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantErr    []string // substrings of stderr
		wantStored *provisioningv1.SubscriptionRecord
		// wantSent is what the fake received, in order.
		wantSent []proto.Message
	}{
		"products": {
			args:     []string{"products"},
			wantCode: exitOK,
			wantOut: []string{"PRODUCT           NAME", "EPDR  ", "base", "<=250, 30 days", "allocation_type",
				"PATCH_MANAGEMENT  Patch Management", "addon  EPDR", "5000  -"},
		},
		"subscribe creates": {
			args:       []string{"subscribe", "@ORDER"},
			wantCode:   exitOK,
			wantOut:    []string{"Subscription:  S-1", "Status:        active", "Quantity:      10", "Add-ons:       PATCH_MANAGEMENT:10", "Attributes:    allocation_type=subscription", "Result:        created"},
			wantStored: &provisioningv1.SubscriptionRecord{Quantity: 10, Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE},
			// The desired state only: the host fills account and records.
			wantSent: []proto.Message{&hostv1.ProvisionSubscriptionRequest{Plugin: "panda", Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: s1}}},
		},
		"subscribe again is a replay": {
			subs:     []*provisioningv1.Subscription{s1},
			args:     []string{"subscribe", "@ORDER"},
			wantCode: exitOK,
			wantOut:  []string{"Result:        unchanged (the remote already matched: idempotent replay)"},
		},
		"subscribe from stdin": {
			stdin:    orderFile,
			args:     []string{"subscribe", "-"},
			wantCode: exitOK,
			wantOut:  []string{"Result:        created"},
		},
		"subscribe --check clean": {
			args:     []string{"subscribe", "@ORDER", "--check"},
			wantCode: exitOK,
			wantOut:  []string{"No problems found."},
			wantSent: []proto.Message{&hostv1.ValidateSubscriptionRequest{Plugin: "panda", Request: &provisioningv1.ValidateSubscriptionRequest{Subscription: s1}}},
		},
		"subscribe --check with problems": {
			stdin:    `{"id": "S-9", "account_id": "C-9", "product_id": "EPDR", "quantity": 5, "addons": [{"id": "A", "product_id": "PATCH_MANAGEMENT", "quantity": 6}]}`,
			args:     []string{"subscribe", "-", "--check"},
			wantCode: exitCheck,
			wantOut:  []string{"subscription.addons[0].quantity", "ADDON_EXCEEDS_BASE", "ACCOUNT_NOT_SYNCED", "Synchronize it first."},
			wantErr:  []string{"subscription S-9: validation found 2 error(s)"},
		},
		"subscribe account not synced": {
			stdin:    `{"id": "S-9", "account_id": "C-9", "product_id": "EPDR", "quantity": 5}`,
			args:     []string{"subscribe", "-"},
			wantCode: exitState,
			wantErr:  []string{"FAILED_PRECONDITION", "reason: ACCOUNT_NOT_SYNCED", "account: account C-9 is not synchronized", "hint: synchronize the account first (provctl sync)"},
		},
		"subscribe unknown product": {
			stdin:    `{"id": "S-9", "account_id": "C-1", "product_id": "NOPE", "quantity": 5}`,
			args:     []string{"subscribe", "-"},
			wantCode: exitInvalid,
			wantErr:  []string{"INVALID_ARGUMENT", "subscription.product_id: no base product NOPE [UNKNOWN_PRODUCT]", "hint: fix the input"},
		},
		"subscribe remote down": {
			setup: func(f *fakeHost) {
				f.orders.fail = map[string]error{"S-1": diag.Unavailable(diag.CodeRemoteUnavailable, "Panda is down", 2*time.Second)}
			},
			args:     []string{"subscribe", "@ORDER"},
			wantCode: exitUnavailable,
			wantErr:  []string{"UNAVAILABLE: Panda is down", "retry after: 2s"},
		},
		"subscribe cancelled": {
			subs: []*provisioningv1.Subscription{s1},
			setup: func(f *fakeHost) {
				_, _, _ = f.setStatus("panda", "S-1", provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED)
			},
			args:     []string{"subscribe", "@ORDER"},
			wantCode: exitState,
			wantErr:  []string{"SUBSCRIPTION_CANCELLED"},
		},
		"subscribe unknown field": {
			stdin:    `{"id": "S-1", "account_id": "C-1",` + "\n" + `"product_id": "EPDR", "quantty": 5}`,
			args:     []string{"subscribe", "-"},
			wantCode: exitUsage,
			wantErr:  []string{"subscription (stdin): not a subscription", `(line 2:`, `unknown field "quantty"`},
		},
		"subscribe empty": {
			args:     []string{"subscribe", "-"},
			wantCode: exitUsage,
			wantErr:  []string{"empty subscription"},
		},
		"subscribe without id": {
			stdin:    `{"account_id": "C-1", "product_id": "EPDR", "quantity": 5}`,
			args:     []string{"subscribe", "-"},
			wantCode: exitUsage,
			wantErr:  []string{`subscription has no "id"`},
		},
		"subscribe too large": {
			stdin:    `{"id": "` + strings.Repeat("x", maxSubscriptionBytes) + `"}`,
			args:     []string{"subscribe", "-"},
			wantCode: exitUsage,
			wantErr:  []string{"larger than 1048576 bytes"},
		},
		"subscribe missing file": {
			args:     []string{"subscribe", "/nonexistent/order.json"},
			wantCode: exitUsage,
			wantErr:  []string{"no such file"},
		},
		"subscribe without file": {
			args:     []string{"subscribe"},
			wantCode: exitUsage,
			wantErr:  []string{"needs one subscription FILE"},
		},
		"get": {
			subs:     []*provisioningv1.Subscription{s1},
			args:     []string{"subscription", "get", "S-1"},
			wantCode: exitOK,
			wantOut:  []string{"Subscription:  S-1", "Remote id:     ACC-0000042/EPDR/subscription", "Desired:       EPDR x10, add-ons PATCH_MANAGEMENT:10", "Updated:       2026-11-30T04:00:00Z"},
		},
		"get never provisioned": {
			args:     []string{"subscription", "get", "S-404"},
			wantCode: exitState,
			wantErr:  []string{"NOT_FOUND: subscription S-404 was never provisioned", "reason: SUBSCRIPTION_NOT_FOUND", "hint: provision it first (provctl subscribe)"},
		},
		"get --refresh with drift": {
			subs:     []*provisioningv1.Subscription{s1},
			setup:    func(f *fakeHost) { f.orders.drift = true },
			args:     []string{"subscription", "get", "S-1", "--refresh"},
			wantCode: exitOK,
			wantOut:  []string{"Status:        active", "Desired:       EPDR x10, add-ons PATCH_MANAGEMENT:10", "warning", "REMOTE_DRIFT", "record.quantity", "the remote allocation holds 13 licences, the record 10"},
		},
		"set-quantity": {
			subs:       []*provisioningv1.Subscription{s1},
			args:       []string{"subscription", "set-quantity", "S-1", "20"},
			wantCode:   exitOK,
			wantOut:    []string{"Quantity:      20", "Result:        updated"},
			wantStored: &provisioningv1.SubscriptionRecord{Quantity: 20, Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE},
			// The stored desired state, add-ons and attributes kept, with
			// only the quantity changed.
			wantSent: []proto.Message{&hostv1.ProvisionSubscriptionRequest{Plugin: "panda", Request: &provisioningv1.ProvisionSubscriptionRequest{
				Subscription: func() *provisioningv1.Subscription { s := orderS1(); s.Quantity = 20; return s }()}}},
		},
		"set-quantity below an add-on": {
			subs:       []*provisioningv1.Subscription{s1},
			args:       []string{"subscription", "set-quantity", "S-1", "5"},
			wantCode:   exitInvalid,
			wantErr:    []string{"INVALID_ARGUMENT", "subscription.addons[0].quantity: add-on PATCH_MANAGEMENT holds 10 licences, above the subscription's 5 [ADDON_EXCEEDS_BASE]"},
			wantStored: &provisioningv1.SubscriptionRecord{Quantity: 10, Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE},
		},
		"set-quantity --check": {
			subs:     []*provisioningv1.Subscription{s1},
			args:     []string{"subscription", "set-quantity", "S-1", "5", "--check"},
			wantCode: exitCheck,
			wantOut:  []string{"ADDON_EXCEEDS_BASE"},
			wantSent: []proto.Message{&hostv1.ValidateSubscriptionRequest{Plugin: "panda", Request: &provisioningv1.ValidateSubscriptionRequest{
				Subscription: func() *provisioningv1.Subscription { s := orderS1(); s.Quantity = 5; return s }()}}},
		},
		"set-quantity never provisioned": {
			args:     []string{"subscription", "set-quantity", "S-404", "5"},
			wantCode: exitState,
			wantErr:  []string{"NOT_FOUND"},
		},
		"set-quantity not a number": {
			args:     []string{"subscription", "set-quantity", "S-1", "ten"},
			wantCode: exitUsage,
			wantErr:  []string{`quantity "ten": want a whole number of at least 1`},
		},
		"set-quantity zero": {
			args:     []string{"subscription", "set-quantity", "S-1", "0"},
			wantCode: exitUsage,
		},
		"set-quantity one argument": {
			args:     []string{"subscription", "set-quantity", "S-1"},
			wantCode: exitUsage,
			wantErr:  []string{"needs a subscription id and a quantity"},
		},
		"suspend": {
			subs:       []*provisioningv1.Subscription{s1},
			args:       []string{"subscription", "suspend", "S-1"},
			wantCode:   exitOK,
			wantOut:    []string{"Status:        suspended", "Quantity:      10", "Result:        updated"},
			wantStored: &provisioningv1.SubscriptionRecord{Quantity: 10, Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED},
		},
		"suspend a suspended one": {
			subs: []*provisioningv1.Subscription{s1},
			setup: func(f *fakeHost) {
				_, _, _ = f.setStatus("panda", "S-1", provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED)
			},
			args:     []string{"subscription", "suspend", "S-1"},
			wantCode: exitOK,
			wantOut:  []string{"Result:        unchanged (the remote already matched: idempotent replay)"},
		},
		"resume": {
			subs: []*provisioningv1.Subscription{s1},
			setup: func(f *fakeHost) {
				_, _, _ = f.setStatus("panda", "S-1", provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED)
			},
			args:       []string{"subscription", "resume", "S-1"},
			wantCode:   exitOK,
			wantOut:    []string{"Status:        active", "Result:        updated"},
			wantStored: &provisioningv1.SubscriptionRecord{Quantity: 10, Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE},
		},
		"resume a cancelled one": {
			subs: []*provisioningv1.Subscription{s1},
			setup: func(f *fakeHost) {
				_, _, _ = f.setStatus("panda", "S-1", provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED)
			},
			args:     []string{"subscription", "resume", "S-1"},
			wantCode: exitState,
			wantErr:  []string{"FAILED_PRECONDITION: subscription S-1 is cancelled", "reason: SUBSCRIPTION_CANCELLED", "hint: a cancelled subscription is final: order again under a new subscription id"},
		},
		"cancel": {
			subs:       []*provisioningv1.Subscription{s1},
			args:       []string{"subscription", "cancel", "S-1"},
			wantCode:   exitOK,
			wantOut:    []string{"Status:        cancelled", "Result:        updated"},
			wantStored: &provisioningv1.SubscriptionRecord{Quantity: 10, Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED},
		},
		"cancel never provisioned": {
			args:     []string{"subscription", "cancel", "S-404"},
			wantCode: exitState,
			wantErr:  []string{"NOT_FOUND", "SUBSCRIPTION_NOT_FOUND"},
		},
		"cancel without id": {
			args:     []string{"subscription", "cancel"},
			wantCode: exitUsage,
			wantErr:  []string{"needs one subscription id"},
		},
		"subscription unknown verb": {
			args:     []string{"subscription", "delete", "S-1"},
			wantCode: exitUsage,
			wantErr:  []string{"provctl subscription delete: unknown command; want get, set-quantity, suspend, resume or cancel"},
		},
		"subscriptions": {
			subs: []*provisioningv1.Subscription{s1,
				{Id: "S-2", AccountId: "C-2", ProductId: "EPP", Quantity: 3, Trial: true}},
			args:     []string{"subscriptions"},
			wantCode: exitOK,
			wantOut: []string{"SUBSCRIPTION  ACCOUNT  PRODUCT  QUANTITY  ADD-ONS              STATUS  TRIAL  REMOTE ID",
				"S-1           C-1      EPDR     10        PATCH_MANAGEMENT:10  active  no", "S-2           C-2      EPP      3         -                    active  yes"},
		},
		"subscriptions of an account": {
			subs: []*provisioningv1.Subscription{s1,
				{Id: "S-2", AccountId: "C-2", ProductId: "EPP", Quantity: 3}},
			args:     []string{"subscriptions", "--account", "C-2"},
			wantCode: exitOK,
			wantOut:  []string{"S-2 "},
		},
		"subscriptions by status": {
			subs:     []*provisioningv1.Subscription{s1},
			args:     []string{"subscriptions", "--status", "suspended"},
			wantCode: exitOK,
			wantOut:  []string{"No subscriptions."},
		},
		"subscriptions bad status": {
			args:     []string{"subscriptions", "--status", "synced"},
			wantCode: exitUsage,
			wantErr:  []string{"want one of pending, active, suspended, cancelled, failed"},
		},
		"subscriptions paging": {
			subs: []*provisioningv1.Subscription{s1,
				{Id: "S-2", AccountId: "C-2", ProductId: "EPP", Quantity: 3}},
			args:     []string{"subscriptions", "--page-size", "1"},
			wantCode: exitOK,
			wantOut:  []string{"S-1 "},
			wantErr:  []string{"More subscriptions: add --page-token 1 (or --all)."},
		},
		"subscriptions bad page token": {
			args:     []string{"subscriptions", "--page-token", "x"},
			wantCode: exitInvalid,
			wantErr:  []string{"bad page_token"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newOrderHost(t, tc.subs...)
			if tc.setup != nil {
				tc.setup(f)
			}
			env := map[string]string{"PROVCTL_HOST": f.serve(t), "PROVCTL_PLUGIN": "panda"}
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				if a == "@ORDER" {
					a = writeFile(t, "order.json", orderFile)
				}
				args[i] = a
			}
			r := provctl(t, tc.stdin, env, args...)
			if r.code != tc.wantCode {
				t.Fatalf("provctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), r.code, tc.wantCode, r.stdout, r.stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			f.orders.mu.Lock()
			defer f.orders.mu.Unlock()
			if tc.wantSent != nil {
				if diff := cmp.Diff(tc.wantSent, f.orders.sent, protocmp.Transform()); diff != "" {
					t.Errorf("sent (-want +got):\n%s", diff)
				}
			}
			if tc.wantStored != nil {
				got := f.orders.records["S-1"]
				if got.GetQuantity() != tc.wantStored.GetQuantity() || got.GetStatus() != tc.wantStored.GetStatus() {
					t.Errorf("stored S-1: quantity %d, status %v; want %d, %v", got.GetQuantity(), got.GetStatus(), tc.wantStored.GetQuantity(), tc.wantStored.GetStatus())
				}
			}
		})
	}
}

// -o json is the protojson of the host's response, for every command.
func TestOrdersJSON(t *testing.T) {
	t.Parallel()
	s1 := orderS1()
	tests := map[string]struct {
		args []string
		into proto.Message
		// check looks at the decoded answer.
		check func(t *testing.T, m proto.Message)
	}{
		"products": {
			args: []string{"products"}, into: &hostv1.GetServiceDefinitionResponse{},
			check: func(t *testing.T, m proto.Message) {
				want := &hostv1.GetServiceDefinitionResponse{Response: &provisioningv1.GetServiceDefinitionResponse{Products: fakeCatalogue()}}
				if diff := cmp.Diff(want, m, protocmp.Transform()); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		"subscribe replay": {
			args: []string{"subscribe", "-"}, into: &hostv1.ProvisionSubscriptionResponse{},
			check: func(t *testing.T, m proto.Message) {
				r := m.(*hostv1.ProvisionSubscriptionResponse).GetResponse()
				if r.GetCreated() || r.GetUpdated() || r.GetRecord().GetQuantity() != 10 {
					t.Errorf("replay: %v", r)
				}
			},
		},
		"subscribe --check": {
			args: []string{"subscribe", "-", "--check"}, into: &hostv1.ValidateSubscriptionResponse{},
			check: func(t *testing.T, m proto.Message) {
				if ds := m.(*hostv1.ValidateSubscriptionResponse).GetResponse().GetDiagnostics(); len(ds) != 0 {
					t.Errorf("diagnostics: %v", ds)
				}
			},
		},
		"get": {
			args: []string{"subscription", "get", "S-1"}, into: &hostv1.GetSubscriptionRecordResponse{},
			check: func(t *testing.T, m proto.Message) {
				if diff := cmp.Diff(orderS1(), m.(*hostv1.GetSubscriptionRecordResponse).GetSubscription(), protocmp.Transform()); diff != "" {
					t.Errorf("desired state (-want +got):\n%s", diff)
				}
			},
		},
		"get --refresh": {
			args: []string{"subscription", "get", "S-1", "--refresh"}, into: &hostv1.GetSubscriptionStatusResponse{},
			check: func(t *testing.T, m proto.Message) {
				if got := m.(*hostv1.GetSubscriptionStatusResponse).GetResponse().GetRecord().GetSubscriptionId(); got != "S-1" {
					t.Errorf("record of %q", got)
				}
			},
		},
		"suspend": {
			args: []string{"subscription", "suspend", "S-1"}, into: &hostv1.SuspendSubscriptionResponse{},
			check: func(t *testing.T, m proto.Message) {
				r := m.(*hostv1.SuspendSubscriptionResponse).GetResponse()
				if !r.GetUpdated() || r.GetRecord().GetStatus() != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED {
					t.Errorf("suspend: %v", r)
				}
			},
		},
		"cancel": {
			args: []string{"subscription", "cancel", "S-1"}, into: &hostv1.CancelSubscriptionResponse{},
			check: func(t *testing.T, m proto.Message) {
				if st := m.(*hostv1.CancelSubscriptionResponse).GetResponse().GetRecord().GetStatus(); st != provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
					t.Errorf("cancel: status %v", st)
				}
			},
		},
		"subscriptions": {
			args: []string{"subscriptions", "--all", "--page-size", "1"}, into: &hostv1.ListSubscriptionRecordsResponse{},
			check: func(t *testing.T, m proto.Message) {
				if n := len(m.(*hostv1.ListSubscriptionRecordsResponse).GetRecords()); n != 2 {
					t.Errorf("--all: %d records, want 2", n)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newOrderHost(t, s1, &provisioningv1.Subscription{Id: "S-2", AccountId: "C-2", ProductId: "EPP", Quantity: 3})
			env := map[string]string{"PROVCTL_HOST": f.serve(t), "PROVCTL_PLUGIN": "panda"}
			r := provctl(t, orderFile, env, append(tc.args, "-o", "json")...)
			if r.code != exitOK {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if err := protojson.Unmarshal([]byte(r.stdout), tc.into); err != nil {
				t.Fatalf("-o json is not a %T: %v\n%s", tc.into, err, r.stdout)
			}
			tc.check(t, tc.into)
		})
	}
}

// batchLine is one JSON line of subscribe-batch.
type batchLine struct {
	Line           int             `json:"line"`
	SubscriptionID string          `json:"subscription_id"`
	Outcome        string          `json:"outcome"`
	Created        bool            `json:"created"`
	Updated        bool            `json:"updated"`
	Record         json.RawMessage `json:"record"`
	Error          *batchStatus    `json:"error"`
}

// batchStatus is the part of a result's google.rpc.Status the tests read.
type batchStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (s *batchStatus) GetCode() int {
	if s == nil {
		return 0
	}
	return s.Code
}

func (s *batchStatus) GetMessage() string {
	if s == nil {
		return ""
	}
	return s.Message
}

func TestSubscribeBatch(t *testing.T) {
	t.Parallel()
	// S-1 three times: the last line wins whatever the concurrency. S-9's
	// account is not synchronized; line 5 is not JSON.
	file := `# a storefront export
{"id": "S-1", "account_id": "C-1", "product_id": "EPDR", "quantity": 5}
{"id": "S-2", "account_id": "C-2", "product_id": "EPP", "quantity": 3}
{"id": "S-9", "account_id": "C-9", "product_id": "EPP", "quantity": 3}
{"id": "S-3",
{"id": "S-1", "account_id": "C-1", "product_id": "EPDR", "quantity": 6}

{"id": "S-4", "account_id": "C-1", "product_id": "EPP", "quantity": 1}
{"id": "S-1", "account_id": "C-1", "product_id": "EPDR", "quantity": 7}
`
	f := newOrderHost(t)
	env := map[string]string{"PROVCTL_HOST": f.serve(t), "PROVCTL_PLUGIN": "panda"}
	r := provctl(t, "", env, "subscribe-batch", writeFile(t, "orders.jsonl", file), "--concurrency", "2")
	if r.code != exitCheck {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, exitCheck, r.stdout, r.stderr)
	}
	got := map[int]batchLine{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var b batchLine
		if err := json.Unmarshal([]byte(l), &b); err != nil {
			t.Fatalf("not a result line: %q: %v", l, err)
		}
		got[b.Line] = b
	}
	type want struct {
		id, outcome string
		code        codes.Code
	}
	for line, w := range map[int]want{
		2: {"S-1", "provisioned", 0}, 3: {"S-2", "provisioned", 0}, 4: {"S-9", "failed", codes.FailedPrecondition},
		5: {"", "failed", codes.InvalidArgument}, 6: {"S-1", "provisioned", 0}, 8: {"S-4", "provisioned", 0}, 9: {"S-1", "provisioned", 0},
	} {
		g, ok := got[line]
		if !ok {
			t.Errorf("no result for line %d", line)
			continue
		}
		if g.SubscriptionID != w.id || g.Outcome != w.outcome || codes.Code(g.Error.GetCode()) != w.code {
			t.Errorf("line %d: %+v, want %+v", line, g, w)
		}
	}
	if len(got) != 7 {
		t.Errorf("%d results, want 7", len(got))
	}
	if !strings.Contains(got[5].Error.GetMessage(), ":5: not a subscription") {
		t.Errorf("malformed line's error does not name it: %q", got[5].Error.GetMessage())
	}
	if !got[2].Created || !got[6].Updated || !got[9].Updated {
		t.Errorf("created/updated: line 2 %+v, 6 %+v, 9 %+v", got[2], got[6], got[9])
	}
	if !strings.Contains(r.stderr, "Summary: 7 subscriptions: 5 ok (3 created, 2 updated), 2 failed") {
		t.Errorf("summary:\n%s", r.stderr)
	}
	f.orders.mu.Lock()
	defer f.orders.mu.Unlock()
	if q := f.orders.records["S-1"].GetQuantity(); q != 7 {
		t.Errorf("S-1 ends with quantity %d, want 7 (the last line)", q)
	}
	if m := f.orders.maxInFlight.Load(); m > 2 {
		t.Errorf("%d calls in flight at once, want at most --concurrency 2", m)
	}
}

func TestSubscribeBatchModes(t *testing.T) {
	t.Parallel()
	good := `{"id": "S-1", "account_id": "C-1", "product_id": "EPDR", "quantity": 5}` + "\n"
	tests := map[string]struct {
		stdin    string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		"table": {
			stdin: good, args: []string{"-o", "table"}, wantCode: exitOK,
			wantOut: []string{"LINE  SUBSCRIPTION", "1     S-1                  provisioned active     created, EPDR x5", "Summary: 1 subscriptions: 1 ok (1 created, 0 updated), 0 failed"},
		},
		"check": {
			stdin: good + `{"id": "S-2", "account_id": "C-1", "product_id": "NOPE", "quantity": 5}` + "\n",
			args:  []string{"--check", "-o", "table"}, wantCode: exitCheck,
			wantOut: []string{"S-1                  valid", "S-2                  failed", "subscription.product_id: no base product NOPE [UNKNOWN_PRODUCT]"},
			wantErr: []string{"1 subscription(s) failed"},
		},
		"check json": {
			stdin: `{"id": "S-2", "account_id": "C-1", "product_id": "NOPE", "quantity": 5}` + "\n",
			args:  []string{"--check", "-o", "json"}, wantCode: exitCheck,
			wantOut: []string{`"outcome":"failed"`, `"diagnostics":[{"severity":"SEVERITY_ERROR","code":"UNKNOWN_PRODUCT","summary":"no base product NOPE","field":"subscription.product_id"}]`},
		},
		"concurrency 0":   {stdin: good, args: []string{"--concurrency", "0"}, wantCode: exitUsage, wantErr: []string{"--concurrency must be between 1 and 64"}},
		"concurrency 100": {stdin: good, args: []string{"--concurrency", "100"}, wantCode: exitUsage},
		"long line": {
			stdin: `{"id": "` + strings.Repeat("x", maxBatchLine) + `"}` + "\n", wantCode: exitUsage,
			wantErr: []string{"(stdin):1: line longer than 1048576 bytes"},
		},
		"empty": {wantCode: exitOK, wantErr: []string{"Summary: 0 subscriptions"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newOrderHost(t)
			env := map[string]string{"PROVCTL_HOST": f.serve(t), "PROVCTL_PLUGIN": "panda"}
			r := provctl(t, tc.stdin, env, append([]string{"subscribe-batch", "-"}, tc.args...)...)
			if r.code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

func TestDecodeSubscription(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in      string
		want    *provisioningv1.Subscription
		wantErr string
	}{
		"proto names": {in: orderFile, want: orderS1()},
		"json names": {
			in:   `{"id": "S-1", "accountId": "C-1", "productId": "EPP", "quantity": 2, "trial": true}`,
			want: &provisioningv1.Subscription{Id: "S-1", AccountId: "C-1", ProductId: "EPP", Quantity: 2, Trial: true},
		},
		"empty":            {in: "\n", wantErr: "empty subscription"},
		"no id":            {in: `{"account_id": "C-1"}`, wantErr: `no "id"`},
		"unknown field":    {in: `{"id": "S-1", "qty": 2}`, wantErr: `unknown field "qty"`},
		"quantity as text": {in: `{"id": "S-1", "quantity": "ten"}`, wantErr: "invalid value for int32"},
		"an account":       {in: `{"id": "C-1", "type": "ACCOUNT_TYPE_CUSTOMER"}`, wantErr: `unknown field "type"`},
		"not an object":    {in: `["S-1"]`, wantErr: "not a subscription"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeSubscription([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeSubscription(%s) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("decodeSubscription (-want +got):\n%s", diff)
			}
		})
	}
}

// The shipped order examples decode.
func TestOrderExamplesDecode(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "examples", "orders")
	if _, err := readSubscription(filepath.Join(dir, "subscription.json"), nil); err != nil {
		t.Error(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "orders.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if _, err := decodeSubscription([]byte(l)); err != nil {
			t.Errorf("orders.jsonl:%d: %v", i+1, err)
		}
		n++
	}
	if n < 3 {
		t.Errorf("orders.jsonl has %d orders", n)
	}
}

func TestParseSubscriptionStatus(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]provisioningv1.SubscriptionStatus{
		"":                              provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_UNSPECIFIED,
		"active":                        provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
		" Suspended ":                   provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_SUSPENDED,
		"SUBSCRIPTION_STATUS_CANCELLED": provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED,
	} {
		if got, err := parseSubscriptionStatus(in); err != nil || got != want {
			t.Errorf("parseSubscriptionStatus(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"unspecified", "synced", "canceled"} {
		if _, err := parseSubscriptionStatus(in); exitCode(err) != exitUsage {
			t.Errorf("parseSubscriptionStatus(%q): %v, want a usage error", in, err)
		}
	}
}

func TestRenderOrders(t *testing.T) {
	t.Parallel()
	updated := timestamppb.New(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	active := &provisioningv1.SubscriptionRecord{Plugin: "panda", SubscriptionId: "S-1", AccountId: "C-1", ProductId: "EPDR",
		Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, Quantity: 25,
		Addons:   []*provisioningv1.Addon{{Id: "A", ProductId: "PATCH_MANAGEMENT", Quantity: 25}, {Id: "B", ProductId: "DATA_CONTROL", Quantity: 5}},
		RemoteId: "ACC-0000042/EPDR/subscription", UpdatedAt: updated, Message: "licences\nallocated",
		Attributes: map[string]string{"allocation_type": "subscription", "api_token": fakeSecret}}
	failed := &provisioningv1.SubscriptionRecord{Plugin: "panda", SubscriptionId: "S-2", AccountId: "R-1", ProductId: "EDR",
		Status: provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_FAILED, Trial: true, TrialEndsAt: updated,
		Message: "the root account lacks 50 EDR licences", ErrorReason: diag.CodeInsufficientInventory, UpdatedAt: updated}
	tests := map[string]struct {
		render func(*bytes.Buffer) error
		want   string
	}{
		"products": {
			render: func(b *bytes.Buffer) error { return renderProducts(b, fakeCatalogue()) },
			want: "" +
				"PRODUCT           NAME                                        KIND   ADD-ON OF  MIN  MAX   TRIAL           ATTRIBUTES\n" +
				"EPDR              Endpoint Protection Detection and Response  base   -          1    -     <=250, 30 days  allocation_type\n" +
				"EPP               Endpoint Protection Platform                base   -          -    5000  -               -\n" +
				"PATCH_MANAGEMENT  Patch Management                            addon  EPDR       -    -     -               -\n",
		},
		"no products": {
			render: func(b *bytes.Buffer) error { return renderProducts(b, nil) },
			want:   "No products.\n",
		},
		"record": {
			render: func(b *bytes.Buffer) error {
				return renderSubscriptionRecord(b, active, [2]string{"Result", outcome(true, false)})
			},
			want: "" +
				"Subscription:  S-1\n" +
				"Account:       C-1\n" +
				"Plugin:        panda\n" +
				"Product:       EPDR\n" +
				"Status:        active\n" +
				"Quantity:      25\n" +
				"Add-ons:       PATCH_MANAGEMENT:25,DATA_CONTROL:5\n" +
				"Trial:         no\n" +
				"Attributes:    allocation_type=subscription, api_token=(hidden)\n" +
				"Remote id:     ACC-0000042/EPDR/subscription\n" +
				"Result:        created\n" +
				"Message:       licences allocated\n" +
				"Updated:       2026-11-27T10:00:00Z\n",
		},
		"failed record": {
			render: func(b *bytes.Buffer) error { return renderSubscriptionRecord(b, failed) },
			want: "" +
				"Subscription:  S-2\n" +
				"Account:       R-1\n" +
				"Plugin:        panda\n" +
				"Product:       EDR\n" +
				"Status:        failed\n" +
				"Quantity:      0\n" +
				"Add-ons:       -\n" +
				"Trial:         until 2026-11-27T10:00:00Z\n" +
				"Attributes:    -\n" +
				"Remote id:     -\n" +
				"Message:       the root account lacks 50 EDR licences\n" +
				"Error reason:  INSUFFICIENT_INVENTORY\n" +
				"Updated:       2026-11-27T10:00:00Z\n",
		},
		"records": {
			render: func(b *bytes.Buffer) error {
				return renderSubscriptionRecords(b, []*provisioningv1.SubscriptionRecord{active, failed})
			},
			want: "" +
				"SUBSCRIPTION  ACCOUNT  PRODUCT  QUANTITY  ADD-ONS                             STATUS  TRIAL                       REMOTE ID                      UPDATED               MESSAGE\n" +
				"S-1           C-1      EPDR     25        PATCH_MANAGEMENT:25,DATA_CONTROL:5  active  no                          ACC-0000042/EPDR/subscription  2026-11-27T10:00:00Z  licences allocated\n" +
				"S-2           R-1      EDR      0         -                                   failed  until 2026-11-27T10:00:00Z  -                              2026-11-27T10:00:00Z  INSUFFICIENT_INVENTORY: the root account lacks 50 EDR licen…\n",
		},
		"no records": {
			render: func(b *bytes.Buffer) error { return renderSubscriptionRecords(b, nil) },
			want:   "No subscriptions.\n",
		},
		"batch line": {
			render: func(b *bytes.Buffer) error {
				_, err := b.WriteString(orderLine(&orderResult{Line: 12, SubscriptionID: "S-1", Outcome: "provisioned", Updated: true, rec: active}) + "\n")
				return err
			},
			want: "12    S-1                  provisioned active     updated, EPDR x25\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := tc.render(&b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if strings.Contains(b.String(), fakeSecret) {
				t.Errorf("a secret-looking attribute was printed:\n%s", b.String())
			}
		})
	}
}

// FuzzDecodeSubscription: a subscription file or subscribe-batch line never
// panics the decoder, an accepted one has an id, and it survives a round
// trip through the -o json encoder.
func FuzzDecodeSubscription(f *testing.F) {
	for _, s := range []string{
		orderFile, `{"id": "S-1"}`, `{"id": ""}`, `{}`, `[]`, `null`, ``, `{"id": "\ud800"}`,
		`{"id": "S-1", "quantity": 2147483648}`, `{"id": "S-1", "addons": [{}], "attributes": {"": ""}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sub, err := decodeSubscription(data)
		if err != nil {
			return
		}
		if sub.GetId() == "" {
			t.Fatalf("accepted a subscription without an id: %q", data)
		}
		out, err := jsonOptions.Marshal(sub)
		if err != nil {
			t.Fatalf("encode %v: %v", sub, err)
		}
		back, err := decodeSubscription(out)
		if err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		if !proto.Equal(sub, back) {
			t.Fatalf("round trip changed %v into %v", sub, back)
		}
	})
}

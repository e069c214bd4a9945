package conformance_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/conformance"
	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/examples/ledger"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// The self-tests run the suite against the example ledger plugin in process:
// as it is (everything must pass), and wrapped in deliberately broken
// adapters, each of which the matching check must catch.

func ledgerFixtures() conformance.Fixtures {
	return conformance.Fixtures{
		DirectCustomer: conformance.Fixture{
			Account: &provisioningv1.Account{Id: "cust", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Acme {{run}}"},
			Values:  map[string]string{"plan": "premium", "note": "run {{run}}"},
		},
		Reseller: conformance.Fixture{
			Account: &provisioningv1.Account{Id: "res", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, Name: "Channel Co"},
		},
		EndCustomer: conformance.Fixture{
			Account: &provisioningv1.Account{Id: "end", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, Name: "Small Co", ParentId: "res"},
			Values:  map[string]string{"seats": "5"},
		},
		Update: &provisioningv1.Account{Name: "Acme renamed {{run}}", CorporateEmail: "it.{{run}}@acme.example"},
		Subscription: &conformance.SubscriptionFixture{
			ProductID: ledger.ProductPro, Quantity: 5, NewQuantity: 8,
			Addons: []*provisioningv1.Addon{{ProductId: ledger.ProductArchive, Quantity: 5}},
		},
	}
}

// dbState reads the ledger file's tables: the "remote state".
func dbState(path string) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		if err != nil {
			return nil, err
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, `SELECT seq, account_id, type, parent_id, vals, updated_at FROM accounts ORDER BY seq`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var seq, typ, at int64
			var id, parent, vals string
			if err := rows.Scan(&seq, &id, &typ, &parent, &vals, &at); err != nil {
				return nil, err
			}
			fmt.Fprintln(&b, seq, id, typ, parent, vals, at)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		subs, err := db.QueryContext(ctx, `SELECT seq, subscription_id, account_id, product_id, status, quantity, addons, updated_at FROM subscriptions ORDER BY seq`)
		if err != nil {
			return nil, err
		}
		defer subs.Close()
		for subs.Next() {
			var seq, st, qty, at int64
			var id, acct, product, addons string
			if err := subs.Scan(&seq, &id, &acct, &product, &st, &qty, &addons, &at); err != nil {
				return nil, err
			}
			fmt.Fprintln(&b, "subscription", seq, id, acct, product, st, qty, addons, at)
		}
		return []byte(b.String()), subs.Err()
	}
}

// setup returns a fresh, unconfigured ledger adapter and a config to run the
// suite against it.
func setup(t *testing.T) (*ledger.Adapter, conformance.Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	a := ledger.New(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = a.Close() })
	return a, conformance.Config{
		Settings:  map[string]string{ledger.SettingDatabase: path},
		Fixtures:  ledgerFixtures(),
		StateFunc: dbState(path),
		Repeat:    5,
	}
}

func statuses(rep *conformance.Report) map[string]conformance.Status {
	m := map[string]conformance.Status{}
	for _, r := range rep.Results {
		m[r.Name] = r.Status
	}
	return m
}

func TestCheckPassesOnLedger(t *testing.T) {
	t.Parallel()
	a, cfg := setup(t)
	rep, err := conformance.Check(t.Context(), plugintest.InProcess(t, a), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]conformance.Status{}
	for _, c := range conformance.Checks() {
		want[c.Name] = conformance.Pass
	}
	// The ledger has no secret to look for.
	want["secrets.never-echoed"] = conformance.Skip
	// The host is not in the loop (see TestHostFailedRecords).
	want["host.failed-records"] = conformance.Skip
	if diff := cmp.Diff(want, statuses(rep)); diff != "" {
		var b strings.Builder
		_ = rep.WriteText(&b)
		t.Errorf("statuses (-want +got):\n%s\n%s", diff, b.String())
	}
	if rep.Plugin != ledger.Name || rep.Version != ledger.Version {
		t.Errorf("report names plugin %q %q, want %q %q", rep.Plugin, rep.Version, ledger.Name, ledger.Version)
	}
}

func TestRunPassesOnLedger(t *testing.T) {
	t.Parallel()
	a, cfg := setup(t)
	conformance.Run(t, plugintest.InProcess(t, a), cfg)
}

// broken wraps the ledger and overrides what a test case breaks.
type broken struct {
	*ledger.Adapter
	info     func(*provisioningv1.GetPluginInfoResponse)
	sync     func(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error)
	form     func(*provisioningv1.GetSyncOptionsResponse)
	validate func(ctx context.Context, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error)
	probe    func(*provisioningv1.ProbeResponse)
	settings func(map[string]string) // edits the settings before the ledger sees them

	del         func(ctx context.Context, req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error)
	catalogue   func(*provisioningv1.GetServiceDefinitionResponse)
	provision   func(ctx context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error)
	validateSub func(ctx context.Context, req *provisioningv1.ValidateSubscriptionRequest) (*provisioningv1.ValidateSubscriptionResponse, error)
	cancel      func(ctx context.Context, req *provisioningv1.CancelSubscriptionRequest) (*provisioningv1.CancelSubscriptionResponse, error)
}

func (b *broken) DeleteAccount(ctx context.Context, req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error) {
	if b.del != nil {
		return b.del(ctx, req)
	}
	return b.Adapter.DeleteAccount(ctx, req)
}

func (b *broken) GetServiceDefinition(ctx context.Context, req *provisioningv1.GetServiceDefinitionRequest) (*provisioningv1.GetServiceDefinitionResponse, error) {
	resp, err := b.Adapter.GetServiceDefinition(ctx, req)
	if err == nil && b.catalogue != nil {
		b.catalogue(resp)
	}
	return resp, err
}

func (b *broken) ProvisionSubscription(ctx context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
	if b.provision != nil {
		return b.provision(ctx, req)
	}
	return b.Adapter.ProvisionSubscription(ctx, req)
}

func (b *broken) ValidateSubscription(ctx context.Context, req *provisioningv1.ValidateSubscriptionRequest) (*provisioningv1.ValidateSubscriptionResponse, error) {
	if b.validateSub != nil {
		return b.validateSub(ctx, req)
	}
	return b.Adapter.ValidateSubscription(ctx, req)
}

func (b *broken) CancelSubscription(ctx context.Context, req *provisioningv1.CancelSubscriptionRequest) (*provisioningv1.CancelSubscriptionResponse, error) {
	if b.cancel != nil {
		return b.cancel(ctx, req)
	}
	return b.Adapter.CancelSubscription(ctx, req)
}

func (b *broken) GetPluginInfo(ctx context.Context, req *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	resp, err := b.Adapter.GetPluginInfo(ctx, req)
	if err == nil && b.info != nil {
		b.info(resp)
	}
	return resp, err
}

func (b *broken) Configure(ctx context.Context, req *provisioningv1.ConfigureRequest) (*provisioningv1.ConfigureResponse, error) {
	if b.settings != nil {
		b.settings(req.Settings)
	}
	return b.Adapter.Configure(ctx, req)
}

func (b *broken) Probe(ctx context.Context, req *provisioningv1.ProbeRequest) (*provisioningv1.ProbeResponse, error) {
	resp, err := b.Adapter.Probe(ctx, req)
	if err == nil && b.probe != nil {
		b.probe(resp)
	}
	return resp, err
}

func (b *broken) GetSyncOptions(ctx context.Context, req *provisioningv1.GetSyncOptionsRequest) (*provisioningv1.GetSyncOptionsResponse, error) {
	resp, err := b.Adapter.GetSyncOptions(ctx, req)
	if err == nil && b.form != nil {
		b.form(resp)
	}
	return resp, err
}

func (b *broken) ValidateSyncOptions(ctx context.Context, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
	if b.validate != nil {
		return b.validate(ctx, req)
	}
	return b.Adapter.ValidateSyncOptions(ctx, req)
}

func (b *broken) Synchronize(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
	if b.sync != nil {
		return b.sync(ctx, req)
	}
	return b.Adapter.Synchronize(ctx, req)
}

func TestCheckCatchesBrokenAdapters(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-token-value"
	cases := map[string]struct {
		// breakIt returns the broken adapter built on a.
		breakIt func(a *ledger.Adapter, cfg *conformance.Config) provisioningv1.ProvisioningAdapterServer
		// fails are the checks that must catch it.
		fails []string
		// quotes maps a check to what its message must contain.
		quotes map[string]string
	}{
		"created=true on every call": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, sync: func(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
					resp, err := a.Synchronize(ctx, req)
					if err == nil {
						resp.Created = true
					}
					return resp, err
				}}
			},
			fails: []string{"synchronize.idempotent", "synchronize.concurrent", "synchronize.hierarchy"},
		},
		"a new remote id on every call": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, sync: func(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
					resp, err := a.Synchronize(ctx, req)
					if err == nil {
						resp.Record.RemoteId = fmt.Sprintf("L-%d", rand.Int())
					}
					return resp, err
				}}
			},
			fails: []string{"synchronize.idempotent", "synchronize.concurrent"},
		},
		"INTERNAL for invalid input": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, sync: func(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
					resp, err := a.Synchronize(ctx, req)
					if status.Code(err) == codes.InvalidArgument {
						return nil, status.Error(codes.Internal, "validation failed")
					}
					return resp, err
				}}
			},
			fails: []string{"synchronize.invalid-argument", "errors.codes"},
		},
		"INVALID_ARGUMENT for a parent not synchronized": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, sync: func(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
					resp, err := a.Synchronize(ctx, req)
					if status.Code(err) == codes.FailedPrecondition {
						return nil, status.Error(codes.InvalidArgument, status.Convert(err).Message())
					}
					return resp, err
				}}
			},
			fails: []string{"synchronize.parent-first"},
		},
		"a plain Go error": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, validate: func(ctx context.Context, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
					if _, ok := req.GetValues()["conformance_no_such_field"]; ok {
						return nil, errors.New("no such field")
					}
					return a.ValidateSyncOptions(ctx, req)
				}}
			},
			fails: []string{"errors.codes", "form.diagnostics"},
		},
		"a diagnostic on a field that does not exist": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, form: func(resp *provisioningv1.GetSyncOptionsResponse) {
					resp.Diagnostics = append(resp.Diagnostics, &provisioningv1.Diagnostic{
						Severity: provisioningv1.Severity_SEVERITY_WARNING, Code: "PLAN_SOON_RETIRED", Summary: "the plan retires soon", Field: "plan_typo",
					})
				}}
			},
			fails: []string{"form.diagnostics"},
		},
		"a diagnostic on a field of no account": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, form: func(resp *provisioningv1.GetSyncOptionsResponse) {
					resp.Diagnostics = append(resp.Diagnostics, &provisioningv1.Diagnostic{
						Severity: provisioningv1.Severity_SEVERITY_WARNING, Code: "NO_EMAIL", Summary: "no email", Field: "account.email",
					})
				}}
			},
			fails: []string{"form.diagnostics"},
		},
		"an ENUM value outside its choices, orders out of order": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, form: func(resp *provisioningv1.GetSyncOptionsResponse) {
					resp.Fields[0].Value = "gold"
					resp.Fields[2].Order = 1
				}}
			},
			fails: []string{"form.fields"},
		},
		"ValidateSyncOptions that writes": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, validate: func(ctx context.Context, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
					_, _ = a.Synchronize(ctx, &provisioningv1.SynchronizeRequest{Account: req.GetAccount(), Values: req.GetValues(), AutoFill: req.GetAutoFill()})
					return a.ValidateSyncOptions(ctx, req)
				}}
			},
			fails: []string{"validate.no-side-effects"},
		},
		"ValidateSyncOptions that answers at random": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, validate: func(ctx context.Context, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
					resp, err := a.ValidateSyncOptions(ctx, req)
					if err == nil {
						resp.Values["seats"] = fmt.Sprint(rand.IntN(1000) + 1)
					}
					return resp, err
				}}
			},
			fails: []string{"validate.deterministic"},
		},
		"Synchronize that goes on after its caller cancelled": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, sync: func(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
					// Deaf to ctx: its writes land after the check's grace
					// (150 ms) and well inside its window (300 ms more).
					time.Sleep(300 * time.Millisecond)
					return a.Synchronize(context.WithoutCancel(ctx), req)
				}}
			},
			fails: []string{"cancel.stops-work"},
		},
		"a capability not claimed": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, info: func(resp *provisioningv1.GetPluginInfoResponse) {
					resp.Capabilities = resp.Capabilities[1:] // drops PROBE; Probe still answers
				}}
			},
			fails: []string{"identity.capabilities"},
		},
		"a bad name and version": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, info: func(resp *provisioningv1.GetPluginInfoResponse) {
					resp.Name, resp.Version = "Ledger_Plugin", "v1.0"
				}}
			},
			fails: []string{"identity.name", "identity.version", "synchronize.idempotent"},
		},
		"a secret echoed back": {
			breakIt: func(a *ledger.Adapter, cfg *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				cfg.Settings["token"] = secret
				var got string
				return &broken{
					Adapter: a,
					info: func(resp *provisioningv1.GetPluginInfoResponse) {
						resp.ConfigFields = append(resp.ConfigFields, &provisioningv1.Field{
							Key: "token", Label: "Token", Order: 2, Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Sensitive: true, Value: "hunter2-default",
						})
					},
					settings: func(s map[string]string) { got = s["token"]; delete(s, "token") },
					probe: func(resp *provisioningv1.ProbeResponse) {
						resp.Ready, resp.Message = false, "refused token "+got
					},
				}
			},
			fails:  []string{"secrets.never-echoed", "identity.config-fields", "probe.ready"},
			quotes: map[string]string{"probe.ready": "refused token [REDACTED token]"},
		},
		"Synchronize that never says updated": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, sync: func(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
					resp, err := a.Synchronize(ctx, req)
					if err == nil {
						resp.Updated = false
					}
					return resp, err
				}}
			},
			fails: []string{"lifecycle.update-converges"},
		},
		"a self-parent refused as a parent not synchronized": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, sync: func(ctx context.Context, req *provisioningv1.SynchronizeRequest) (*provisioningv1.SynchronizeResponse, error) {
					if p := req.GetAccount().GetParentId(); p != "" && p == req.GetAccount().GetId() {
						return nil, diag.FailedPrecondition(diag.CodeParentNotSynced, "account.parent_id", "the parent is not synchronized")
					}
					return a.Synchronize(ctx, req)
				}}
			},
			fails: []string{"lifecycle.self-parent"},
		},
		"DeleteAccount that refuses its replay": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, del: func(ctx context.Context, req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error) {
					if req.GetRecord().GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_DELETED {
						return nil, diag.FailedPrecondition(diag.CodeAccountNotSynced, "account", "the account is deleted already")
					}
					return a.DeleteAccount(ctx, req)
				}}
			},
			fails: []string{"lifecycle.delete"},
		},
		"DeleteAccount that always cascades": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, del: func(ctx context.Context, req *provisioningv1.DeleteAccountRequest) (*provisioningv1.DeleteAccountResponse, error) {
					req.Cascade = true
					return a.DeleteAccount(ctx, req)
				}}
			},
			fails: []string{"lifecycle.delete-children"},
		},
		"an add-on of a product not in the catalogue": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, catalogue: func(resp *provisioningv1.GetServiceDefinitionResponse) {
					resp.Products = append(resp.Products, &provisioningv1.Product{
						Id: "ZIP", Name: "Zip", Kind: provisioningv1.ProductKind_PRODUCT_KIND_ADDON, AddonOf: []string{"GOLD"},
					})
				}}
			},
			fails: []string{"subscriptions.catalogue"},
		},
		"ProvisionSubscription that answers created=true every time": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, provision: func(ctx context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
					resp, err := a.ProvisionSubscription(ctx, req)
					if err == nil {
						resp.Created = true
					}
					return resp, err
				}}
			},
			fails: []string{"subscriptions.idempotent"},
		},
		"ProvisionSubscription that adds the quantity": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, provision: func(ctx context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
					if rec := req.GetRecord(); rec != nil && req.GetSubscription() != nil {
						req.Subscription.Quantity += rec.GetQuantity()
					}
					return a.ProvisionSubscription(ctx, req)
				}}
			},
			fails: []string{"subscriptions.quantity"},
		},
		"CancelSubscription that refuses its replay": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, cancel: func(ctx context.Context, req *provisioningv1.CancelSubscriptionRequest) (*provisioningv1.CancelSubscriptionResponse, error) {
					if req.GetRecord().GetStatus() == provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
						return nil, diag.FailedPrecondition(diag.CodeSubscriptionCancelled, "subscription.id", "cancelled already")
					}
					return a.CancelSubscription(ctx, req)
				}}
			},
			fails: []string{"subscriptions.transitions"},
		},
		"an unknown product refused without details": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, provision: func(ctx context.Context, req *provisioningv1.ProvisionSubscriptionRequest) (*provisioningv1.ProvisionSubscriptionResponse, error) {
					resp, err := a.ProvisionSubscription(ctx, req)
					if status.Code(err) == codes.InvalidArgument {
						return nil, status.Error(codes.InvalidArgument, status.Convert(err).Message())
					}
					return resp, err
				}}
			},
			fails: []string{"subscriptions.unknown-product"},
		},
		"ValidateSubscription that provisions": {
			breakIt: func(a *ledger.Adapter, _ *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				return &broken{Adapter: a, validateSub: func(ctx context.Context, req *provisioningv1.ValidateSubscriptionRequest) (*provisioningv1.ValidateSubscriptionResponse, error) {
					_, _ = a.ProvisionSubscription(ctx, &provisioningv1.ProvisionSubscriptionRequest{Subscription: req.GetSubscription(), Account: req.GetAccount(), AccountRecord: req.GetAccountRecord()})
					return a.ValidateSubscription(ctx, req)
				}}
			},
			fails: []string{"subscriptions.validate-no-side-effects"},
		},
		"business RPCs before Configure": {
			breakIt: func(a *ledger.Adapter, cfg *conformance.Config) provisioningv1.ProvisioningAdapterServer {
				if _, err := a.Configure(context.Background(), &provisioningv1.ConfigureRequest{Settings: cfg.Settings}); err != nil {
					panic(err)
				}
				return a
			},
			fails: []string{"configure.before"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, cfg := setup(t)
			srv := tc.breakIt(a, &cfg)
			rep, err := conformance.Check(t.Context(), plugintest.InProcess(t, srv), cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				if strings.Contains(r.Message, secret) {
					t.Errorf("the report of %s quotes the secret: %s", r.Name, r.Message)
				}
				if q, ok := tc.quotes[r.Name]; ok && !strings.Contains(r.Message, q) {
					t.Errorf("the report of %s does not say %q: %s", r.Name, q, r.Message)
				}
			}
			got := statuses(rep)
			want := map[string]conformance.Status{}
			for _, c := range tc.fails {
				want[c] = conformance.Fail
			}
			seen := map[string]conformance.Status{}
			for c := range want {
				seen[c] = got[c]
			}
			if diff := cmp.Diff(want, seen); diff != "" {
				var b strings.Builder
				_ = rep.WriteText(&b)
				t.Errorf("checks that must catch it (-want +got):\n%s\n%s", diff, b.String())
			}
		})
	}
}

func TestCheckRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	a, cfg := setup(t)
	cfg.Fixtures.EndCustomer.Account.ParentId = "someone-else"
	_, err := conformance.Check(t.Context(), plugintest.InProcess(t, a), cfg)
	if !errors.Is(err, conformance.ErrInvalidConfig) {
		t.Fatalf("Check with an end customer of another reseller: %v, want ErrInvalidConfig", err)
	}
}

func TestSkipAndCleanup(t *testing.T) {
	t.Parallel()
	a, cfg := setup(t)
	var cleaned []string
	cfg.Skip = []string{"synchronize.concurrent"}
	cfg.Cleanup = func(_ context.Context, recs []*provisioningv1.SyncRecord) error {
		for _, r := range recs {
			cleaned = append(cleaned, r.GetAccountId())
		}
		return nil
	}
	cfg.RunID = "fixed"
	rep, err := conformance.Check(t.Context(), plugintest.InProcess(t, a), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(rep)
	want := map[string]conformance.Status{"synchronize.concurrent": conformance.Skip, "cleanup": conformance.Pass}
	if diff := cmp.Diff(want, map[string]conformance.Status{"synchronize.concurrent": got["synchronize.concurrent"], "cleanup": got["cleanup"]}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	wantCleaned := []string{
		"cust-fixedd", "cust-fixeddel", "cust-fixeds1", "cust-fixeds2", "cust-fixeds3", "cust-fixeds4", "cust-fixeds5",
		"cust-fixedt", "cust-fixedup", "cust-fixedx", "end-fixedde", "end-fixede", "res-fixeddr", "res-fixedr",
	}
	if diff := cmp.Diff(wantCleaned, cleaned); diff != "" {
		t.Errorf("records handed to Cleanup (-want +got):\n%s", diff)
	}
}

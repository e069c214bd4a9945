package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Defaults of [Config].
const (
	DefaultRepeat        = 10
	DefaultShortDeadline = 20 * time.Millisecond
	DefaultDeadlineSlack = 2 * time.Second
	DefaultCallTimeout   = 30 * time.Second
	DefaultSettleWait    = 300 * time.Millisecond
	DefaultCancelGrace   = 150 * time.Millisecond
)

// RunToken is replaced, in every string field of a fixture account and in
// every fixture value, by a token unique to the run and the account, so that
// remote values that must be unique (a username, an email) are fresh on every
// run. Account ids always get the token appended, whether they contain it or
// not.
const RunToken = "{{run}}"

// Config is what the suite needs to know about the plugin under test.
type Config struct {
	// Settings are passed to Configure. Values of config fields the plugin
	// marks sensitive are secrets: the "secrets.never-echoed" check fails if
	// any of them appears in any response or error message during the run.
	// Nil with Configured set means "leave the plugin's configuration
	// alone": the Configure checks are skipped.
	Settings map[string]string

	// Configured says the plugin was configured before the suite started
	// (a plugin attached in debug mode, a plugin behind a host): the
	// "configure.before" check, which needs a fresh plugin, is skipped.
	Configured bool

	// Fixtures are the accounts the suite synchronizes. Required.
	Fixtures Fixtures

	// Repeat is N for the idempotency checks: how many times one account is
	// synchronized in a row, and how many calls race on another. Default
	// [DefaultRepeat].
	Repeat int

	// ShortDeadline is the deadline of the "deadline.short" call and the
	// delay before the "cancel.stops-work" call is cancelled: short enough
	// that the plugin is still working when it passes. Default
	// [DefaultShortDeadline].
	ShortDeadline time.Duration

	// DeadlineSlack is how long after ShortDeadline a call may still take to
	// return and count as prompt. Default [DefaultDeadlineSlack]; raise it on
	// a loaded machine rather than lowering the bar elsewhere.
	DeadlineSlack time.Duration

	// CallTimeout bounds every other call, so a hung plugin fails a check
	// instead of hanging the suite. Default [DefaultCallTimeout].
	CallTimeout time.Duration

	// SettleWait is how long the cancellation check waits before reading the
	// remote state a second time to see that no work goes on behind the
	// caller's back. Default [DefaultSettleWait].
	SettleWait time.Duration

	// CancelGrace is how long after a cancelled call returned the
	// cancellation check lets the remote requests already on their way land
	// before it reads the remote state the first time: the plugin learns of
	// the cancel only when the host's RST_STREAM reaches it, and a request it
	// had sent may land later still on a loaded machine. Work that lands
	// after CancelGrace and within SettleWait more fails the check. Default
	// [DefaultCancelGrace]; raise it on a loaded machine.
	CancelGrace time.Duration

	// StateFunc reads the remote system's state as bytes (for instance a
	// simulator's state dump). With it, "validate.no-side-effects" compares
	// the state before and after the read-only RPCs and "cancel.stops-work"
	// checks that nothing moves after a cancelled call. Nil, and the fixtures'
	// state_url empty: those parts are skipped. The bytes must be
	// deterministic: equal states, equal bytes.
	StateFunc func(ctx context.Context) ([]byte, error)

	// Cleanup, if set, is called once at the end of the run with the records
	// of every account the suite synchronized, to remove them from the remote
	// system; the lifecycle checks' records are DELETED already (their
	// remote objects are gone, or, for lifecycle.delete's account, were
	// synchronized anew after the delete). Subscriptions the order checks
	// placed are not listed: they belong to those accounts. Its error is
	// reported as a failed "cleanup" check.
	Cleanup func(ctx context.Context, records []*provisioningv1.SyncRecord) error

	// RunID is the token that makes account ids unique per run. Default: 8
	// random hex digits.
	RunID string

	// Host, when set, puts the host in the loop for the checks about what
	// the host keeps ("host.failed-records"): the suite calls the plugin
	// through it (provisioning.host.v1 HostService, e.g. a
	// hostv1.HostServiceClient of a running provisioning-host) and reads the
	// records it stored. Nil: those checks are skipped.
	Host HostClient

	// HostPlugin is the plugin's name in the host's catalog. Default: the
	// name GetPluginInfo answers.
	HostPlugin string

	// Skip lists checks (by [CheckNames] name) not to run; they are reported
	// as skipped.
	Skip []string
}

// HostClient is the part of provisioning.host.v1 HostService the host-mode
// checks call; hostv1.HostServiceClient implements it.
type HostClient interface {
	Synchronize(ctx context.Context, in *hostv1.SynchronizeRequest, opts ...grpc.CallOption) (*hostv1.SynchronizeResponse, error)
	GetSyncRecord(ctx context.Context, in *hostv1.GetSyncRecordRequest, opts ...grpc.CallOption) (*hostv1.GetSyncRecordResponse, error)
	ListSyncRecords(ctx context.Context, in *hostv1.ListSyncRecordsRequest, opts ...grpc.CallOption) (*hostv1.ListSyncRecordsResponse, error)
}

// Fixture is one account the plugin can synchronize in its test environment,
// with the option values to synchronize it with. The suite starts from the
// values the plugin's form pre-populates and overlays Values, as a person
// filling in the form would.
type Fixture struct {
	// Account is the BSS account. Its id gets a per-run suffix; see
	// [RunToken].
	Account *provisioningv1.Account
	// Values are option values by form key, overlaid on the form's own.
	Values map[string]string
}

// Fixtures describe the accounts the suite synchronizes and how to observe
// and clean the remote system. [LoadFixtures] reads them from a file.
type Fixtures struct {
	// DirectCustomer is a customer with no parent. Required.
	DirectCustomer Fixture
	// Reseller is a reseller with no parent. Required.
	Reseller Fixture
	// EndCustomer is a customer whose parent_id is Reseller's id. Required.
	EndCustomer Fixture
	// Update is what "lifecycle.update-converges" changes on a fresh copy of
	// DirectCustomer before synchronizing it again: its non-empty name,
	// corporate_email and contact replace the customer's ([RunToken]
	// applies). Nil: the suite appends " renamed" to the name and prefixes
	// the email's local part with "renamed.".
	Update *provisioningv1.Account
	// Subscription is the order the subscription checks place for fresh
	// copies of DirectCustomer. Nil: the first base product of the plugin's
	// catalogue, at its smallest quantity, with no add-on.
	Subscription *SubscriptionFixture
	// StateURL, when [Config.StateFunc] is nil, is read with HTTP GET as the
	// remote state (e.g. a simulator's /_sim/state).
	StateURL string
	// CleanupURL, when [Config.Cleanup] is nil, receives an HTTP POST at the
	// end of the run (e.g. a simulator's reset endpoint). Point it only at a
	// test system.
	CleanupURL string
}

// SubscriptionFixture is an order the plugin can provision for a direct
// customer in its test environment (see [Fixtures.Subscription]).
type SubscriptionFixture struct {
	// ProductID is a base product of the plugin's catalogue. Required.
	ProductID string
	// Quantity is the first desired quantity; at least 1.
	Quantity int32
	// NewQuantity is the quantity "subscriptions.quantity" changes it to
	// (and back). Default Quantity+1; never equal to Quantity.
	NewQuantity int32
	// Addons are add-ons of ProductID, each at most min(Quantity,
	// NewQuantity). An empty id gets "addon-<index>".
	Addons []*provisioningv1.Addon
	// Attributes are the order's attributes (Subscription.attributes).
	Attributes map[string]string
}

// validate reports what is wrong with the order, or nil.
func (sf *SubscriptionFixture) validate() error {
	if sf == nil {
		return nil
	}
	var errs []error
	if sf.ProductID == "" {
		errs = append(errs, errors.New("fixture subscription: product_id is empty"))
	}
	if sf.Quantity < 1 {
		errs = append(errs, fmt.Errorf("fixture subscription: quantity is %d, want at least 1", sf.Quantity))
	}
	if sf.NewQuantity < 0 || (sf.NewQuantity != 0 && sf.NewQuantity == sf.Quantity) {
		errs = append(errs, fmt.Errorf("fixture subscription: new_quantity is %d, want a positive quantity other than %d", sf.NewQuantity, sf.Quantity))
	}
	for i, a := range sf.Addons {
		if a.GetProductId() == "" || a.GetQuantity() < 1 || a.GetQuantity() > min(sf.Quantity, sf.newQuantity()) {
			errs = append(errs, fmt.Errorf("fixture subscription: addons[%d] needs a product_id and a quantity from 1 to %d", i, min(sf.Quantity, sf.newQuantity())))
		}
	}
	return errors.Join(errs...)
}

func (sf *SubscriptionFixture) newQuantity() int32 {
	if sf.NewQuantity == 0 {
		return sf.Quantity + 1
	}
	return sf.NewQuantity
}

// Validate reports what is missing from f.
func (f Fixtures) Validate() error {
	var errs []error
	for _, c := range []struct {
		name string
		fx   Fixture
		typ  provisioningv1.AccountType
	}{
		{"direct_customer", f.DirectCustomer, provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER},
		{"reseller", f.Reseller, provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER},
		{"end_customer", f.EndCustomer, provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER},
	} {
		a := c.fx.Account
		switch {
		case a == nil:
			errs = append(errs, fmt.Errorf("fixture %s: account is missing", c.name))
		case a.GetId() == "":
			errs = append(errs, fmt.Errorf("fixture %s: account.id is empty", c.name))
		case a.GetType() != c.typ:
			errs = append(errs, fmt.Errorf("fixture %s: account.type is %s, want %s", c.name, a.GetType(), c.typ))
		}
	}
	if len(errs) == 0 {
		if f.DirectCustomer.Account.GetParentId() != "" || f.Reseller.Account.GetParentId() != "" {
			errs = append(errs, errors.New("fixtures direct_customer and reseller must have no parent_id"))
		}
		if f.EndCustomer.Account.GetParentId() != f.Reseller.Account.GetId() {
			errs = append(errs, fmt.Errorf("fixture end_customer: parent_id is %q, want the reseller's id %q",
				f.EndCustomer.Account.GetParentId(), f.Reseller.Account.GetId()))
		}
	}
	if err := f.Subscription.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// fixtureFile is the on-disk shape of [Fixtures]; accounts are protojson.
type fixtureFile struct {
	DirectCustomer *fixtureEntry      `json:"direct_customer"`
	Reseller       *fixtureEntry      `json:"reseller"`
	EndCustomer    *fixtureEntry      `json:"end_customer"`
	Update         json.RawMessage    `json:"update"`
	Subscription   *subscriptionEntry `json:"subscription"`
	StateURL       string             `json:"state_url"`
	CleanupURL     string             `json:"cleanup_url"`
}

type subscriptionEntry struct {
	ProductID   string            `json:"product_id"`
	Quantity    int32             `json:"quantity"`
	NewQuantity int32             `json:"new_quantity"`
	Addons      []json.RawMessage `json:"addons"`
	Attributes  map[string]string `json:"attributes"`
}

type fixtureEntry struct {
	Account json.RawMessage   `json:"account"`
	Values  map[string]string `json:"values"`
}

// LoadFixtures reads [Fixtures] from a YAML or JSON file (JSON is YAML). Each
// account is written as provisioning.v1.Account in protojson (either field
// name style):
//
//	direct_customer:
//	  account: {id: cust-1, type: ACCOUNT_TYPE_CUSTOMER, name: Acme, corporateEmail: "it+{{run}}@acme.example"}
//	  values: {plan: standard}
//	reseller:
//	  account: {id: res-1, type: ACCOUNT_TYPE_RESELLER, name: Channel Co}
//	end_customer:
//	  account: {id: end-1, type: ACCOUNT_TYPE_CUSTOMER, name: Small Co, parent_id: res-1}
//	update:                                          # optional, see Fixtures.Update
//	  {name: "Acme Renamed {{run}}", corporate_email: "it.new+{{run}}@acme.example"}
//	subscription:                                    # optional, see Fixtures.Subscription
//	  product_id: PRO
//	  quantity: 5
//	  new_quantity: 8
//	  addons: [{product_id: ARCHIVE, quantity: 5}]   # provisioning.v1.Addon in protojson
//	  attributes: {}
//	state_url: http://127.0.0.1:8085/_sim/state      # optional
//	cleanup_url: http://127.0.0.1:8085/_sim/reset    # optional
//
// Unknown keys are an error, so a typo does not silently drop a fixture.
func LoadFixtures(path string) (Fixtures, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Fixtures{}, fmt.Errorf("load fixtures: %w", err)
	}
	f, err := ParseFixtures(b)
	if err != nil {
		return Fixtures{}, fmt.Errorf("load fixtures %s: %w", path, err)
	}
	return f, nil
}

// ParseFixtures is [LoadFixtures] on the file's contents.
func ParseFixtures(b []byte) (Fixtures, error) {
	var generic any
	if err := yaml.Unmarshal(b, &generic); err != nil {
		return Fixtures{}, err
	}
	js, err := json.Marshal(generic)
	if err != nil {
		return Fixtures{}, fmt.Errorf("fixtures are not a JSON-compatible document: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(js)))
	dec.DisallowUnknownFields()
	var ff fixtureFile
	if err := dec.Decode(&ff); err != nil {
		return Fixtures{}, err
	}
	f := Fixtures{StateURL: ff.StateURL, CleanupURL: ff.CleanupURL}
	for _, e := range []struct {
		name string
		in   *fixtureEntry
		out  *Fixture
	}{
		{"direct_customer", ff.DirectCustomer, &f.DirectCustomer},
		{"reseller", ff.Reseller, &f.Reseller},
		{"end_customer", ff.EndCustomer, &f.EndCustomer},
	} {
		if e.in == nil {
			continue // Validate names it.
		}
		a := &provisioningv1.Account{}
		if len(e.in.Account) > 0 {
			if err := protojson.Unmarshal(e.in.Account, a); err != nil {
				return Fixtures{}, fmt.Errorf("%s.account: %w", e.name, err)
			}
		}
		*e.out = Fixture{Account: a, Values: e.in.Values}
	}
	if len(ff.Update) > 0 && string(ff.Update) != "null" {
		f.Update = &provisioningv1.Account{}
		if err := protojson.Unmarshal(ff.Update, f.Update); err != nil {
			return Fixtures{}, fmt.Errorf("update: %w", err)
		}
	}
	if se := ff.Subscription; se != nil {
		f.Subscription = &SubscriptionFixture{ProductID: se.ProductID, Quantity: se.Quantity, NewQuantity: se.NewQuantity, Attributes: se.Attributes}
		for i, raw := range se.Addons {
			a := &provisioningv1.Addon{}
			if err := protojson.Unmarshal(raw, a); err != nil {
				return Fixtures{}, fmt.Errorf("subscription.addons[%d]: %w", i, err)
			}
			f.Subscription.Addons = append(f.Subscription.Addons, a)
		}
	}
	if err := f.Validate(); err != nil {
		return Fixtures{}, err
	}
	return f, nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Repeat <= 0 {
		c.Repeat = DefaultRepeat
	}
	if c.ShortDeadline <= 0 {
		c.ShortDeadline = DefaultShortDeadline
	}
	if c.DeadlineSlack <= 0 {
		c.DeadlineSlack = DefaultDeadlineSlack
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.SettleWait <= 0 {
		c.SettleWait = DefaultSettleWait
	}
	if c.CancelGrace <= 0 {
		c.CancelGrace = DefaultCancelGrace
	}
	if c.RunID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.RunID = hex.EncodeToString(b[:])
	}
	if c.StateFunc == nil && c.Fixtures.StateURL != "" {
		c.StateFunc = httpState(c.Fixtures.StateURL)
	}
	if c.Cleanup == nil && c.Fixtures.CleanupURL != "" {
		c.Cleanup = httpCleanup(c.Fixtures.CleanupURL)
	}
	return c
}

func httpState(url string) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("read remote state: %w", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("read remote state: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("read remote state: GET %s: %s", url, resp.Status)
		}
		return b, nil
	}
}

func httpCleanup(url string) func(context.Context, []*provisioningv1.SyncRecord) error {
	return func(ctx context.Context, _ []*provisioningv1.SyncRecord) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("cleanup: POST %s: %s", url, resp.Status)
		}
		return nil
	}
}

// instantiate makes a run-unique copy of fx: token replaces [RunToken] in the
// account's strings and in the values, and is appended to the account id
// (and to parent_id, which must follow its parent's new id).
func instantiate(fx Fixture, token string) Fixture {
	a := proto.Clone(fx.Account).(*provisioningv1.Account)
	r := strings.NewReplacer(RunToken, token)
	a.Id = r.Replace(a.GetId()) + "-" + token
	a.Name = r.Replace(a.GetName())
	a.CorporateEmail = r.Replace(a.GetCorporateEmail())
	if c := a.GetContact(); c != nil {
		c.FirstName, c.LastName, c.Phone = r.Replace(c.GetFirstName()), r.Replace(c.GetLastName()), r.Replace(c.GetPhone())
	}
	vals := make(map[string]string, len(fx.Values))
	for k, v := range fx.Values {
		vals[k] = r.Replace(v)
	}
	return Fixture{Account: a, Values: vals}
}

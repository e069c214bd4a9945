package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// maxSubscriptionBytes bounds a subscription file, as maxAccountBytes bounds
// an account file: an order is a few hundred bytes.
const maxSubscriptionBytes = 1 << 20

// decodeSubscription reads one subscription in protojson (proto field names
// such as "account_id" or their JSON names). Unknown fields are an error: a
// typo in "quantity" must not order the default.
func decodeSubscription(data []byte) (*provisioningv1.Subscription, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, errors.New(`empty subscription: want a JSON object such as {"id": "S-1", "account_id": "C-1", "product_id": "EPDR", "quantity": 10}`)
	}
	sub := &provisioningv1.Subscription{}
	if err := protojson.Unmarshal(data, sub); err != nil {
		return nil, fmt.Errorf("not a subscription: %w", err)
	}
	if sub.GetId() == "" {
		return nil, errors.New(`subscription has no "id"`)
	}
	return sub, nil
}

// readSubscription reads the subscription file at path, or stdin for "-".
func readSubscription(path string, stdin io.Reader) (*provisioningv1.Subscription, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageError{err}
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSubscriptionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read subscription %s: %w", displayPath(path), err)
	}
	if len(data) > maxSubscriptionBytes {
		return nil, usagef("subscription %s: larger than %d bytes", displayPath(path), maxSubscriptionBytes)
	}
	sub, err := decodeSubscription(data)
	if err != nil {
		return nil, usagef("subscription %s: %v", displayPath(path), err)
	}
	return sub, nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs %s, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

func newProductsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "products",
		Short: "List the plugin's catalogue: the products an order may name",
		Long: `Products shows what GetServiceDefinition answers: each base product and
add-on module with the base products an add-on belongs to, the quantity bounds
(- is none), the trial terms and the per-order attributes (the keys of a
subscription's "attributes").`,
		Args: noArgs,
		Example: `  provctl products
  provctl products -o json`,
		RunE: a.command(true, func(ctx context.Context, s *session, plugin string) error {
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			resp, err := s.client.GetServiceDefinition(ctx, &hostv1.GetServiceDefinitionRequest{Plugin: plugin, Request: &provisioningv1.GetServiceDefinitionRequest{}})
			if err != nil {
				return err
			}
			if a.json() {
				return writeJSON(a.stdout, resp)
			}
			return renderProducts(a.stdout, resp.GetResponse().GetProducts())
		}),
	}
}

func newSubscribeCmd(a *app) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "subscribe FILE",
		Short: "Provision a subscription (an order) from a JSON file",
		Long: `Subscribe makes the plugin's remote system match the order in FILE (or - for
stdin): the protojson form of provisioning.v1.Subscription, with the proto
field names:

  {"id": "S-1", "account_id": "C-1", "product_id": "EPDR", "quantity": 10,
   "addons": [{"id": "S-1-PM", "product_id": "PATCH_MANAGEMENT", "quantity": 10}],
   "attributes": {"allocation_type": "subscription"}, "trial": false}

The file is the desired state, not a change: quantities are set, never added
to, so running subscribe again with the same file answers the same record
("Result: unchanged"), and a file with a new quantity resizes the order.
An add-on left out of the file is released. The account must be synchronized
first ("provctl sync"); the host sends its stored account and records along.

With --check nothing changes: the plugin applies the same rules and subscribe
prints the diagnostics, exiting 7 when there is an error.`,
		Args: exactArgs(1, "one subscription FILE (or - for stdin)"),
		Example: `  provctl subscribe examples/orders/subscription.json --check
  provctl subscribe examples/orders/subscription.json
  cat order.json | provctl subscribe - -o json`,
		RunE: func(c *cobra.Command, args []string) error {
			return a.command(true, func(ctx context.Context, s *session, plugin string) error {
				sub, err := readSubscription(args[0], a.stdin)
				if err != nil {
					return err
				}
				if check {
					return a.checkSubscription(ctx, s, plugin, sub)
				}
				return a.provision(ctx, s, plugin, sub)
			})(c, args)
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only validate (ValidateSubscription): print the diagnostics, change nothing")
	return cmd
}

// checkSubscription is the check-only pass: ValidateSubscription, its
// diagnostics, exit 7 on an error diagnostic.
func (a *app) checkSubscription(ctx context.Context, s *session, plugin string, sub *provisioningv1.Subscription) error {
	ctx, cancel := a.callCtx(ctx)
	defer cancel()
	resp, err := s.client.ValidateSubscription(ctx, &hostv1.ValidateSubscriptionRequest{Plugin: plugin, Request: &provisioningv1.ValidateSubscriptionRequest{Subscription: sub}})
	if err != nil {
		return err
	}
	ds := resp.GetResponse().GetDiagnostics()
	if a.json() {
		if err := writeJSON(a.stdout, resp); err != nil {
			return err
		}
	} else if err := renderDiagnostics(a.stdout, ds); err != nil {
		return err
	}
	if n := len(diag.Errors(ds)); n > 0 {
		return checkError{fmt.Sprintf("subscription %s: validation found %d error(s)", sub.GetId(), n)}
	}
	return nil
}

// provision sends the desired state and prints the resulting record.
func (a *app) provision(ctx context.Context, s *session, plugin string, sub *provisioningv1.Subscription) error {
	ctx, cancel := a.callCtx(ctx)
	defer cancel()
	resp, err := s.client.ProvisionSubscription(ctx, &hostv1.ProvisionSubscriptionRequest{Plugin: plugin, Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub}})
	if err != nil {
		return err
	}
	r := resp.GetResponse()
	if a.json() {
		out := proto.CloneOf(resp)
		redactSubscriptionRecord(out.GetResponse().GetRecord())
		return writeJSON(a.stdout, out)
	}
	return a.renderChange(r.GetRecord(), r.GetDiagnostics(), [2]string{"Result", outcome(r.GetCreated(), r.GetUpdated())})
}

// renderChange prints the record a write answered, then its warnings.
func (a *app) renderChange(rec *provisioningv1.SubscriptionRecord, ds []*provisioningv1.Diagnostic, extra ...[2]string) error {
	if err := renderSubscriptionRecord(a.stdout, rec, extra...); err != nil {
		return err
	}
	if len(ds) > 0 {
		fmt.Fprintln(a.stdout)
		return renderDiagnostics(a.stdout, ds)
	}
	return nil
}

// outcome words what a write did: "updated" is false when the remote
// already matched, the idempotent replay.
func outcome(created, updated bool) string {
	switch {
	case created:
		return "created"
	case updated:
		return "updated"
	}
	return "unchanged (the remote already matched: idempotent replay)"
}

func newSubscriptionCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "subscription",
		Short: "Read or change one provisioned subscription",
		Long: `Subscription reads or changes one subscription the host has provisioned, by
its BSS subscription id. Every change is idempotent: suspending a suspended
subscription, resuming an active one or cancelling a cancelled one answers it
unchanged ("Result: unchanged").`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("%s %s: unknown command; want get, set-quantity, suspend, resume or cancel", cmd.CommandPath(), args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		Example: `  provctl subscription get S-1
  provctl subscription set-quantity S-1 25
  provctl subscription suspend S-1
  provctl subscription resume S-1
  provctl subscription cancel S-1`,
	}
	cmd.AddCommand(
		newSubscriptionGetCmd(a),
		newSetQuantityCmd(a),
		newSubscriptionActionCmd(a, "suspend", "Release a subscription's licences, keeping its record and quantity",
			`Suspend releases the subscription's licences (the allocation and its
add-ons) and keeps the record, the quantity and the add-ons: status suspended.
"provctl subscription resume" allocates them again.`,
			func(ctx context.Context, s *session, plugin, id string) (proto.Message, *provisioningv1.SubscriptionRecord, bool, []*provisioningv1.Diagnostic, error) {
				resp, err := s.client.SuspendSubscription(ctx, &hostv1.SuspendSubscriptionRequest{Plugin: plugin, Request: &provisioningv1.SuspendSubscriptionRequest{SubscriptionId: id}})
				r := resp.GetResponse()
				return resp, r.GetRecord(), r.GetUpdated(), r.GetDiagnostics(), err
			}),
		newSubscriptionActionCmd(a, "resume", "Allocate a suspended subscription's licences again",
			`Resume allocates the record's quantity and add-ons again: status active. For
an end customer the reseller's inventory must still hold them
(INSUFFICIENT_INVENTORY otherwise).`,
			func(ctx context.Context, s *session, plugin, id string) (proto.Message, *provisioningv1.SubscriptionRecord, bool, []*provisioningv1.Diagnostic, error) {
				resp, err := s.client.ResumeSubscription(ctx, &hostv1.ResumeSubscriptionRequest{Plugin: plugin, Request: &provisioningv1.ResumeSubscriptionRequest{SubscriptionId: id}})
				r := resp.GetResponse()
				return resp, r.GetRecord(), r.GetUpdated(), r.GetDiagnostics(), err
			}),
		newSubscriptionActionCmd(a, "cancel", "Release a subscription's licences for good (terminal)",
			`Cancel releases the subscription's licences for good: status cancelled.
It is terminal: any later change but cancel fails with FAILED_PRECONDITION,
reason SUBSCRIPTION_CANCELLED; order again under a new subscription id.`,
			func(ctx context.Context, s *session, plugin, id string) (proto.Message, *provisioningv1.SubscriptionRecord, bool, []*provisioningv1.Diagnostic, error) {
				resp, err := s.client.CancelSubscription(ctx, &hostv1.CancelSubscriptionRequest{Plugin: plugin, Request: &provisioningv1.CancelSubscriptionRequest{SubscriptionId: id}})
				r := resp.GetResponse()
				return resp, r.GetRecord(), r.GetUpdated(), r.GetDiagnostics(), err
			}),
	)
	return cmd
}

// subscriptionAction is one of the id-only writes (suspend, resume, cancel):
// the whole response (for -o json), its record, "updated" and warnings.
type subscriptionAction func(ctx context.Context, s *session, plugin, id string) (proto.Message, *provisioningv1.SubscriptionRecord, bool, []*provisioningv1.Diagnostic, error)

func newSubscriptionActionCmd(a *app, name, short, long string, call subscriptionAction) *cobra.Command {
	return &cobra.Command{
		Use:     name + " SUBSCRIPTION_ID",
		Short:   short,
		Long:    long,
		Args:    exactArgs(1, "one subscription id"),
		Example: "  provctl subscription " + name + " S-1\n  provctl subscription " + name + " S-1 -o json",
		RunE: func(c *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			return a.command(true, func(ctx context.Context, s *session, plugin string) error {
				if id == "" {
					return usagef("empty subscription id")
				}
				ctx, cancel := a.callCtx(ctx)
				defer cancel()
				resp, rec, updated, ds, err := call(ctx, s, plugin, id)
				if err != nil {
					return err
				}
				if a.json() {
					out := proto.Clone(resp)
					redactSubscriptionRecord(subscriptionRecordOf(out))
					return writeJSON(a.stdout, out)
				}
				return a.renderChange(rec, ds, [2]string{"Result", outcome(false, updated)})
			})(c, args)
		},
	}
}

// subscriptionRecordOf finds the record in a suspend, resume or cancel
// response.
func subscriptionRecordOf(m proto.Message) *provisioningv1.SubscriptionRecord {
	switch r := m.(type) {
	case *hostv1.SuspendSubscriptionResponse:
		return r.GetResponse().GetRecord()
	case *hostv1.ResumeSubscriptionResponse:
		return r.GetResponse().GetRecord()
	case *hostv1.CancelSubscriptionResponse:
		return r.GetResponse().GetRecord()
	}
	return nil
}

func newSubscriptionGetCmd(a *app) *cobra.Command {
	var refresh bool
	cmd := &cobra.Command{
		Use:   "get SUBSCRIPTION_ID",
		Short: "Show a subscription's stored record and desired state",
		Long: `Get shows the record the host stores for the subscription (what is
provisioned remotely) and the desired state last sent for it, with no remote
call. With --refresh the plugin first refreshes the record from the remote
system (it settles a pending record, notices an expired trial) and reports
REMOTE_DRIFT warnings where the remote and the record disagree; drift is never
corrected here: "provctl subscribe" with the desired state corrects it.`,
		Args: exactArgs(1, "one subscription id"),
		Example: `  provctl subscription get S-1
  provctl subscription get S-1 --refresh
  provctl subscription get S-1 -o json`,
		RunE: func(c *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			return a.command(true, func(ctx context.Context, s *session, plugin string) error {
				if id == "" {
					return usagef("empty subscription id")
				}
				ctx, cancel := a.callCtx(ctx)
				defer cancel()
				if refresh {
					return a.refreshSubscription(ctx, s, plugin, id)
				}
				resp, err := s.client.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: plugin, SubscriptionId: id})
				if err != nil {
					return err
				}
				if a.json() {
					out := proto.CloneOf(resp)
					redactSubscriptionRecord(out.GetRecord())
					if d := out.GetSubscription(); d != nil {
						d.Attributes = redactValues(d.GetAttributes())
					}
					return writeJSON(a.stdout, out)
				}
				var extra [][2]string
				if d := resp.GetSubscription(); d != nil {
					extra = append(extra, [2]string{"Desired", desiredLine(d)})
				}
				return renderSubscriptionRecord(a.stdout, resp.GetRecord(), extra...)
			})(c, args)
		},
	}
	cmd.Flags().BoolVar(&refresh, "refresh", false, "refresh the record from the remote system first (GetSubscriptionStatus)")
	return cmd
}

// desiredLine sums up a desired state on one line.
func desiredLine(d *provisioningv1.Subscription) string {
	s := fmt.Sprintf("%s x%d", cell(d.GetProductId()), d.GetQuantity())
	if len(d.GetAddons()) > 0 {
		s += ", add-ons " + addonsCell(d.GetAddons())
	}
	if d.GetTrial() {
		s += ", trial"
	}
	return s
}

func (a *app) refreshSubscription(ctx context.Context, s *session, plugin, id string) error {
	resp, err := s.client.GetSubscriptionStatus(ctx, &hostv1.GetSubscriptionStatusRequest{Plugin: plugin, Request: &provisioningv1.GetSubscriptionStatusRequest{
		Record: &provisioningv1.SubscriptionRecord{Plugin: plugin, SubscriptionId: id},
	}})
	if err != nil {
		return err
	}
	if a.json() {
		out := proto.CloneOf(resp)
		redactSubscriptionRecord(out.GetResponse().GetRecord())
		return writeJSON(a.stdout, out)
	}
	r := resp.GetResponse()
	// The desired state is the host's, beside the refreshed record, as
	// "subscription get" shows it; without it the record alone is shown.
	var extra [][2]string
	if stored, err := s.client.GetSubscriptionRecord(ctx, &hostv1.GetSubscriptionRecordRequest{Plugin: plugin, SubscriptionId: id}); err == nil && stored.GetSubscription() != nil {
		extra = append(extra, [2]string{"Desired", desiredLine(stored.GetSubscription())})
	}
	return a.renderChange(r.GetRecord(), r.GetDiagnostics(), extra...)
}

func newSetQuantityCmd(a *app) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "set-quantity SUBSCRIPTION_ID QUANTITY",
		Short: "Resize a subscription: provision its stored desired state with a new quantity",
		Long: `Set-quantity reads the desired state the host stored for the subscription,
sets its quantity and provisions it, as "provctl subscribe" would with an
edited file. Add-ons keep their quantities: when one would exceed the new
quantity the plugin refuses with ADDON_EXCEEDS_BASE and names the add-on; lower
it with "provctl subscribe" and the full desired state. With --check nothing
changes: the plugin validates the resized order and set-quantity prints the
diagnostics.`,
		Args: exactArgs(2, "a subscription id and a quantity"),
		Example: `  provctl subscription set-quantity S-1 25
  provctl subscription set-quantity S-1 5 --check`,
		RunE: func(c *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			n, err := strconv.ParseInt(strings.TrimSpace(args[1]), 10, 32)
			if err != nil || n < 1 {
				return usagef("quantity %q: want a whole number of at least 1", args[1])
			}
			if id == "" {
				return usagef("empty subscription id")
			}
			return a.command(true, func(ctx context.Context, s *session, plugin string) error {
				cctx, cancel := a.callCtx(ctx)
				stored, err := s.client.GetSubscriptionRecord(cctx, &hostv1.GetSubscriptionRecordRequest{Plugin: plugin, SubscriptionId: id})
				cancel()
				if err != nil {
					return err
				}
				if stored.GetSubscription() == nil {
					return fmt.Errorf("subscription %s: the host stores no desired state for it; provision it with \"provctl subscribe FILE\"", id)
				}
				sub := proto.CloneOf(stored.GetSubscription())
				sub.Quantity = int32(n)
				if check {
					return a.checkSubscription(ctx, s, plugin, sub)
				}
				return a.provision(ctx, s, plugin, sub)
			})(c, args)
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only validate the resized order: print the diagnostics, change nothing")
	return cmd
}

func newSubscriptionsCmd(a *app) *cobra.Command {
	var (
		account    string
		statusFlag string
		pageSize   int32
		pageToken  string
		all        bool
	)
	cmd := &cobra.Command{
		Use:   "subscriptions",
		Short: "List the subscription records the host stores",
		Long: `Subscriptions pages through the host's stored subscription records, ordered
by subscription id. Without --plugin-name it lists the records of every plugin.
A page ends with the --page-token of the next one; --all follows every page.`,
		Args: noArgs,
		Example: `  provctl subscriptions
  provctl subscriptions --account C-1
  provctl subscriptions --status suspended --all -o json`,
		RunE: a.command(false, func(ctx context.Context, s *session, _ string) error {
			st, err := parseSubscriptionStatus(statusFlag)
			if err != nil {
				return err
			}
			if pageSize < 0 {
				return usagef("--page-size must not be negative")
			}
			req := &hostv1.ListSubscriptionRecordsRequest{Plugin: a.g.pluginName, AccountId: strings.TrimSpace(account), Status: st, PageSize: pageSize}
			var out hostv1.ListSubscriptionRecordsResponse
			out.Records, out.NextPageToken, err = listPages(ctx, a, all, pageToken, func(ctx context.Context, token string) ([]*provisioningv1.SubscriptionRecord, string, error) {
				req.PageToken = token
				resp, err := s.client.ListSubscriptionRecords(ctx, req)
				return resp.GetRecords(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			for _, r := range out.Records {
				redactSubscriptionRecord(r)
			}
			if a.json() {
				return writeJSON(a.stdout, &out)
			}
			if err := renderSubscriptionRecords(a.stdout, out.Records); err != nil {
				return err
			}
			if out.NextPageToken != "" {
				fmt.Fprintf(a.stderr, "More subscriptions: add --page-token %s (or --all).\n", out.NextPageToken)
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&account, "account", "a", "", "only the subscriptions of this BSS account id")
	cmd.Flags().StringVar(&statusFlag, "status", "", "only records with this status: pending, active, suspended, cancelled, failed")
	cmd.Flags().Int32Var(&pageSize, "page-size", 0, "records per page (default 100, at most 1000)")
	cmd.Flags().StringVar(&pageToken, "page-token", "", "the next page, from a previous page")
	cmd.Flags().BoolVar(&all, "all", false, "follow every page")
	return cmd
}

// parseSubscriptionStatus accepts "active", "SUBSCRIPTION_STATUS_ACTIVE" and
// the like; empty means any.
func parseSubscriptionStatus(s string) (provisioningv1.SubscriptionStatus, error) {
	if s == "" {
		return provisioningv1.SubscriptionStatus_SUBSCRIPTION_STATUS_UNSPECIFIED, nil
	}
	n := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	if !strings.HasPrefix(n, "SUBSCRIPTION_STATUS_") {
		n = "SUBSCRIPTION_STATUS_" + n
	}
	v, ok := provisioningv1.SubscriptionStatus_value[n]
	if !ok || v == 0 {
		return 0, usagef("--status %q: want one of pending, active, suspended, cancelled, failed", s)
	}
	return provisioningv1.SubscriptionStatus(v), nil
}

// reasonHints say what to do next when the reason is more precise than the
// code's hint: the order and lifecycle reasons, from the contract's error
// tables. Their
// code's generic hint ("synchronize the parent first") would mislead.
var reasonHints = map[string]string{
	diag.CodeAccountNotSynced:           "synchronize the account first (provctl sync), then retry",
	diag.CodeSubscriptionCancelled:      "a cancelled subscription is final: order again under a new subscription id",
	diag.CodeSubscriptionAccountChanged: "a subscription never moves to another account: cancel it and order for the new account",
	diag.CodeProductChanged:             "cancel the subscription and order the new product under a new subscription id",
	diag.CodeInsufficientInventory:      "the root account lacks unallocated licences: buy more, then retry",
	diag.CodeTrialExpired:               "the trial is over: provision it as paid (\"trial\": false)",
	diag.CodeTrialDowngrade:             "a paid subscription never goes back to trial: order without \"trial\"",
	diag.ReasonSubscriptionNotFound:     "provision it first (provctl subscribe), or check the id and --plugin-name",
	diag.CodeHasChildren:                "delete its end customers first, or delete the whole tree with --cascade",
	diag.CodeHasSubscriptions:           "cancel its subscriptions first (provctl subscriptions --account ID; provctl subscription cancel ID)",
	diag.CodeParentChanged:              "Panda cannot move an account: restore the BSS parent, or delete the account and synchronize it anew",
	diag.CodeTypeChangeUnsupported:      "convert the account in the WatchGuard console, then provctl status ID adopts it (see the error's detail)",
	diag.ReasonRemoteIDTaken:            "another account's record holds that Panda account: check both with provctl records",
}

// redactSubscriptionRecord hides secret-looking attribute values in a record
// about to be printed. Attributes are order options (e.g. allocation_type),
// never secrets by contract; this is the second line of defence, as for
// sync records.
func redactSubscriptionRecord(r *provisioningv1.SubscriptionRecord) {
	if r != nil {
		r.Attributes = redactValues(r.GetAttributes())
	}
}

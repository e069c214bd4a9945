package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func (a *app) json() bool { return a.g.output == "json" }

// accountFlags are the flags of the commands that take one account.
type accountFlags struct {
	path string
	sets []string
	auto bool
}

func (f *accountFlags) register(cmd *cobra.Command, withValues bool) {
	cmd.Flags().StringVarP(&f.path, "account", "a", "", "account JSON file, or - for stdin (or give it as the argument)")
	if withValues {
		cmd.Flags().StringArrayVar(&f.sets, "set", nil, "option value key=value (repeatable)")
		cmd.Flags().BoolVar(&f.auto, "auto", false, "fill every missing value from its default (the storefront path)")
	}
}

// load reads the account (from --account or the positional argument, see
// withArgs) and the --set values.
func (f *accountFlags) load(a *app) (*provisioningv1.Account, map[string]string, error) {
	acc, err := readAccount(f.path, a.stdin)
	if err != nil {
		return nil, nil, err
	}
	values, err := parseValues(f.sets)
	if err != nil {
		return nil, nil, err
	}
	return acc, values, nil
}

func newPluginsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "plugins",
		Short: "List the host's plugins and their process state",
		Args:  noArgs,
		Example: `  provctl plugins
  provctl plugins -o json`,
		RunE: a.command(false, func(ctx context.Context, s *session, _ string) error {
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			resp, err := s.client.ListPlugins(ctx, &hostv1.ListPluginsRequest{})
			if err != nil {
				return err
			}
			if a.json() {
				return writeJSON(a.stdout, resp)
			}
			return renderPlugins(a.stdout, resp.GetPlugins())
		}),
	}
}

func newInfoCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Describe a plugin: version, capabilities and the settings it needs",
		Args:  noArgs,
		Example: `  provctl info
  provctl info --plugin-name panda -o json`,
		RunE: a.command(true, func(ctx context.Context, s *session, plugin string) error {
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			resp, err := s.client.GetPluginInfo(ctx, &hostv1.GetPluginInfoRequest{Plugin: plugin, Request: &provisioningv1.GetPluginInfoRequest{}})
			if err != nil {
				return err
			}
			if a.json() {
				return writeJSON(a.stdout, resp)
			}
			return renderInfo(a.stdout, resp.GetResponse())
		}),
	}
}

func newProbeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "probe",
		Short: "Check that the plugin reaches its remote system with its credentials",
		Long: `Probe asks the plugin whether its remote system can be reached with the
configured credentials. It exits 7 when the answer is "not ready".`,
		Args: noArgs,
		Example: `  provctl probe
  provctl --plugin ./bin/provisioning-plugin-panda --settings panda.yaml probe`,
		RunE: a.command(true, func(ctx context.Context, s *session, plugin string) error {
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			resp, err := s.client.Probe(ctx, &hostv1.ProbeRequest{Plugin: plugin, Request: &provisioningv1.ProbeRequest{}})
			if err != nil {
				return err
			}
			r := resp.GetResponse()
			if a.json() {
				if err := writeJSON(a.stdout, resp); err != nil {
					return err
				}
			} else {
				state := "ready"
				if !r.GetReady() {
					state = "NOT ready"
				}
				msg := ""
				if r.GetMessage() != "" {
					msg = ": " + oneLine(r.GetMessage())
				}
				fmt.Fprintf(a.stdout, "%s: %s%s\n", plugin, state, msg)
			}
			if !r.GetReady() {
				return checkError{plugin + " is not ready"}
			}
			return nil
		}),
	}
}

func newOptionsCmd(a *app) *cobra.Command {
	var af accountFlags
	cmd := &cobra.Command{
		Use:   "options [ACCOUNT_FILE]",
		Short: "Show the sync options form of an account, with its diagnostics",
		Long: `Options shows the form an operator fills before synchronizing an account:
each field with its kind, pre-populated value, flags and choices, then the
diagnostics about the account as it stands (e.g. PARENT_NOT_SYNCED when an end
customer's reseller is not synchronized yet). Diagnostics are part of the
answer: options exits 0 when it got the form.`,
		Args: maxOneArg("account file"),
		Example: `  provctl options --account examples/reseller.json
  provctl options examples/end-customer.json -o json
  cat account.json | provctl options -`,
		RunE: a.command(true, func(ctx context.Context, s *session, plugin string) error {
			acc, _, err := af.load(a)
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			resp, err := s.client.GetSyncOptions(ctx, &hostv1.GetSyncOptionsRequest{Plugin: plugin, Request: &provisioningv1.GetSyncOptionsRequest{Account: acc}})
			if err != nil {
				return err
			}
			if a.json() {
				return writeJSON(a.stdout, redactForm(resp))
			}
			r := resp.GetResponse()
			return renderForm(a.stdout, r.GetFields(), r.GetDiagnostics())
		}),
	}
	af.register(cmd, false)
	withArgs(cmd, &af)
	return cmd
}

func newValidateCmd(a *app) *cobra.Command {
	var af accountFlags
	cmd := &cobra.Command{
		Use:   "validate [ACCOUNT_FILE]",
		Short: "Check option values without synchronizing (the \"check only\" pass)",
		Long: `Validate applies exactly the rules synchronize applies first, and saves
nothing. It prints the diagnostics and the values synchronize would use, and
exits 7 when there is an error diagnostic.`,
		Args: maxOneArg("account file"),
		Example: `  provctl validate --account examples/direct-customer.json --set username=globex-admin
  provctl validate --account examples/storefront-order.json --auto`,
		RunE: a.command(true, func(ctx context.Context, s *session, plugin string) error {
			acc, values, err := af.load(a)
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			resp, err := s.client.ValidateSyncOptions(ctx, &hostv1.ValidateSyncOptionsRequest{Plugin: plugin, Request: &provisioningv1.ValidateSyncOptionsRequest{
				Account: acc, Values: values, AutoFill: af.auto,
			}})
			if err != nil {
				return err
			}
			r := resp.GetResponse()
			if a.json() {
				out := proto.CloneOf(resp)
				out.GetResponse().Values = redactValues(r.GetValues())
				if err := writeJSON(a.stdout, out); err != nil {
					return err
				}
			} else {
				if err := renderDiagnostics(a.stdout, r.GetDiagnostics()); err != nil {
					return err
				}
				if len(r.GetValues()) > 0 {
					fmt.Fprintln(a.stdout, "\nValues synchronize would use:")
					if err := renderValues(a.stdout, "  ", r.GetValues()); err != nil {
						return err
					}
				}
			}
			if n := len(diag.Errors(r.GetDiagnostics())); n > 0 {
				return checkError{fmt.Sprintf("validation found %d error(s)", n)}
			}
			return nil
		}),
	}
	af.register(cmd, true)
	withArgs(cmd, &af)
	return cmd
}

func newSyncCmd(a *app) *cobra.Command {
	var af accountFlags
	cmd := &cobra.Command{
		Use:   "sync [ACCOUNT_FILE]",
		Short: "Synchronize an account (\"Save & Synchronize\")",
		Long: `Sync registers the account in the plugin's remote system with exactly the
option values given by --set, as a form sends them on "Save & Synchronize"
(see the fields with "provctl options"). With --auto every missing value is
filled from its default, as a storefront order does.

Sync is idempotent, keyed by the account id: running it again answers the same
record with "created: no". The host stores the record, so an end customer can be
synchronized once its reseller is.`,
		Args: maxOneArg("account file"),
		Example: `  provctl sync --account examples/reseller.json --set role=Reseller --set username=acme-owner
  provctl sync --account examples/storefront-order.json --auto
  provctl sync examples/end-customer.json --set role=User --set username=umbrella-admin -o json`,
		RunE: a.command(true, func(ctx context.Context, s *session, plugin string) error {
			acc, values, err := af.load(a)
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			resp, err := s.client.Synchronize(ctx, &hostv1.SynchronizeRequest{Plugin: plugin, Request: &provisioningv1.SynchronizeRequest{
				Account: acc, Values: values, AutoFill: af.auto,
			}})
			if err != nil {
				return err
			}
			r := resp.GetResponse()
			if a.json() {
				out := proto.CloneOf(resp)
				redactRecord(out.GetResponse().GetRecord())
				return writeJSON(a.stdout, out)
			}
			created := "no (it already existed: idempotent replay)"
			switch {
			case r.GetCreated():
				created = "yes"
			case r.GetUpdated():
				created = "no (it existed: updated to match the account)"
			}
			if err := renderRecord(a.stdout, r.GetRecord(), [2]string{"Created", created}); err != nil {
				return err
			}
			if len(r.GetDiagnostics()) > 0 {
				fmt.Fprintln(a.stdout)
				return renderDiagnostics(a.stdout, r.GetDiagnostics())
			}
			return nil
		}),
	}
	af.register(cmd, true)
	withArgs(cmd, &af)
	return cmd
}

// withArgs routes the positional account argument into the account flags.
func withArgs(cmd *cobra.Command, af *accountFlags) {
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 1 {
			if af.path != "" {
				return usagef("give the account as --account or as the argument, not both")
			}
			af.path = args[0]
		}
		return run(c, args)
	}
}

func newStatusCmd(a *app) *cobra.Command {
	var (
		accountPath string
		cached      bool
	)
	cmd := &cobra.Command{
		Use:   "status ACCOUNT_ID",
		Short: "Refresh an account's sync record from the remote system",
		Long: `Status asks the plugin to refresh the account's stored record from the
remote system (it settles a pending record, notices an activation or a deleted
remote account) and stores the result. With --cached it only reads the stored
record, with no remote call.`,
		Args: maxOneArg("account id"),
		Example: `  provctl status R-100
  provctl status --account examples/reseller.json
  provctl status R-100 --cached -o json`,
		RunE: a.command(true, func(ctx context.Context, s *session, plugin string) error {
			return a.status(ctx, s, plugin, accountPath, cached)
		}),
	}
	cmd.Flags().StringVarP(&accountPath, "account", "a", "", "account JSON file (its id is used: the host refreshes against the account snapshot it stored)")
	cmd.Flags().BoolVar(&cached, "cached", false, "read the stored record only; no remote call")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		switch {
		case len(args) == 1 && accountPath != "":
			return usagef("give an account id or --account, not both")
		case len(args) == 1:
			accountPath = "id:" + args[0]
		case accountPath == "":
			return usagef("status needs an account id (or --account FILE)")
		}
		return run(c, args)
	}
	return cmd
}

func (a *app) status(ctx context.Context, s *session, plugin, accountPath string, cached bool) error {
	var acc *provisioningv1.Account
	id, ok := strings.CutPrefix(accountPath, "id:")
	if !ok {
		var err error
		if acc, err = readAccount(accountPath, a.stdin); err != nil {
			return err
		}
		id = acc.GetId()
	}
	if strings.TrimSpace(id) == "" {
		return usagef("empty account id")
	}
	ctx, cancel := a.callCtx(ctx)
	defer cancel()
	if cached {
		resp, err := s.client.GetSyncRecord(ctx, &hostv1.GetSyncRecordRequest{Plugin: plugin, AccountId: id})
		if err != nil {
			return err
		}
		if a.json() {
			out := proto.CloneOf(resp)
			redactRecord(out.GetRecord())
			return writeJSON(a.stdout, out)
		}
		return renderRecord(a.stdout, resp.GetRecord())
	}
	resp, err := s.client.GetSyncStatus(ctx, &hostv1.GetSyncStatusRequest{Plugin: plugin, Request: &provisioningv1.GetSyncStatusRequest{
		Record: &provisioningv1.SyncRecord{Plugin: plugin, AccountId: id}, Account: acc,
	}})
	if err != nil {
		return err
	}
	if a.json() {
		out := proto.CloneOf(resp)
		redactRecord(out.GetResponse().GetRecord())
		return writeJSON(a.stdout, out)
	}
	r := resp.GetResponse()
	if err := renderRecord(a.stdout, r.GetRecord()); err != nil {
		return err
	}
	if len(r.GetDiagnostics()) > 0 {
		fmt.Fprintln(a.stdout)
		return renderDiagnostics(a.stdout, r.GetDiagnostics())
	}
	return nil
}

func newRecordsCmd(a *app) *cobra.Command {
	var (
		statusFlag string
		pageSize   int32
		pageToken  string
		all        bool
	)
	cmd := &cobra.Command{
		Use:   "records",
		Short: "List the sync records the host stores",
		Long: `Records pages through the host's stored sync records, ordered by account
id. Without --plugin-name it lists the records of every plugin. A page ends with
the --page-token of the next one; --all follows every page.`,
		Args: noArgs,
		Example: `  provctl records
  provctl records --status pending
  provctl records --page-size 50 --page-token NEXT_TOKEN
  provctl records --all -o json`,
		RunE: a.command(false, func(ctx context.Context, s *session, _ string) error {
			st, err := parseSyncStatus(statusFlag)
			if err != nil {
				return err
			}
			if pageSize < 0 {
				return usagef("--page-size must not be negative")
			}
			req := &hostv1.ListSyncRecordsRequest{Plugin: a.g.pluginName, Status: st, PageSize: pageSize}
			var out hostv1.ListSyncRecordsResponse
			out.Records, out.NextPageToken, err = listPages(ctx, a, all, pageToken, func(ctx context.Context, token string) ([]*provisioningv1.SyncRecord, string, error) {
				req.PageToken = token
				resp, err := s.client.ListSyncRecords(ctx, req)
				return resp.GetRecords(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			for _, r := range out.Records {
				redactRecord(r)
			}
			if a.json() {
				return writeJSON(a.stdout, &out)
			}
			if err := renderRecords(a.stdout, out.Records); err != nil {
				return err
			}
			if out.NextPageToken != "" {
				fmt.Fprintf(a.stderr, "More records: add --page-token %s (or --all).\n", out.NextPageToken)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&statusFlag, "status", "", "only records with this status: not-synced, pending, synced, active, failed, missing, deleted")
	cmd.Flags().Int32Var(&pageSize, "page-size", 0, "records per page (default 100, at most 1000)")
	cmd.Flags().StringVar(&pageToken, "page-token", "", "the next page, from a previous page")
	cmd.Flags().BoolVar(&all, "all", false, "follow every page")
	return cmd
}

// parseSyncStatus accepts "synced", "not-synced", "not_synced" or the enum
// name SYNC_STATUS_SYNCED; empty means any.
func parseSyncStatus(s string) (provisioningv1.SyncStatus, error) {
	if s == "" {
		return provisioningv1.SyncStatus_SYNC_STATUS_UNSPECIFIED, nil
	}
	n := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	if !strings.HasPrefix(n, "SYNC_STATUS_") {
		n = "SYNC_STATUS_" + n
	}
	v, ok := provisioningv1.SyncStatus_value[n]
	if !ok || v == 0 {
		return 0, usagef("--status %q: want one of not-synced, pending, synced, active, failed, missing, deleted", s)
	}
	return provisioningv1.SyncStatus(v), nil
}

// redactRecord hides secret-looking values in a record about to be printed.
func redactRecord(r *provisioningv1.SyncRecord) {
	if r != nil {
		r.Values = redactValues(r.GetValues())
	}
}

// redactForm blanks the value of every sensitive field, for -o json.
func redactForm(resp *hostv1.GetSyncOptionsResponse) *hostv1.GetSyncOptionsResponse {
	out := proto.CloneOf(resp)
	for _, f := range out.GetResponse().GetFields() {
		if f.GetSensitive() && f.GetValue() != "" {
			f.Value = hidden
		}
	}
	return out
}

// listPages calls list for the page at token, and while all is set for every
// page after it, each call with its own deadline; it answers what the pages
// held and the token of the page after the last one read ("" at the end).
func listPages[T any](ctx context.Context, a *app, all bool, token string, list func(ctx context.Context, token string) ([]T, string, error)) ([]T, string, error) {
	var out []T
	for {
		cctx, cancel := a.callCtx(ctx)
		items, next, err := list(cctx, token)
		cancel()
		if err != nil {
			return nil, "", err
		}
		out = append(out, items...)
		if !all || next == "" {
			return out, next, nil
		}
		token = next
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func newDeleteCmd(a *app) *cobra.Command {
	var (
		cascade bool
		id      string
	)
	cmd := &cobra.Command{
		Use:   "delete ACCOUNT_ID",
		Short: "Delete an account's remote objects (its record becomes deleted)",
		Long: `Delete asks the plugin to delete the account's remote objects (Panda: its
operator and its account). The host sends the record, account and ancestors it
stored; the record stays listed with status deleted, and a later sync creates
the account anew.

An account with child accounts (remote, or known to the host's store) is
refused with HAS_CHILDREN (exit 4) unless --cascade: then its descendants go
first, deepest first, and their records are marked deleted too. Delete is
idempotent: running it again answers "deleted: no".`,
		Args: exactlyOneArg("account id"),
		Example: `  provctl delete C-2002
  provctl delete R-2001 --cascade
  provctl delete R-2001 --cascade -o json`,
		RunE: a.command(true, func(ctx context.Context, s *session, plugin string) error {
			return a.deleteAccount(ctx, s, plugin, id, cascade)
		}),
	}
	cmd.Flags().BoolVar(&cascade, "cascade", false, "delete the account's descendants first instead of failing with HAS_CHILDREN")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		id = args[0]
		return run(c, args)
	}
	return cmd
}

func exactlyOneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("%s needs one %s, got %d arguments", cmd.Name(), what, len(args))
		}
		if strings.TrimSpace(args[0]) == "" {
			return usagef("empty %s", what)
		}
		return nil
	}
}

func (a *app) deleteAccount(ctx context.Context, s *session, plugin, id string, cascade bool) error {
	ctx, cancel := a.callCtx(ctx)
	defer cancel()
	resp, err := s.client.DeleteAccount(ctx, &hostv1.DeleteAccountRequest{Plugin: plugin, Request: &provisioningv1.DeleteAccountRequest{
		Account: &provisioningv1.Account{Id: id}, Cascade: cascade,
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
	deleted := "no (already gone: idempotent replay)"
	if r.GetDeleted() {
		deleted = "yes"
	}
	extra := [][2]string{{"Deleted", deleted}}
	if cascade {
		ids := none
		if len(resp.GetDeletedAccountIds()) > 0 {
			ids = strings.Join(resp.GetDeletedAccountIds(), ", ")
		}
		extra = append(extra, [2]string{"Descendants", ids})
	}
	if err := renderRecord(a.stdout, r.GetRecord(), extra...); err != nil {
		return err
	}
	if len(r.GetDiagnostics()) > 0 {
		fmt.Fprintln(a.stdout)
		return renderDiagnostics(a.stdout, r.GetDiagnostics())
	}
	return nil
}

func newReconcileCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Refresh every stored record from the remote system and report drift",
		Long: `Reconcile refreshes every record the host stores for the plugin from the
remote system (as status does, one account after the other, ordered by account
id), stores the results, and prints the drift report: each field where the
remote and the BSS disagree (REMOTE_DRIFT: name, email, parent, type), each
account whose remote objects are gone (missing), and each account that could
not be refreshed. Deleted records are listed without a remote call.

It exits 7 when it found drift or a record could not be refreshed, 0 when every
record is in step. With -o json it prints one JSON result per line.

Reconcile has no deadline unless --timeout is given.`,
		Args: noArgs,
		Example: `  provctl reconcile
  provctl reconcile --plugin-name panda -o json | jq 'select(.diagnostics)'`,
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		timeout := time.Duration(0)
		if c.Flags().Changed("timeout") {
			timeout = a.g.timeout
		}
		return a.command(true, func(ctx context.Context, s *session, plugin string) error {
			return a.reconcile(ctx, s, plugin, timeout)
		})(c, args)
	}
	return cmd
}

// reconcileSummary counts a reconcile's results.
type reconcileSummary struct{ records, drifted, failed int }

func (s reconcileSummary) String() string {
	return fmt.Sprintf("%d record(s): %d drifted, %d could not be refreshed, %d in step",
		s.records, s.drifted, s.failed, s.records-s.drifted-s.failed)
}

func (a *app) reconcile(ctx context.Context, s *session, plugin string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	stream, err := s.client.ReconcileRecords(ctx, &hostv1.ReconcileRecordsRequest{Plugin: plugin})
	if err != nil {
		return err
	}
	var sum reconcileSummary
	tw := newTable(a.stdout)
	if !a.json() {
		fmt.Fprintln(tw, "ACCOUNT\tWAS\tNOW\tFINDING")
	}
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = tw.Flush()
			return err
		}
		sum.records++
		switch {
		case r.GetError() != nil:
			sum.failed++
		case drifted(r):
			sum.drifted++
		}
		if a.json() {
			out := proto.CloneOf(r)
			redactRecord(out.GetRecord())
			if err := writeJSONLine(a.stdout, out); err != nil {
				return err
			}
			continue
		}
		renderReconciled(tw, r)
	}
	if !a.json() {
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	sumOut := a.stdout
	if a.json() {
		sumOut = a.stderr
	}
	fmt.Fprintf(sumOut, "Summary: %s\n", sum)
	if sum.drifted+sum.failed > 0 {
		return checkError{fmt.Sprintf("drift in %d record(s), %d could not be refreshed", sum.drifted, sum.failed)}
	}
	return nil
}

// drifted tells a result where the remote and the host disagree: a
// REMOTE_DRIFT warning, or remote objects gone (missing).
func drifted(r *hostv1.ReconcileRecordsResponse) bool {
	if r.GetRecord().GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_MISSING {
		return true
	}
	return slices.ContainsFunc(r.GetDiagnostics(), func(d *provisioningv1.Diagnostic) bool { return d.GetCode() == diag.CodeRemoteDrift })
}

// renderReconciled prints one result: a row per finding, the account on the
// first.
func renderReconciled(w io.Writer, r *hostv1.ReconcileRecordsResponse) {
	var findings []string
	if e := r.GetError(); e != nil {
		st := status.FromProto(e)
		d := diag.Parse(st.Err())
		f := "error " + codeName(st.Code())
		if d.Reason != "" {
			f += " " + d.Reason
		}
		findings = append(findings, f+": "+oneLine(st.Message()))
	}
	if r.GetRecord().GetStatus() == provisioningv1.SyncStatus_SYNC_STATUS_MISSING {
		findings = append(findings, "the remote objects are gone (deleted outside the host)")
	}
	for _, d := range r.GetDiagnostics() {
		f := d.GetCode()
		if d.GetField() != "" {
			f += " " + d.GetField()
		}
		f += ": " + oneLine(d.GetSummary())
		if d.GetDetail() != "" {
			f += " (" + oneLine(d.GetDetail()) + ")"
		}
		findings = append(findings, f)
	}
	if len(findings) == 0 {
		findings = []string{none}
	}
	for i, f := range findings {
		if i == 0 {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", cell(r.GetAccountId()), statusName(r.GetPreviousStatus()), statusName(r.GetRecord().GetStatus()), f)
			continue
		}
		fmt.Fprintf(w, "\t\t\t%s\n", f)
	}
}

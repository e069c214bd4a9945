package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// hidden replaces every value provctl must not print.
const hidden = "(hidden)"

// none fills an empty table cell.
const none = "-"

// jsonOptions is the -o json form: protojson with the proto field names, the
// same names accounts are written with.
var jsonOptions = protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}

// jsonLineOptions is one result per line, for sync-batch.
var jsonLineOptions = protojson.MarshalOptions{UseProtoNames: true}

func writeJSON(w io.Writer, m proto.Message) error {
	b, err := jsonOptions.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

func writeJSONLine(w io.Writer, m proto.Message) error {
	b, err := jsonLineOptions.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// enumName shortens an enum value for a table: FIELD_KIND_ACCOUNT_REF
// becomes "account-ref".
func enumName(v protoreflect.Enum, prefix string) string {
	d := v.Descriptor().Values().ByNumber(v.Number())
	if d == nil {
		return fmt.Sprint(v.Number())
	}
	n := strings.TrimPrefix(string(d.Name()), prefix)
	if n == "UNSPECIFIED" {
		return none
	}
	return strings.ReplaceAll(strings.ToLower(n), "_", "-")
}

func kindName(k provisioningv1.FieldKind) string        { return enumName(k, "FIELD_KIND_") }
func statusName(s provisioningv1.SyncStatus) string     { return enumName(s, "SYNC_STATUS_") }
func severityName(s provisioningv1.Severity) string     { return enumName(s, "SEVERITY_") }
func stateName(s hostv1.PluginState) string             { return enumName(s, "PLUGIN_STATE_") }
func outcomeName(o hostv1.Outcome) string               { return enumName(o, "OUTCOME_") }
func capabilityName(c provisioningv1.Capability) string { return enumName(c, "CAPABILITY_") }

func cell(s string) string {
	s = oneLine(s)
	if s == "" {
		return none
	}
	return s
}

func fieldFlags(f *provisioningv1.Field) string {
	var fl []string
	if f.GetRequired() {
		fl = append(fl, "required")
	}
	if f.GetReadOnly() {
		fl = append(fl, "read-only")
	}
	if f.GetAutoFill() {
		fl = append(fl, "auto-fill")
	}
	if f.GetSensitive() {
		fl = append(fl, "sensitive")
	}
	return cell(strings.Join(fl, ","))
}

// fieldValue is what a table shows for a field's value: never a sensitive one,
// even from a plugin that breaks the contract and sends it.
func fieldValue(f *provisioningv1.Field) string {
	if f.GetSensitive() {
		if f.GetValue() != "" {
			return hidden
		}
		return none
	}
	return cell(f.GetValue())
}

func choices(f *provisioningv1.Field) string {
	cs := make([]string, 0, len(f.GetChoices()))
	for _, c := range f.GetChoices() {
		cs = append(cs, c.GetValue())
	}
	return cell(strings.Join(cs, ", "))
}

// renderForm prints a form: one row per field, then its diagnostics.
func renderForm(w io.Writer, fields []*provisioningv1.Field, ds []*provisioningv1.Diagnostic) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "FIELD\tLABEL\tKIND\tVALUE\tFLAGS\tCHOICES")
	for _, f := range fields {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
			cell(f.GetKey()), cell(f.GetLabel()), kindName(f.GetKind()), fieldValue(f), fieldFlags(f), choices(f))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ds) > 0 {
		fmt.Fprintln(w)
		return renderDiagnostics(w, ds)
	}
	return nil
}

// renderDiagnostics prints diagnostics, errors first; a detail goes on its own
// line under the summary.
func renderDiagnostics(w io.Writer, ds []*provisioningv1.Diagnostic) error {
	if len(ds) == 0 {
		_, err := fmt.Fprintln(w, "No problems found.")
		return err
	}
	sorted := slices.Clone(ds)
	slices.SortStableFunc(sorted, func(a, b *provisioningv1.Diagnostic) int {
		return int(a.GetSeverity()) - int(b.GetSeverity())
	})
	tw := newTable(w)
	fmt.Fprintln(tw, "SEVERITY\tCODE\tFIELD\tSUMMARY")
	for _, d := range sorted {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", severityName(d.GetSeverity()), cell(d.GetCode()), cell(d.GetField()), cell(d.GetSummary()))
		if d.GetDetail() != "" {
			fmt.Fprintf(tw, "\t\t\t  %s\n", oneLine(d.GetDetail()))
		}
	}
	return tw.Flush()
}

// renderValues prints option values sorted by key, hiding secret-looking ones.
func renderValues(w io.Writer, indent string, values map[string]string) error {
	tw := newTable(w)
	for _, k := range slices.Sorted(maps.Keys(values)) {
		fmt.Fprintf(tw, "%s%s\t%s\n", indent, k, displayValue(k, values[k]))
	}
	return tw.Flush()
}

// secretWords mark a value key as a secret. Records never carry sensitive
// values by contract; this is the second line of defence for keys that look
// like one.
var secretWords = []string{"password", "passwd", "secret", "token", "api_key", "apikey", "credential", "private_key"}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	return slices.ContainsFunc(secretWords, func(s string) bool { return strings.Contains(k, s) })
}

func displayValue(k, v string) string {
	if isSecretKey(k) && v != "" {
		return hidden
	}
	return cell(v)
}

// redactValues returns a copy of values with secret-looking ones hidden, for
// -o json.
func redactValues(values map[string]string) map[string]string {
	if values == nil {
		return nil
	}
	out := make(map[string]string, len(values))
	for k, v := range values {
		if isSecretKey(k) && v != "" {
			v = hidden
		}
		out[k] = v
	}
	return out
}

// maxMessageCell keeps a records table readable; "provctl status" shows the
// whole message.
const maxMessageCell = 60

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func timeCell(t *timestamppb.Timestamp) string {
	if !t.IsValid() {
		return none
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

// renderRecord prints one sync record as a list of facts.
func renderRecord(w io.Writer, rec *provisioningv1.SyncRecord, extra ...[2]string) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "Account:\t%s\n", cell(rec.GetAccountId()))
	fmt.Fprintf(tw, "Plugin:\t%s\n", cell(rec.GetPlugin()))
	fmt.Fprintf(tw, "Status:\t%s\n", statusName(rec.GetStatus()))
	fmt.Fprintf(tw, "Remote id:\t%s\n", cell(rec.GetRemoteId()))
	fmt.Fprintf(tw, "Remote parent:\t%s\n", cell(rec.GetRemoteParentId()))
	for _, kv := range extra {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	if rec.GetErrorReason() != "" {
		fmt.Fprintf(tw, "Error reason:\t%s\n", cell(rec.GetErrorReason()))
	}
	if rec.GetMessage() != "" {
		fmt.Fprintf(tw, "Message:\t%s\n", oneLine(rec.GetMessage()))
	}
	fmt.Fprintf(tw, "Updated:\t%s\n", timeCell(rec.GetUpdatedAt()))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rec.GetValues()) > 0 {
		fmt.Fprintln(w, "Values:")
		return renderValues(w, "  ", rec.GetValues())
	}
	return nil
}

// renderRecords prints stored records, one per row.
func renderRecords(w io.Writer, recs []*provisioningv1.SyncRecord) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "No records.")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ACCOUNT\tPLUGIN\tSTATUS\tREMOTE ID\tREMOTE PARENT\tUPDATED\tMESSAGE")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(r.GetAccountId()), cell(r.GetPlugin()), statusName(r.GetStatus()),
			cell(r.GetRemoteId()), cell(r.GetRemoteParentId()), timeCell(r.GetUpdatedAt()), truncate(cell(recordMessage(r)), maxMessageCell))
	}
	return tw.Flush()
}

// recordMessage is a record's message, led by its error reason when FAILED.
func recordMessage(r *provisioningv1.SyncRecord) string {
	if r.GetErrorReason() == "" {
		return r.GetMessage()
	}
	return r.GetErrorReason() + ": " + r.GetMessage()
}

// renderPlugins prints the catalog.
func renderPlugins(w io.Writer, ps []*hostv1.Plugin) error {
	if len(ps) == 0 {
		_, err := fmt.Fprintln(w, "No plugins.")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tDISPLAY NAME\tVERSION\tSTATE\tRESTARTS\tSHA256\tPATH\tLAST ERROR")
	for _, p := range ps {
		sum := p.GetSha256()
		if len(sum) > 12 {
			sum = sum[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", cell(p.GetName()), cell(p.GetDisplayName()), cell(p.GetVersion()),
			stateName(p.GetState()), p.GetRestarts(), cell(sum), cell(p.GetPath()), cell(p.GetLastError()))
	}
	return tw.Flush()
}

// renderInfo prints what GetPluginInfo says, and the settings Configure takes.
func renderInfo(w io.Writer, info *provisioningv1.GetPluginInfoResponse) error {
	caps := make([]string, 0, len(info.GetCapabilities()))
	for _, c := range info.GetCapabilities() {
		caps = append(caps, capabilityName(c))
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Name:\t%s\n", cell(info.GetName()))
	fmt.Fprintf(tw, "Display name:\t%s\n", cell(info.GetDisplayName()))
	fmt.Fprintf(tw, "Version:\t%s\n", cell(info.GetVersion()))
	fmt.Fprintf(tw, "Capabilities:\t%s\n", cell(strings.Join(caps, ", ")))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(info.GetConfigFields()) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nSettings:")
	tw = newTable(w)
	fmt.Fprintln(tw, "KEY\tLABEL\tKIND\tDEFAULT\tFLAGS\tDESCRIPTION")
	for _, f := range info.GetConfigFields() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(f.GetKey()), cell(f.GetLabel()), kindName(f.GetKind()),
			fieldValue(f), fieldFlags(f), cell(f.GetDescription()))
	}
	return tw.Flush()
}

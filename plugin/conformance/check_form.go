package conformance

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Values the suite submits to provoke validation errors.
const (
	unknownValueKey = "conformance_no_such_field"
	notAChoice      = "conformance-not-a-choice"
	notAnInteger    = "not-a-number"
)

// subject is one account the form checks look at, with its ancestors.
type subject struct {
	label string
	fx    Fixture
	anc   []*provisioningv1.Ancestor
}

// subjects are the three fixture accounts before anything is synchronized:
// the end customer's reseller has no record yet.
func (s *suite) subjects() []subject {
	return []subject{
		{"direct customer", s.direct, nil},
		{"reseller", s.reseller, nil},
		{"end customer", s.end, s.ancestors(s.end, s.reseller, nil)},
	}
}

func checkFormFields(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS)
	for _, sub := range s.subjects() {
		form := s.form(t, sub.fx, sub.anc)
		for _, p := range formProblems(form.GetFields()) {
			t.Errorf("%s form: %s", sub.label, p)
		}
	}
}

// formProblems lists what is wrong with a form's fields.
func formProblems(fields []*provisioningv1.Field) []string {
	var ps []string
	add := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	seen := map[string]bool{}
	for i, f := range fields {
		k := f.GetKey()
		switch {
		case k == "":
			add("field #%d has no key", i+1)
		case seen[k]:
			add("key %q appears twice", k)
		}
		seen[k] = true
		if i > 0 && f.GetOrder() <= fields[i-1].GetOrder() {
			add("field %q: order %d does not follow %d of %q", k, f.GetOrder(), fields[i-1].GetOrder(), fields[i-1].GetKey())
		}
		if f.GetLabel() == "" {
			add("field %q has no label", k)
		}
		if f.GetSensitive() && f.GetValue() != "" {
			add("field %q is sensitive but carries a value", k)
		}
		if f.GetRequired() && f.GetValue() == "" && f.GetAutoFill() {
			add("field %q is required, has no default, yet claims auto_fill", k)
		}
		v := f.GetValue()
		switch f.GetKind() {
		case provisioningv1.FieldKind_FIELD_KIND_UNSPECIFIED:
			add("field %q has no kind", k)
		case provisioningv1.FieldKind_FIELD_KIND_ENUM:
			choices := map[string]bool{}
			for _, c := range f.GetChoices() {
				if choices[c.GetValue()] {
					add("field %q: choice %q appears twice", k, c.GetValue())
				}
				choices[c.GetValue()] = true
			}
			if len(choices) == 0 {
				add("ENUM field %q has no choices", k)
			}
			if v != "" && !choices[v] {
				add("ENUM field %q: value %q is not one of its choices", k, v)
			}
		case provisioningv1.FieldKind_FIELD_KIND_BOOL:
			if v != "" && v != "true" && v != "false" {
				add("BOOL field %q: value %q is not true or false", k, v)
			}
		case provisioningv1.FieldKind_FIELD_KIND_INTEGER:
			if _, err := strconv.ParseInt(v, 10, 64); v != "" && err != nil {
				add("INTEGER field %q: value %q is not a base-10 integer", k, v)
			}
		}
		if f.GetKind() != provisioningv1.FieldKind_FIELD_KIND_ENUM && len(f.GetChoices()) > 0 {
			add("field %q has choices but is not an ENUM", k)
		}
	}
	return ps
}

func checkFormStable(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS)
	for _, sub := range s.subjects() {
		first := skeleton(s.form(t, sub.fx, sub.anc).GetFields())
		for i := range 2 {
			again := skeleton(s.form(t, sub.fx, sub.anc).GetFields())
			if diff := cmp.Diff(first, again, protocmp.Transform()); diff != "" {
				t.Errorf("%s form changed on call %d (-first +now):\n%s", sub.label, i+2, diff)
				break
			}
		}
	}
}

// skeleton is fields without what may legitimately change between calls
// (values, suggestions, help text).
func skeleton(fields []*provisioningv1.Field) []*provisioningv1.Field {
	out := make([]*provisioningv1.Field, len(fields))
	for i, f := range fields {
		f = proto.Clone(f).(*provisioningv1.Field)
		f.Value, f.Description = "", ""
		out[i] = f
	}
	return out
}

// invalidValues returns values with each kind of input problem the form
// lets the suite provoke, by the key that must be blamed: an unknown key, a
// value outside an ENUM's choices, a non-integer in an INTEGER field.
func invalidValues(form []*provisioningv1.Field, base map[string]string) map[string]map[string]string {
	cases := map[string]map[string]string{}
	with := func(k, v string) map[string]string {
		m := maps.Clone(base)
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
		return m
	}
	cases[unknownValueKey] = with(unknownValueKey, "x")
	var enum, integer bool
	for _, f := range form {
		if f.GetReadOnly() {
			continue
		}
		switch {
		case f.GetKind() == provisioningv1.FieldKind_FIELD_KIND_ENUM && !enum:
			enum = true
			cases[f.GetKey()] = with(f.GetKey(), notAChoice)
		case f.GetKind() == provisioningv1.FieldKind_FIELD_KIND_INTEGER && !integer:
			integer = true
			cases[f.GetKey()] = with(f.GetKey(), notAnInteger)
		}
	}
	return cases
}

func checkFormDiagnostics(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS)
	validate := s.caps[provisioningv1.Capability_CAPABILITY_VALIDATE]
	for _, sub := range s.subjects() {
		form := s.form(t, sub.fx, sub.anc)
		keys := map[string]bool{}
		for _, f := range form.GetFields() {
			keys[f.GetKey()] = true
		}
		for _, p := range diagnosticProblems(form.GetDiagnostics(), keys, nil) {
			t.Errorf("%s form: %s", sub.label, p)
		}
		if !validate {
			continue
		}
		vals := s.values(t, sub.fx, sub.anc)
		inputs := invalidValues(form.GetFields(), vals)
		inputs[""] = vals
		for _, blamed := range slices.Sorted(maps.Keys(inputs)) {
			in := inputs[blamed]
			resp, err := s.c.ValidateSyncOptions(s.ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: sub.fx.Account, Ancestors: sub.anc, Values: in})
			if err != nil {
				t.Errorf("%s: ValidateSyncOptions: %v", sub.label, err)
				continue
			}
			for _, p := range diagnosticProblems(resp.GetDiagnostics(), keys, in) {
				t.Errorf("%s: ValidateSyncOptions: %s", sub.label, p)
			}
		}
	}
}

// diagnosticProblems lists what is wrong with ds, given the form's keys and
// the values submitted (a diagnostic may blame a key the caller sent even if
// the form has no such field: that is how an unknown key is reported).
func diagnosticProblems(ds []*provisioningv1.Diagnostic, formKeys map[string]bool, submitted map[string]string) []string {
	var ps []string
	for _, d := range ds {
		name := d.GetCode()
		if d.GetField() != "" {
			name += " on " + strconv.Quote(d.GetField())
		}
		if d.GetSeverity() == provisioningv1.Severity_SEVERITY_UNSPECIFIED {
			ps = append(ps, fmt.Sprintf("diagnostic %s has no severity", name))
		}
		if !upperSnake.MatchString(d.GetCode()) {
			ps = append(ps, fmt.Sprintf("diagnostic code %q is not UPPER_SNAKE_CASE", d.GetCode()))
		}
		if d.GetSummary() == "" {
			ps = append(ps, fmt.Sprintf("diagnostic %s has no summary", name))
		}
		f := d.GetField()
		_, sent := submitted[f]
		switch {
		case f == "", formKeys[f], sent:
		case strings.HasPrefix(f, "account."):
			if !accountPath(strings.TrimPrefix(f, "account.")) {
				ps = append(ps, fmt.Sprintf("diagnostic %s: %q is not a field of provisioning.v1.Account", name, f))
			}
		default:
			ps = append(ps, fmt.Sprintf("diagnostic %s refers to %q, which is neither a form key, a submitted key, nor account.<field>", name, f))
		}
	}
	return ps
}

func checkValidateDeterministic(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_VALIDATE)
	var form []*provisioningv1.Field
	if s.caps[provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS] {
		form = s.form(t, s.direct, nil).GetFields()
	}
	vals := s.values(t, s.direct, nil)
	inputs := invalidValues(form, vals)
	inputs[""] = vals
	sortDiags := protocmp.SortRepeated(func(a, b *provisioningv1.Diagnostic) bool {
		return a.GetField()+"\x00"+a.GetCode() < b.GetField()+"\x00"+b.GetCode()
	})
	for _, k := range slices.Sorted(maps.Keys(inputs)) {
		req := &provisioningv1.ValidateSyncOptionsRequest{Account: s.direct.Account, Values: inputs[k]}
		first, err := s.c.ValidateSyncOptions(s.ctx, req)
		if err != nil {
			t.Fatalf("ValidateSyncOptions: %v", err)
		}
		for i := range 2 {
			again, err := s.c.ValidateSyncOptions(s.ctx, req)
			if err != nil {
				t.Fatalf("ValidateSyncOptions: %v", err)
			}
			if diff := cmp.Diff(first, again, protocmp.Transform(), sortDiags); diff != "" {
				t.Errorf("ValidateSyncOptions answered differently on call %d for the same input (-first +now):\n%s", i+2, diff)
				break
			}
		}
	}
}

func checkValidateNoSideEffects(s *suite, t T) {
	s.needCap(t)
	if s.cfg.StateFunc == nil {
		t.Skipf("no way to read the remote state (Config.StateFunc, or the fixtures' state_url)")
	}
	before, err := s.cfg.StateFunc(s.ctx)
	if err != nil {
		t.Fatalf("read remote state: %v", err)
	}
	subjects := []subject{
		{"direct customer", s.quietDirect, nil},
		{"reseller", s.quietReseller, nil},
		{"end customer", s.quietEnd, s.ancestors(s.quietEnd, s.quietReseller, nil)},
	}
	for _, sub := range subjects {
		var form []*provisioningv1.Field
		if s.caps[provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS] {
			form = s.form(t, sub.fx, sub.anc).GetFields()
		}
		if !s.caps[provisioningv1.Capability_CAPABILITY_VALIDATE] {
			continue
		}
		vals := s.values(t, sub.fx, sub.anc)
		inputs := invalidValues(form, vals)
		inputs[""] = vals
		for _, in := range inputs {
			for _, auto := range []bool{false, true} {
				_, err := s.c.ValidateSyncOptions(s.ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: sub.fx.Account, Ancestors: sub.anc, Values: in, AutoFill: auto})
				if err != nil {
					t.Errorf("%s: ValidateSyncOptions: %v", sub.label, err)
				}
			}
		}
	}
	after, err := s.cfg.StateFunc(s.ctx)
	if err != nil {
		t.Fatalf("read remote state: %v", err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the remote state changed across GetSyncOptions and ValidateSyncOptions calls: %s", byteDiff(before, after))
	}
}

func checkValidateAutoFill(s *suite, t T) {
	s.needCap(t, provisioningv1.Capability_CAPABILITY_AUTO_FILL, provisioningv1.Capability_CAPABILITY_VALIDATE)
	resp, err := s.c.ValidateSyncOptions(s.ctx, &provisioningv1.ValidateSyncOptionsRequest{Account: s.direct.Account, AutoFill: true})
	if err != nil {
		t.Fatalf("ValidateSyncOptions(auto_fill): %v", err)
	}
	for _, d := range resp.GetDiagnostics() {
		if d.GetSeverity() == provisioningv1.Severity_SEVERITY_ERROR {
			t.Errorf("ValidateSyncOptions(auto_fill) on the direct customer: error %s on %q: %s", d.GetCode(), d.GetField(), d.GetSummary())
		}
	}
	if !s.caps[provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS] {
		return
	}
	for _, f := range s.form(t, s.direct, nil).GetFields() {
		if f.GetRequired() && !f.GetReadOnly() && resp.GetValues()[f.GetKey()] == "" {
			t.Errorf("ValidateSyncOptions(auto_fill) left the required field %q empty", f.GetKey())
		}
	}
}

// byteDiff describes where a and b first differ, with a little context.
func byteDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-40)
	clip := func(p []byte) string { return string(p[from:min(len(p), i+80)]) }
	return fmt.Sprintf("%d bytes before, %d after; first difference at byte %d:\n  before: …%s…\n  after:  …%s…", len(a), len(b), i, clip(a), clip(b))
}

// diffProto is a readable diff of two messages.
func diffProto(a, b proto.Message) string {
	return cmp.Diff(a, b, protocmp.Transform())
}

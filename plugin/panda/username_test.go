package panda_test

import (
	"strings"
	"testing"

	"github.com/cloudbss/provisioning/plugin/panda"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestSuggestUsername(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("abcdefghij", 8)
	tests := map[string]struct {
		name, email string
		want        string
	}{
		"email local part":              {"Acme Corp", "jane.doe@acme.example", "jane.doe"},
		"upper case and plus":           {"Acme Corp", "Jane.Doe+panda@acme.example", "jane.doe+panda"},
		"accents folded":                {"Acme", "josé.núñez@acme.es", "jose.nunez"},
		"generic mailbox gets company":  {"Acme Corp", "info@acme.example", "info.acme-corp"},
		"short local part gets company": {"Resell Ltd", "ops@resell.example", "ops.resell-ltd"},
		"no email: company slug":        {"Müller & Söhne GmbH", "", "muller-sohne-gmbh"},
		"invalid email: company slug":   {"Beta, S.L.", "beta at example", "beta-s.l"},
		"short company padded":          {"Ab", "", "ab000"},
		"nothing usable":                {"日本", "", "user0"},
		"nothing at all":                {"", "", "user0"},
		"short local, no company":       {"", "jo@x.example", "jo000"},
		"long local part cut to 65":     {"", long + "@x.example", long[:65]},
		"separators trimmed after cut":  {"", strings.Repeat("a", 64) + ".b@x.example", strings.Repeat("a", 64)},
		"quoted local part":             {"Acme", `"john smith"@acme.example`, "acme0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := panda.SuggestUsername(&provisioningv1.Account{Name: tc.name, CorporateEmail: tc.email})
			if got != tc.want {
				t.Errorf("suggestion = %q, want %q", got, tc.want)
			}
			if !panda.ValidUsername(got) {
				t.Errorf("suggestion %q breaks the username rule", got)
			}
		})
	}
}

func TestUsernameVariant(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 65)
	tests := []struct {
		base string
		n    int
		want string
	}{
		{"jane.doe", 1, "jane.doe"},
		{"jane.doe", 2, "jane.doe-2"},
		{"jane.doe", 10, "jane.doe-10"},
		{long, 2, long[:63] + "-2"},
		{long, 10, long[:62] + "-10"},
	}
	for _, tc := range tests {
		got := panda.UsernameVariant(tc.base, tc.n)
		if got != tc.want || !panda.ValidUsername(got) {
			t.Errorf("variant(%q, %d) = %q, want %q", tc.base, tc.n, got, tc.want)
		}
	}
}

func TestValidUsername(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]bool{
		"abcde": true, "a.b-c_d+e": true, "ABC12": true, strings.Repeat("a", 65): true,
		"abcd": false, strings.Repeat("a", 66): false, "jane doe": false, "jane@doe": false, "josé1": false, "": false,
	} {
		if got := panda.ValidUsername(u); got != want {
			t.Errorf("ValidUsername(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestParseEmail(t *testing.T) {
	t.Parallel()
	for e, want := range map[string]bool{
		"jane@acme.example": true, "j.d+x@sub.acme.example": true,
		"": false, "jane": false, "@acme.example": false, "jane@": false, "jane@localhost": false,
		"Jane <jane@acme.example>": false, " jane@acme.example": false, "jane@acme.example.": false,
		"a b@acme.example": false, "jane@@acme.example": false,
	} {
		if _, got := panda.ParseEmail(e); got != want {
			t.Errorf("ParseEmail(%q) = %v, want %v", e, got, want)
		}
	}
}

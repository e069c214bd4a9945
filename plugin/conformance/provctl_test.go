package conformance_test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin/plugintest"
)

// TestProvctlConformance runs `provctl conformance` as a user would, against
// both plugins of the repository: the ledger example, and the Panda plugin
// with a simulator behind it. Both must pass; the report must not show a
// secret.
func TestProvctlConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds provctl and two plugins")
	}
	provctl := plugintest.Build(t, "github.com/cloudbss/provisioning/cmd/provctl")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sim, err := pandasim.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	pandaFixtures, err := os.ReadFile("testdata/panda-fixtures.yaml")
	if err != nil {
		t.Fatal(err)
	}

	cases := map[string]struct {
		plugin, settings, fixtures string
		env                        []string
	}{
		"ledger": {
			plugin:   plugintest.Build(t, "github.com/cloudbss/provisioning/plugin/examples/ledger/cmd/provisioning-plugin-ledger"),
			settings: write("ledger.yaml", "database: "+filepath.Join(dir, "ledger.db")+"\n"),
			fixtures: write("ledger-fixtures.yaml", `
direct_customer:
  account: {id: cust, type: ACCOUNT_TYPE_CUSTOMER, name: Acme}
  values: {plan: premium}
reseller:
  account: {id: res, type: ACCOUNT_TYPE_RESELLER, name: Channel Co}
end_customer:
  account: {id: end, type: ACCOUNT_TYPE_CUSTOMER, name: Small Co, parent_id: res}
  values: {seats: "5"}
update: {name: "Acme renamed {{run}}"}
subscription:
  product_id: PRO
  quantity: 5
  new_quantity: 8
  addons: [{product_id: ARCHIVE, quantity: 5}]
`),
		},
		"panda": {
			plugin: plugintest.Build(t, "github.com/cloudbss/provisioning/cmd/provisioning-plugin-panda"),
			settings: write("panda.yaml", "api_url: "+srv.URL+"\naccess_id: "+pandasim.DefaultAccessID+
				"\npassword: env:CONFORMANCE_PANDA_PASSWORD\napi_key: "+pandasim.DefaultAPIKey+
				"\nroot_account_id: "+pandasim.DefaultRootAccountID+"\n"),
			fixtures: write("panda-fixtures.yaml", string(pandaFixtures)+"state_url: "+srv.URL+"/_sim/state\n"),
			env:      []string{"CONFORMANCE_PANDA_PASSWORD=" + pandasim.DefaultPassword},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), provctl, "conformance", "--plugin", tc.plugin, "--settings", tc.settings, "--fixtures", tc.fixtures)
			cmd.Env = append(os.Environ(), tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("provctl conformance: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), " 0 failed") {
				t.Errorf("report:\n%s", stdout.String())
			}
			for _, s := range []string{pandasim.DefaultPassword, pandasim.DefaultAPIKey} {
				if strings.Contains(stdout.String()+stderr.String(), s) {
					t.Errorf("provctl conformance printed a secret:\n%s\n%s", stdout.String(), stderr.String())
				}
			}
			t.Logf("provctl conformance:\n%s", stdout.String())
		})
	}
}

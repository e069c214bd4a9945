package conformance_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/pandasim"
	"github.com/cloudbss/provisioning/plugin/conformance"
	"github.com/cloudbss/provisioning/plugin/plugintest"
)

// TestMain removes the binaries plugintest.Build makes.
func TestMain(m *testing.M) { plugintest.Main(m) }

// TestPandaConformance runs the suite against the real Panda plugin binary,
// launched as a host would, talking real HTTP to a simulator on loopback.
func TestPandaConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and launches the Panda plugin")
	}
	// A little latency on every API request makes a Synchronize (several
	// requests) outlast the suite's short deadline, so the deadline and
	// cancellation checks interrupt real work.
	sim, err := pandasim.New(pandasim.WithFaults(pandasim.Faults{Latency: pandasim.Duration(4 * time.Millisecond)}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	fx, err := conformance.LoadFixtures("testdata/panda-fixtures.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fx.StateURL = srv.URL + "/_sim/state"
	bin := plugintest.Build(t, "github.com/cloudbss/provisioning/cmd/provisioning-plugin-panda")
	p := plugintest.Launch(t, bin, nil)
	conformance.Run(t, p.Client, conformance.Config{
		Settings: map[string]string{
			"api_url":         srv.URL,
			"access_id":       pandasim.DefaultAccessID,
			"password":        pandasim.DefaultPassword,
			"api_key":         pandasim.DefaultAPIKey,
			"root_account_id": pandasim.DefaultRootAccountID,
		},
		Fixtures: fx,
	})
}

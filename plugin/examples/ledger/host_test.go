package ledger_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/plugin/conformance"
	"github.com/cloudbss/provisioning/plugin/plugintest"
)

// TestLoadedByHost proves the host is generic: the same host that runs the
// Panda plugin loads the ledger from a catalog entry, configures it, and
// passes every call of the conformance suite through.
func TestLoadedByHost(t *testing.T) {
	bin := plugintest.Build(t, "./cmd/provisioning-plugin-ledger")
	db := filepath.Join(t.TempDir(), "ledger.db")
	h, err := host.New(&catalog.Config{Plugins: []catalog.Entry{{
		Name: "ledger", Path: bin, Settings: map[string]string{"database": db},
	}}}, host.WithLogger(slog.New(slog.DiscardHandler)), host.WithMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close host: %v", err)
		}
	})
	if err := h.Start(t.Context()); err != nil {
		t.Fatalf("start host: %v", err)
	}
	if ps := h.Plugins(); len(ps) != 1 || ps[0].GetName() != "ledger" || ps[0].GetVersion() != "1.0.0" {
		t.Fatalf("host plugins = %v, want the ledger 1.0.0", ps)
	}
	client, err := h.Plugin("ledger")
	if err != nil {
		t.Fatal(err)
	}
	fx := fixtures()
	conformance.Run(t, client, conformance.Config{
		// The host configured the plugin from its catalog entry.
		Configured: true,
		Fixtures:   fx,
		StateFunc:  tableDump(db),
	})
}

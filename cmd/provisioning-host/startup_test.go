package main_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// A plugin that never completes its handshake does not hold the daemon
// back: health and the other plugins serve while it starts, and a call to
// it answers UNAVAILABLE PLUGIN_STARTING with RetryInfo within the caller's
// deadline. The daemon used to serve nothing, health included, until the
// plugin's 30-second start timeout ran out.
func TestDaemonServesWhileAPluginStarts(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, pluginPkg)
	d := startDaemon(t, daemonConfig{entry: fmt.Sprintf(`  - name: stuck
    path: %s
    env:
      TESTPLUGIN_NAME: stuck
      TESTPLUGIN_NO_HANDSHAKE: "1"
`, bin)})
	conn := d.dial(t)
	ctx := context.Background()
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health while a plugin starts: %v, %v", hc, err)
	}
	c := hostv1.NewHostServiceClient(conn)
	pl, err := c.ListPlugins(ctx, &hostv1.ListPluginsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pl.GetPlugins() {
		if p.GetName() == "stuck" && p.GetState() != hostv1.PluginState_PLUGIN_STATE_STARTING {
			t.Errorf("stuck = %v, want STARTING", p)
		}
	}
	// The healthy plugin serves (its call waits for its own start).
	if _, err := c.Probe(ctx, &hostv1.ProbeRequest{Plugin: plug}); err != nil {
		t.Errorf("Probe %s: %v", plug, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = c.Probe(cctx, &hostv1.ProbeRequest{Plugin: "stuck"})
	st := status.Convert(err)
	var reason string
	var retry bool
	for _, det := range st.Details() {
		switch det := det.(type) {
		case *errdetails.ErrorInfo:
			reason = det.GetReason()
		case *errdetails.RetryInfo:
			retry = det.GetRetryDelay().AsDuration() > 0
		}
	}
	if st.Code() != codes.Unavailable || reason != diag.ReasonPluginStarting || !retry {
		t.Errorf("Probe stuck: %v (reason %q, RetryInfo %v); want UNAVAILABLE PLUGIN_STARTING with RetryInfo", err, reason, retry)
	}
}

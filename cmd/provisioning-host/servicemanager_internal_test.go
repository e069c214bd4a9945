package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudbss/provisioning/host/catalog"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// The URL the daemon prints says http for a plain endpoint even once it
// serves: http.Server.Serve sets TLSConfig itself (HTTP/2 set-up), so a
// scheme read from TLSConfig after serving said https, and a client of the
// printed URL failed its TLS handshake.
func TestServiceManagerURLSchemeAfterServing(t *testing.T) {
	t.Parallel()
	cfg := &config{serviceManager: "127.0.0.1:0", callTimeout: time.Second}
	cat := &catalog.Config{Plugins: []catalog.Entry{{Name: "panda", ServiceManager: &catalog.ServiceManager{ApplicationID: "app", APIKey: "key"}}}}
	sm, err := startServiceManager(cfg, cat, hostv1.UnimplementedHostServiceServer{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sm.close)
	// One answered request: Serve has run its set-up by then.
	resp, err := http.Get("http://" + sm.addr + "/panda/api/Fields/ServiceDefinition")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := sm.url(); !strings.HasPrefix(got, "http://") {
		t.Errorf("url() = %q after serving plain HTTP, want http://%s", got, sm.addr)
	}
}

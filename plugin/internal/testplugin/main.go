// Command testplugin is a minimal provisioning plugin for the SDK's own tests:
// it serves through plugin.Serve and does almost nothing else.
//
// Probe sleeps for TESTPLUGIN_PROBE_DELAY (a Go duration) so tests can catch
// an RPC in flight, and logs one warning so tests can see plugin logs reach
// the host.
//
// With TESTPLUGIN_REPORT_EXE=1, Probe's message is the SHA-256 of the bytes
// the kernel is running (/proc/self/exe), so tests can tell which binary a
// launcher really executed.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cloudbss/provisioning/plugin"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

type adapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer
	log *slog.Logger
}

func (a *adapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{Name: "testplugin", DisplayName: "Test plugin", Version: "0.1.0"}, nil
}

func (a *adapter) Probe(ctx context.Context, _ *provisioningv1.ProbeRequest) (*provisioningv1.ProbeResponse, error) {
	a.log.Warn("probe called", "pid", os.Getpid())
	if d, err := time.ParseDuration(os.Getenv("TESTPLUGIN_PROBE_DELAY")); err == nil {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if os.Getenv("TESTPLUGIN_REPORT_EXE") == "1" {
		sum, err := exeSHA256()
		if err != nil {
			return nil, err
		}
		return &provisioningv1.ProbeResponse{Ready: true, Message: sum}, nil
	}
	return &provisioningv1.ProbeResponse{Ready: true, Message: "probed"}, nil
}

func exeSHA256() (string, error) {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func main() {
	log := plugin.Logger()
	plugin.Serve(&adapter{log: log}, plugin.WithLogger(log), plugin.WithParentPollInterval(100*time.Millisecond))
}

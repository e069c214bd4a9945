package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

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
	plugins map[string]*supervisor
	records *Records // nil without WithStore
	order   []string
	metrics *metrics
	// locks serializes the calls about one account; every Records of this
	// host shares its in-process half.
	locks *locker

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	bg      sync.WaitGroup
	// sockDir is the private folder of the plugins' sockets (see
	// socketDir), set by Start.
	sockDir string
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
	m, err := newMetrics(o.registerer)
	if err != nil {
		return nil, fmt.Errorf("new host: register metrics: %w", err)
	}
	h := &Host{opts: o, plugins: map[string]*supervisor{}, metrics: m,
		locks: &locker{local: newLocalLocks(), m: m, wait: o.callTimeout}}
	h.locks = h.locks.with(o.store)
	if o.store != nil {
		h.records = NewRecords(h, o.store, o.logger)
	}
	for _, e := range cfg.Plugins {
		if _, dup := h.plugins[e.Name]; dup {
			return nil, fmt.Errorf("new host: plugin %q is listed twice", e.Name)
		}
		h.plugins[e.Name] = newSupervisor(h, e)
		h.order = append(h.order, e.Name)
	}
	return h, nil
}

// Start launches and configures every plugin, in parallel, and waits for
// each one's first attempt. A plugin whose first start fails is retried in
// the background with backoff (RESTARTING in [Host.Plugins]) and is FAILED
// only after [WithMaxRestarts] failures in a row, or at once when a retry
// cannot help (a checksum or name mismatch, refused settings); the others
// run regardless. The returned error joins every first-attempt failure.
// Start returns early when ctx ends; the plugins keep starting. With
// [WithStartInBackground] it returns at once, with every plugin STARTING.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	if h.started {
		h.mu.Unlock()
		return errors.New("host already started")
	}
	dir, err := h.socketDir()
	if err != nil {
		h.mu.Unlock()
		return fmt.Errorf("start plugins: %w", err)
	}
	h.sockDir = dir
	h.started = true
	// The plugins outlive Start's ctx: they run until Close.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.cancel = cancel
	// Added under mu, so that a concurrent Close never waits on a group
	// still growing.
	h.bg.Add(len(h.order))
	if h.opts.store != nil {
		h.bg.Add(1)
	}
	h.mu.Unlock()

	// STARTING before Start returns, so that a caller that serves right
	// after a background start never lists a plugin as STOPPED.
	for _, name := range h.order {
		h.plugins[name].setState(hostv1.PluginState_PLUGIN_STATE_STARTING, nil, "")
	}
	results := make(chan error, len(h.order))
	for _, name := range h.order {
		s := h.plugins[name]
		go func() {
			defer h.bg.Done()
			s.run(runCtx, results)
		}()
	}
	if h.opts.store != nil {
		go func() {
			defer h.bg.Done()
			h.settleLoop(runCtx)
		}()
	}
	if h.opts.startInBackground {
		return nil
	}
	var errs []error
	for range h.order {
		select {
		case err := <-results:
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("start plugins: %w", ctx.Err())
		}
	}
	return errors.Join(errs...)
}

// Close stops the host: new calls are refused with UNAVAILABLE, in-flight
// calls may finish (bounded by [WithDrainTimeout]), then each plugin is asked
// to stop (SIGTERM) and its whole process group is killed if it has not
// exited within [WithKillTimeout]. ctx bounds the whole shutdown.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	cancel := h.cancel
	h.mu.Unlock()

	// Refuse new calls and wait for the in-flight ones: go-plugin's Kill
	// (and the plugin's stop) would cut them.
	drainCtx, stopDrain := context.WithTimeout(ctx, h.opts.drainTimeout)
	defer stopDrain()
	var drained sync.WaitGroup
	for _, s := range h.plugins {
		drained.Add(1)
		go func() {
			defer drained.Done()
			s.drain(drainCtx)
		}()
	}
	drained.Wait()

	if cancel == nil {
		return nil // never started
	}
	cancel() // each run loop now stops its process
	done := make(chan struct{})
	go func() {
		h.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// Out of time: kill what is left without waiting for it.
		for _, s := range h.plugins {
			s.killNow()
		}
		select {
		case <-done:
		case <-time.After(time.Second):
			return fmt.Errorf("stop plugins: %w", ctx.Err())
		}
	}
	h.mu.Lock()
	dir := h.sockDir
	h.mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	return nil
}

// maxSocketDirLen keeps a plugin's socket path (the folder, a per-process
// folder, go-plugin's file name: about 30 bytes more) within the 104 bytes
// some systems allow.
const maxSocketDirLen = 70

// socketDir makes the private folder (mode 0700) where the plugins put their
// go-plugin sockets, one subfolder per process (see
// [plugin.WithSocketDir]). With a data folder it is DATA/run, emptied first:
// a host killed with SIGKILL leaves its sockets there, and the data folder
// belongs to one host at a time. Without one, or when that path is too long
// for a socket, it is a fresh folder in the temporary folder. Close removes
// it.
func (h *Host) socketDir() (string, error) {
	if d := h.opts.dataDir; d != "" {
		run := filepath.Join(d, "run")
		if len(run) <= maxSocketDirLen {
			if err := os.RemoveAll(run); err != nil {
				return "", fmt.Errorf("clean the plugin socket folder: %w", err)
			}
			if err := os.MkdirAll(run, 0o700); err != nil {
				return "", fmt.Errorf("plugin socket folder: %w", err)
			}
			return run, nil
		}
	}
	dir, err := os.MkdirTemp("", "provisioning-host-")
	if err != nil {
		return "", fmt.Errorf("plugin socket folder: %w", err)
	}
	return dir, nil
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
	return provisioningv1.NewProvisioningAdapterClient(pluginConn{s}), nil
}

// Plugins describes every catalog entry and its process, ordered by name.
func (h *Host) Plugins() []*hostv1.Plugin {
	out := make([]*hostv1.Plugin, 0, len(h.order))
	for _, n := range h.order {
		out = append(out, h.plugins[n].describe())
	}
	return out
}

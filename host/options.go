package host

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudbss/provisioning/host/store"
	"github.com/cloudbss/provisioning/plugin"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Option configures [New].
type Option func(*options)

type options struct {
	logger            *slog.Logger
	store             store.Store
	dataDir           string
	callTimeout       time.Duration
	registerer        prometheus.Registerer
	startTimeout      time.Duration
	healthInterval    time.Duration
	drainTimeout      time.Duration
	killTimeout       time.Duration
	settleInterval    time.Duration
	backoffMin        time.Duration
	backoffMax        time.Duration
	maxRestarts       int
	stableAfter       time.Duration
	startInBackground bool
	reattach          map[string]plugin.ReattachInfo
	inProcess         map[string]provisioningv1.ProvisioningAdapterServer
}

func defaultOptions() options {
	return options{
		logger:         slog.Default(),
		callTimeout:    30 * time.Second,
		startTimeout:   30 * time.Second,
		healthInterval: 5 * time.Second,
		drainTimeout:   15 * time.Second,
		killTimeout:    5 * time.Second,
		settleInterval: 10 * time.Second,
		backoffMin:     100 * time.Millisecond,
		backoffMax:     30 * time.Second,
		maxRestarts:    10,
		stableAfter:    time.Minute,
	}
}

// WithLogger sets the host's logger. Plugin log lines and go-plugin's own
// messages are re-logged through it with a "plugin" attribute. Default:
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithStore gives the host the sync-record store, so a background loop can
// settle PENDING records through GetSyncStatus. Pass the same store to
// host/server. Without it no settling happens. The host does not close it.
func WithStore(s store.Store) Option { return func(o *options) { o.store = s } }

// WithDataDir sets the host's data directory. Plugins get it, one folder
// per plugin, in PROVISIONING_PLUGIN_DATA_DIR. Default: none.
func WithDataDir(dir string) Option { return func(o *options) { o.dataDir = dir } }

// WithCallTimeout bounds every call made through [Host.Plugin] whose
// context has no earlier deadline. Default 30s. It includes the wait for a
// restarting plugin.
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.callTimeout = d } }

// WithMetrics registers the host's Prometheus collectors (calls, errors by
// code, latency per plugin and RPC, restarts) with r. Default: no metrics.
func WithMetrics(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithStartTimeout bounds one plugin start: launch, handshake,
// GetPluginInfo and Configure. Default 30s.
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// WithHealthInterval sets how often a running plugin is health-checked
// (besides the immediate notice of its process exiting). Default 5s.
func WithHealthInterval(d time.Duration) Option { return func(o *options) { o.healthInterval = d } }

// WithDrainTimeout bounds how long [Host.Close] waits for in-flight calls
// before it stops the plugins anyway. Default 15s.
func WithDrainTimeout(d time.Duration) Option { return func(o *options) { o.drainTimeout = d } }

// WithKillTimeout bounds how long a plugin has to exit after SIGTERM before
// its whole process group is killed. Default 5s; a catalog entry's
// KillTimeout (kill_timeout) overrides it for that plugin.
func WithKillTimeout(d time.Duration) Option { return func(o *options) { o.killTimeout = d } }

// WithSettleInterval sets how often PENDING records are refreshed through
// GetSyncStatus (needs [WithStore]). Default 10s.
func WithSettleInterval(d time.Duration) Option { return func(o *options) { o.settleInterval = d } }

// WithRestartBackoff sets the first and the longest wait before starting a
// plugin again after a failed start or a crash; the wait doubles with each
// failure in a row (a start that failed, or a process that died within a
// minute of its start). Defaults 100ms and 30s: a plugin that crashes right
// after every start is restarted after 0.1, 0.2, 0.4 ... 25.6s, and FAILED
// after the tenth crash (see [WithMaxRestarts]).
func WithRestartBackoff(first, longest time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = first, longest }
}

// WithMaxRestarts sets how many failures in a row (failed starts, the first
// included, and crashes within a minute of a start) mark a plugin FAILED for
// good; until then it is restarted with backoff (see [WithRestartBackoff]).
// A process that ran a minute clears the count. Default 10.
func WithMaxRestarts(n int) Option { return func(o *options) { o.maxRestarts = n } }

// WithStartInBackground makes [Host.Start] return as soon as every plugin
// is launching, without waiting for any handshake: a daemon then serves its
// health and its other plugins while a slow plugin starts, instead of
// waiting out the slowest (up to the start timeout, 30s, for one that never
// completes its handshake). Calls to a plugin still starting wait for it
// until shortly before their deadline, then answer UNAVAILABLE with reason
// PLUGIN_STARTING (or PLUGIN_RESTARTING) and RetryInfo. Start's error then
// reports only what prevents launching at all; a plugin's own failures show
// in [Host.Plugins] and the log.
func WithStartInBackground() Option { return func(o *options) { o.startInBackground = true } }

// WithReattach makes the host attach to the plugin named name that is already
// running in debug mode (see plugin.ReattachInfo, printed by a plugin started
// with --debug) instead of launching its binary. The host configures it as
// usual but never signals or kills it, and does not check its checksum:
// this is for a developer's machine, not production.
func WithReattach(name string, ri plugin.ReattachInfo) Option {
	return func(o *options) {
		if o.reattach == nil {
			o.reattach = map[string]plugin.ReattachInfo{}
		}
		o.reattach[name] = ri
	}
}

// WithInProcessPlugin serves the catalog entry named name from impl, an
// adapter linked into the host's own process, instead of launching the
// entry's binary: no subprocess, no go-plugin, no gRPC between host and
// adapter. Start still checks its GetPluginInfo name and passes the entry's
// Settings to Configure; calls still get the per-call deadline and the
// metrics. There is no process to crash, restart or isolate: use it for
// tests and for benchmarks that measure what the plugin boundary costs, not
// to run third-party plugins. The entry's Path, SHA256, Args and Env are
// ignored.
func WithInProcessPlugin(name string, impl provisioningv1.ProvisioningAdapterServer) Option {
	return func(o *options) {
		if o.inProcess == nil {
			o.inProcess = map[string]provisioningv1.ProvisioningAdapterServer{}
		}
		o.inProcess[name] = impl
	}
}

package panda

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/plugin/diag"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Name is the plugin name reported by GetPluginInfo and stamped on every
// SyncRecord.
const Name = "panda"

// displayName is what a person sees.
const displayName = "Panda Antivirus"

// version is the adapter's semantic version.
const version = "0.1.0"

// Adapter implements provisioningv1.ProvisioningAdapterServer for Panda.
// Create it with [New]; it is safe for concurrent use.
type Adapter struct {
	provisioningv1.UnimplementedProvisioningAdapterServer

	logger    *slog.Logger
	newRemote func(Config) (Remote, error)
	now       func() time.Time

	// state is nil until Configure; replaced whole so that a call sees one
	// consistent configuration and client from start to end.
	state atomic.Pointer[configured]
	// locks serializes Synchronize and DeleteAccount per BSS account id.
	locks keyedLocks
	// createLocks serializes account creation per look-alike (parent, type,
	// company name, email), so that an account whose create answer was lost
	// can be told from a look-alike another call is creating.
	createLocks keyedLocks
	// journal remembers the adapter's own writes: the adoption evidence.
	journal journal
	// dataDir is where the journal is kept (WithDataDir); "" keeps it in
	// memory.
	dataDir string
	// journalErr is why the journal file could not be opened: every
	// Configure fails with it, since without its journal the adapter could
	// not adopt its own work after a restart.
	journalErr error
}

// configured is one configuration and the client built from it.
type configured struct {
	cfg Config
	api Remote
}

var _ provisioningv1.ProvisioningAdapterServer = (*Adapter)(nil)

// Option configures an [Adapter].
type Option func(*Adapter)

// WithLogger sets the logger. Default: discard. In a plugin binary pass
// plugin.Logger(), which writes to stderr in the form the host re-logs.
// Nothing the adapter logs holds a secret.
func WithLogger(l *slog.Logger) Option {
	return func(a *Adapter) {
		if l != nil {
			a.logger = l
		}
	}
}

// WithRemote replaces how the adapter builds its Panda client from the
// settings Configure accepted: newRemote runs on every successful Configure,
// and an error from it fails Configure with INTERNAL (the settings were
// valid, so it is a bug). Default: this module's HTTP client, with cfg's
// request timeout and the adapter's logger. Tests hand in a mock.
func WithRemote(newRemote func(cfg Config) (Remote, error)) Option {
	return func(a *Adapter) {
		if newRemote != nil {
			a.newRemote = newRemote
		}
	}
}

// WithClock replaces time.Now for SyncRecord.updated_at and the transaction
// deadline.
func WithClock(now func() time.Time) Option {
	return func(a *Adapter) {
		if now != nil {
			a.now = now
		}
	}
}

// WithDataDir keeps the adapter's journal (what it created in Panda for
// which BSS account, see the package documentation) in a file in dir, so
// that it survives a restart of the plugin. In a plugin binary pass
// os.Getenv(plugin.DataDirEnv), the folder the host gives each plugin.
// Default, and when dir is "": in memory only, lost with the process.
func WithDataDir(dir string) Option {
	return func(a *Adapter) { a.dataDir = dir }
}

// New returns an unconfigured adapter: every business RPC fails
// FAILED_PRECONDITION until Configure succeeds.
func New(opts ...Option) *Adapter {
	a := &Adapter{
		logger: slog.New(slog.DiscardHandler),
		now:    time.Now,
	}
	for _, opt := range opts {
		opt(a)
	}
	if a.dataDir != "" {
		if err := a.journal.open(a.dataDir, a.logger); err != nil {
			a.journalErr = err
			a.logger.Error("cannot use the journal in the data folder", "dir", a.dataDir, "err", err)
		}
	}
	if a.newRemote == nil {
		logger := a.logger
		a.newRemote = func(cfg Config) (Remote, error) {
			c, err := pandaapi.New(pandaapi.Config{
				BaseURL:  cfg.APIURL,
				AccessID: cfg.AccessID,
				Password: cfg.Password,
				APIKey:   cfg.APIKey,
			}, pandaapi.WithTimeout(cfg.RequestTimeout), pandaapi.WithLogger(logger))
			if err != nil {
				return nil, err
			}
			return apiRemote{c}, nil
		}
	}
	return a
}

// configured returns the current configuration, or the NOT_CONFIGURED
// error every business RPC answers before Configure.
func (a *Adapter) configured() (*configured, error) {
	st := a.state.Load()
	if st == nil {
		return nil, diag.NotConfigured()
	}
	return st, nil
}

// GetPluginInfo describes the adapter. It works before Configure: a host
// reads config_fields to know what to configure.
func (a *Adapter) GetPluginInfo(context.Context, *provisioningv1.GetPluginInfoRequest) (*provisioningv1.GetPluginInfoResponse, error) {
	return &provisioningv1.GetPluginInfoResponse{
		Name:        Name,
		DisplayName: displayName,
		Version:     version,
		Capabilities: []provisioningv1.Capability{
			provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS,
			provisioningv1.Capability_CAPABILITY_VALIDATE,
			provisioningv1.Capability_CAPABILITY_SYNCHRONIZE,
			provisioningv1.Capability_CAPABILITY_SYNC_STATUS,
			provisioningv1.Capability_CAPABILITY_AUTO_FILL,
			provisioningv1.Capability_CAPABILITY_PROBE,
			provisioningv1.Capability_CAPABILITY_ASYNC,
			provisioningv1.Capability_CAPABILITY_DELETE,
			provisioningv1.Capability_CAPABILITY_SUBSCRIPTIONS,
		},
		ConfigFields: configFields(),
	}, nil
}

package server

import (
	"log/slog"

	"github.com/cloudbss/provisioning/host"
	"github.com/cloudbss/provisioning/host/store"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// Option configures [New].
type Option func(*options)

type options struct {
	logger             *slog.Logger
	defaultConcurrency int
	maxConcurrency     int
}

// WithLogger sets the logger for store failures and batch summaries.
// Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithBatchConcurrency sets SynchronizeBatch's concurrency when the request
// leaves it 0 (default 8) and its ceiling (default 64).
func WithBatchConcurrency(def, max int) Option {
	return func(o *options) { o.defaultConcurrency, o.maxConcurrency = def, max }
}

// Server implements hostv1.HostServiceServer.
type Server struct {
	hostv1.UnimplementedHostServiceServer

	h    *host.Host
	st   store.Store
	opts options
}

// New returns the HostService implementation over h and st. st is the
// system of record for sync state; pass the same store to
// [host.WithStore] so PENDING records settle in the background.
func New(h *host.Host, st store.Store, opts ...Option) hostv1.HostServiceServer {
	o := options{logger: slog.Default(), defaultConcurrency: 8, maxConcurrency: 64}
	for _, opt := range opts {
		opt(&o)
	}
	return &Server{h: h, st: st, opts: o}
}

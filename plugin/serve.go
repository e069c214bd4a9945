package plugin

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/internal/hclogslog"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ServeOption configures [Serve].
type ServeOption func(*serveOptions)

type serveOptions struct {
	logger      *slog.Logger
	grace       time.Duration
	parentPoll  time.Duration
	args        []string
	stdout      io.Writer
	stderr      io.Writer
	debugCtx    context.Context
	debugAttach func(ReattachInfo)
	// noSyncStream: see WithoutSynchronizeStream (stream.go).
	noSyncStream bool
}

// WithLogger sets the logger Serve and go-plugin log to. Default: [Logger].
func WithLogger(l *slog.Logger) ServeOption { return func(o *serveOptions) { o.logger = l } }

// WithGracePeriod bounds how long a stopping plugin waits for in-flight RPCs
// before it cuts them. Default 10s; a host that drains its own calls first
// rarely needs more.
func WithGracePeriod(d time.Duration) ServeOption { return func(o *serveOptions) { o.grace = d } }

// WithParentPollInterval sets how often the plugin checks that its host process
// is still alive. Default 500ms. go-plugin itself never notices a dead host,
// which leaves orphan plugins behind.
func WithParentPollInterval(d time.Duration) ServeOption {
	return func(o *serveOptions) { o.parentPoll = d }
}

// Serve runs adapter as a provisioning plugin and exits the process when the
// plugin stops. Call it from main; it never returns.
//
// Started by a host (the go-plugin handshake environment is set), it serves
// gRPC with AutoMTLS on a unix socket (with an ECDSA P-256 certificate of its
// own, which starts faster than go-plugin's P-521) and stops gracefully,
// letting in-flight RPCs finish, on SIGTERM, SIGINT, the host's shutdown
// request or the death of the host process. Started by hand, it prints how to run it in debug mode and
// exits with status 1. With --debug (or PROVISIONING_PLUGIN_DEBUG=1) it serves
// in debug mode; see [ReattachInfo].
func Serve(adapter provisioningv1.ProvisioningAdapterServer, opts ...ServeOption) {
	os.Exit(serve(adapter, opts...))
}

func serve(adapter provisioningv1.ProvisioningAdapterServer, opts ...ServeOption) int {
	o := serveOptions{
		grace:      10 * time.Second,
		parentPoll: 500 * time.Millisecond,
		args:       os.Args[1:],
		stdout:     os.Stdout,
		stderr:     os.Stderr,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = NewLogger(o.stderr, levelFromEnv())
	}
	if isDebug(o.args) {
		return serveDebug(adapter, &o)
	}
	if os.Getenv(magicCookieKey) != magicCookieValue {
		name := filepath.Base(os.Args[0])
		fmt.Fprintf(o.stderr, "%s is a provisioning plugin: a provisioning host starts it, it is not a command.\n"+
			"To try it by hand, run it in debug mode and attach provctl to it:\n\n"+
			"  %s --debug        (or %s=1)\n\n"+
			"It then prints a %s value for provctl or a host.\n",
			name, name, DebugEnv, ReattachEnv)
		return 1
	}

	if addr := os.Getenv(PprofEnv); addr != "" {
		servePprof(addr, o.logger)
	}
	d := newDrainer(o.logger)
	stop := make(chan string, 1)
	go watchSignals(stop)
	go watchParent(stop, o.parentPoll)
	go func() {
		reason := <-stop
		o.logger.Info("plugin stopping", "reason", reason)
		d.drainAndStop(o.grace)
	}()

	cfg := &goplugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         pluginSet(withSyncStream(adapter, d, &o)),
		GRPCServer:      d.newServer,
		Logger:          hclogslog.New(o.logger, hclog.Trace),
	}
	if clientPEM := os.Getenv(clientCertEnv); clientPEM != "" {
		// AutoMTLS with a P-256 certificate of our own instead of the P-521
		// one go-plugin would make (see serverTLS).
		tlsCfg, der, err := serverTLS([]byte(clientPEM), time.Now())
		if err != nil {
			o.logger.Error("plugin TLS", "error", err)
			return 1
		}
		stdout, err := handshakeCertWriter(os.Stdout, der)
		if err != nil {
			o.logger.Error("plugin TLS", "error", err)
			return 1
		}
		cfg.TLSProvider = func() (*tls.Config, error) { return tlsCfg, nil }
		// go-plugin prints the handshake line to os.Stdout, then sets
		// os.Stdout to its own stdio pipe.
		os.Stdout = stdout
	}
	goplugin.Serve(cfg)
	return 0
}

func isDebug(args []string) bool {
	if v := os.Getenv(DebugEnv); v == "1" || strings.EqualFold(v, "true") {
		return true
	}
	for _, a := range args {
		if a == "--debug" || a == "-debug" {
			return true
		}
	}
	return false
}

func watchSignals(stop chan<- string) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
	sig := <-ch
	select {
	case stop <- "signal " + sig.String():
	default:
	}
}

// drainer lets in-flight adapter RPCs finish before the gRPC server stops.
// grpc.Server.GracefulStop cannot be used: go-plugin's stdio stream never ends
// while the host is attached, so GracefulStop would always wait out the grace
// period. Calls are counted by a stats handler, whose End event comes after
// the response is written: counting in an interceptor would let the server
// stop between the handler's return and the response reaching the wire.
type drainer struct {
	logger *slog.Logger

	mu       sync.Mutex
	srv      *grpc.Server
	draining bool
	inflight int
	idle     chan struct{} // closed once, when draining and inflight is 0
	idleOnce sync.Once
	stopped  bool
}

func newDrainer(l *slog.Logger) *drainer {
	return &drainer{logger: l, idle: make(chan struct{})}
}

// streamWorkers is how many goroutines serve incoming calls and stay for
// the next one, so that a call runs on a goroutine whose stack has already
// grown rather than on a new one; calls beyond it get their own goroutine.
const streamWorkers = 32

const adapterPrefix = "/" + "provisioning.v1.ProvisioningAdapter/"

func (d *drainer) newServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.ChainUnaryInterceptor(d.refuseWhileDraining), grpc.StatsHandler(drainStats{d}), grpc.NumStreamWorkers(streamWorkers),
		grpc.InitialWindowSize(FlowControlWindow), grpc.InitialConnWindowSize(FlowControlWindow))
	srv := grpc.NewServer(opts...)
	d.mu.Lock()
	d.srv = srv
	d.mu.Unlock()
	return srv
}

func (d *drainer) refuseWhileDraining(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, adapterPrefix) {
		d.mu.Lock()
		draining := d.draining
		d.mu.Unlock()
		if draining {
			return nil, status.Error(codes.Unavailable, drainingMessage)
		}
	}
	return h(ctx, req)
}

// add counts an adapter call in (+1) or out (-1).
func (d *drainer) add(n int) {
	d.mu.Lock()
	d.inflight += n
	idle := d.draining && d.inflight == 0
	d.mu.Unlock()
	if idle {
		d.idleOnce.Do(func() { close(d.idle) })
	}
}

type adapterCallKey struct{}

// drainStats counts adapter RPCs from Begin to End. A SynchronizeStream is
// not one: it lasts as long as the host keeps it, and each of its calls is
// counted instead (stream.go).
type drainStats struct{ d *drainer }

func (s drainStats) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if strings.HasPrefix(info.FullMethodName, adapterPrefix) && info.FullMethodName != provisioningv1.ProvisioningAdapter_SynchronizeStream_FullMethodName {
		return context.WithValue(ctx, adapterCallKey{}, true)
	}
	return ctx
}

func (s drainStats) HandleRPC(ctx context.Context, st stats.RPCStats) {
	if ctx.Value(adapterCallKey{}) == nil {
		return
	}
	switch st.(type) {
	case *stats.Begin:
		s.d.add(1)
	case *stats.End:
		s.d.add(-1)
	}
}

func (drainStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (drainStats) HandleConn(context.Context, stats.ConnStats)                       {}

// drainAndStop drains, then stops the server (which makes go-plugin's Serve
// return).
func (d *drainer) drainAndStop(grace time.Duration) {
	srv, first := d.drain(grace)
	if !first {
		return
	}
	if srv == nil {
		// Stopped before go-plugin built its server: nothing to drain.
		os.Exit(0)
	}
	stopServer(srv)
}

// flushWindow is how long a stopping server keeps its connections after the
// last adapter call ended, so the answers already handed to the transport
// reach the host: grpc.Server.Stop discards frames not yet written.
const flushWindow = 250 * time.Millisecond

func stopServer(srv *grpc.Server) {
	done := make(chan struct{})
	go func() {
		// Never returns while go-plugin's stdio stream is attached; it does
		// refuse new connections and let pending frames go out.
		srv.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(flushWindow)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		srv.Stop()
	}
}

// drain refuses new adapter calls and waits up to grace for the in-flight
// ones. It reports the server and whether this was the first call.
func (d *drainer) drain(grace time.Duration) (*grpc.Server, bool) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil, false
	}
	d.stopped = true
	d.draining = true
	n := d.inflight
	srv := d.srv
	d.mu.Unlock()
	d.add(0)
	if n > 0 {
		d.logger.Info("waiting for in-flight calls", "count", n, "grace", grace)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-d.idle:
	case <-t.C:
		d.logger.Warn("grace period over; cutting in-flight calls", "grace", grace)
	}
	return srv, true
}

// servePprof serves the Go profiles on addr in the background. A failure to
// listen is logged, not fatal: profiling is a diagnostic aid.
func servePprof(addr string, log *slog.Logger) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		log.Warn("cannot serve profiles", "env", PprofEnv, "error", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("serving profiles", "addr", "http://"+lis.Addr().String()+"/debug/pprof/")
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(lis) }()
}

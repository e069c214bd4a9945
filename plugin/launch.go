package plugin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/cloudbss/provisioning/internal/hclogslog"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// LaunchOption configures a [Launcher] and [Attach].
type LaunchOption func(*launchOptions)

type launchOptions struct {
	logger       *slog.Logger
	args         []string
	env          map[string]string
	hostEnv      bool
	dataDir      string
	socketDir    string
	checksum     []byte
	startTimeout time.Duration
	stderr       io.Writer
}

// WithClientLogger sends go-plugin's messages and the plugin's own log lines
// (its stderr) to l. Default: slog.Default(). Hosts usually pass a logger
// carrying the plugin's name. l's handler decides the level: a debug-level
// handler also receives the plugin's debug lines.
func WithClientLogger(l *slog.Logger) LaunchOption { return func(o *launchOptions) { o.logger = l } }

// WithArgs passes command-line arguments to the plugin binary.
func WithArgs(args ...string) LaunchOption {
	return func(o *launchOptions) { o.args = slices.Clone(args) }
}

// WithEnv adds variables to the plugin's environment (a catalog entry's
// env). The plugin inherits only a short allowlist from the host (PATH,
// HOME, TMPDIR, USER, LOGNAME, TZ, LANG, LC_*, [LogLevelEnv], [PprofEnv],
// PLUGIN_UNIX_SOCKET_GROUP); these win over it.
func WithEnv(env map[string]string) LaunchOption {
	return func(o *launchOptions) {
		if o.env == nil {
			o.env = make(map[string]string, len(env))
		}
		for k, v := range env {
			o.env[k] = v
		}
	}
}

// WithHostEnv passes the host's whole environment to the plugin instead of
// the allowlist (the debug and reattach variables still stay out). For a
// developer's tool that runs one plugin by hand (provctl conformance, where
// PYTHONPATH or a virtualenv must reach the plugin), never for a host that
// runs several plugins: each would see the others' secrets.
func WithHostEnv() LaunchOption { return func(o *launchOptions) { o.hostEnv = true } }

// WithSocketDir makes each started process put its go-plugin socket in a
// fresh folder (mode 0700) inside dir, through PLUGIN_UNIX_SOCKET_DIR, and
// [Process.Kill] removes that folder: a plugin that crashed or was killed
// cannot remove its own socket. dir must exist and be private to the host
// (mode 0700): the shared temporary folder go-plugin uses otherwise lets
// every local user list the sockets, and collects one per crash. Keep dir
// short: a socket path has at most 104 bytes on some systems.
func WithSocketDir(dir string) LaunchOption { return func(o *launchOptions) { o.socketDir = dir } }

// WithDataDir gives the plugin a folder of its own: the launcher creates dir
// (mode 0700) before every start and passes it in [DataDirEnv].
func WithDataDir(dir string) LaunchOption { return func(o *launchOptions) { o.dataDir = dir } }

// WithChecksum makes the launcher refuse to start a binary whose SHA-256 is
// not sum. [Launcher.Start] then fails with an error wrapping
// goplugin.ErrChecksumsDoNotMatch, and the binary never runs. On Linux the
// process runs exactly the bytes that were hashed (a sealed in-memory copy),
// so swapping the file or a symlink on the path between the check and the
// exec cannot get other bytes run; elsewhere go-plugin checks the path just
// before exec.
func WithChecksum(sum []byte) LaunchOption {
	return func(o *launchOptions) { o.checksum = slices.Clone(sum) }
}

// WithStartTimeout bounds the handshake: how long the plugin has to print its
// address. Default 1 minute (go-plugin's default).
func WithStartTimeout(d time.Duration) LaunchOption {
	return func(o *launchOptions) { o.startTimeout = d }
}

// WithStderr also copies the plugin's raw stderr to w (tests use it to inspect
// every line a plugin logged).
func WithStderr(w io.Writer) LaunchOption { return func(o *launchOptions) { o.stderr = w } }

func buildLaunchOptions(opts []LaunchOption) launchOptions {
	o := launchOptions{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Launcher starts one plugin binary the way every host does: a fresh process
// per start (an exec.Cmd runs only once) in a process group of its own, the
// host's environment plus the entry's, go-plugin's handshake and gRPC with
// automatic mutual TLS. The provisioning host, provctl and plugintest all
// launch through it. A Launcher may be started again after its process
// exited; it is safe for use by one goroutine at a time.
type Launcher struct {
	path string
	o    launchOptions
}

// NewLauncher returns a launcher for the plugin binary at path. Nothing runs
// until [Launcher.Start].
func NewLauncher(path string, opts ...LaunchOption) *Launcher {
	return &Launcher{path: path, o: buildLaunchOptions(opts)}
}

// Start starts a new process of the plugin, waits for its handshake and
// returns it. The caller kills it (see [Process.Kill]) when done.
func (l *Launcher) Start() (*Process, error) { return l.StartContext(context.Background()) }

// StartContext is [Launcher.Start], cut short when ctx ends: a plugin still
// in its handshake is killed (go-plugin itself would wait out the start
// timeout), so a host that is stopping need not wait for it.
func (l *Launcher) StartContext(ctx context.Context) (*Process, error) {
	// go-plugin's Start holds the client's lock through the whole
	// handshake, so its Kill cannot cut a start short: the command kills
	// its own process group when abort is called, which happens only if ctx
	// ends before the plugin is connected.
	ab := newAbort()
	cmd := exec.CommandContext(ab, l.path, l.o.args...)
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	env, err := l.environ()
	if err != nil {
		return nil, err
	}
	// Mutual TLS as go-plugin's AutoMTLS sets it up, with a P-256 key on
	// this side (see clientTLS).
	tlsCfg, certPEM, err := clientTLS(time.Now())
	if err != nil {
		return nil, err
	}
	env = append(env, clientCertEnv+"="+certPEM)
	var sockDir string
	if l.o.socketDir != "" {
		if sockDir, err = os.MkdirTemp(l.o.socketDir, "p"); err != nil {
			return nil, fmt.Errorf("start plugin %s: socket folder: %w", l.path, err)
		}
		env = append(env, goplugin.EnvUnixSocketDir+"="+sockDir)
	}
	cmd.Env = env
	// Its own process group, so that killing the plugin also kills whatever
	// it spawned.
	setProcessGroup(cmd)
	var secure *goplugin.SecureConfig
	if l.o.checksum != nil {
		var release func()
		secure, release, err = pinExec(cmd, l.path, l.o.checksum)
		if err != nil {
			removeSocketDir(sockDir)
			return nil, fmt.Errorf("start plugin %s: %w", l.path, err)
		}
		// The child holds its own descriptor once started.
		defer release()
	}
	logger := hclogslog.New(l.o.logger, hclog.Trace)
	if cmd.Path != l.path {
		// go-plugin names the plugin's stderr logger after the base name of
		// what it execs; keep the binary's name, which hosts key on.
		logger = renamedLogger{Logger: logger, from: filepath.Base(cmd.Path), to: filepath.Base(l.path)}
	}
	c := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          pluginSet(nil),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		// go-plugin would append the host's whole environment after ours
		// (so it would even win over the entry's env).
		SkipHostEnv:  true,
		TLSConfig:    tlsCfg,
		SecureConfig: secure,
		StartTimeout: l.o.startTimeout,
		Stderr:       l.o.stderr,
		Logger:       logger,
		// go-plugin logs a stderr line longer than its buffer in pieces,
		// one record each (64 KB by default: a long traceback or a dumped
		// payload becomes several unreadable records). A larger buffer
		// keeps such lines whole, for the host's logger to cut.
		PluginLogBufferSize: stderrLineMax,
		GRPCDialOptions:     flowControlDialOptions(),
	})
	p := &Process{client: c, owned: true, sockDir: sockDir}
	connected := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			ab.abort() // the handshake wait then sees the process exit
		case <-connected:
		}
	}()
	err = p.connect()
	close(connected)
	if err == nil && ctx.Err() != nil {
		p.Kill()
		err = ctx.Err()
	}
	if err != nil {
		removeSocketDir(sockDir)
		return nil, fmt.Errorf("start plugin %s: %w", l.path, err)
	}
	return p, nil
}

func removeSocketDir(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// abortCtx is a context that ends only when abort is called: the start's
// kill switch, which must never fire once the plugin runs (a cancel func
// would have to be called on every path, and calling it kills the plugin).
type abortCtx struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newAbort() *abortCtx {
	return &abortCtx{Context: context.Background(), done: make(chan struct{})}
}

func (a *abortCtx) abort()                { a.once.Do(func() { close(a.done) }) }
func (a *abortCtx) Done() <-chan struct{} { return a.done }

func (a *abortCtx) Err() error {
	select {
	case <-a.done:
		return context.Canceled
	default:
		return nil
	}
}

// stderrLineMax is the longest stderr line go-plugin reads whole; a longer
// one comes in pieces of this size.
const stderrLineMax = 1 << 20

// renamedLogger renames the sub-logger named from to to.
type renamedLogger struct {
	hclog.Logger
	from, to string
}

func (r renamedLogger) Named(name string) hclog.Logger {
	if name == r.from {
		name = r.to
	}
	return r.Logger.Named(name)
}

// inheritedEnv lists the host variables a plugin inherits; inheritedPrefix
// the families. Everything else in the host's environment (its own secrets,
// and every other plugin's, set there by an operator for convenience) stays
// out: a plugin gets what its catalog entry's env gives it. The debug and
// reattach variables are the host's side of debug mode and would turn the
// plugin away from the handshake.
var inheritedEnv = map[string]bool{
	"PATH": true, "HOME": true, "TMPDIR": true, "TZ": true, "LANG": true,
	"USER": true, "LOGNAME": true,
	LogLevelEnv: true, PprofEnv: true, "PLUGIN_UNIX_SOCKET_GROUP": true,
}

const inheritedPrefix = "LC_"

// environ is the plugin's environment: the allowlisted part of the host's
// (see inheritedEnv), then the entry's, which wins, and the data folder.
// go-plugin adds its own (the handshake cookie, AutoMTLS certificate,
// protocol versions, socket folder); it is told not to add the host's.
func (l *Launcher) environ() ([]string, error) {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		if k == DebugEnv || k == ReattachEnv {
			return true
		}
		return !l.o.hostEnv && !inheritedEnv[k] && !strings.HasPrefix(k, inheritedPrefix)
	})
	for k, v := range l.o.env {
		env = append(env, k+"="+v)
	}
	if l.o.dataDir != "" {
		if err := os.MkdirAll(l.o.dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("plugin data folder: %w", err)
		}
		env = append(env, DataDirEnv+"="+l.o.dataDir)
	}
	return env, nil
}

// Attach connects to a plugin that is already running in debug mode (see
// [ReattachInfo]). The process is someone else's: [Process.Kill] and
// [Process.Terminate] never signal it.
func Attach(ri ReattachInfo, opts ...LaunchOption) (*Process, error) {
	rc, err := ri.config()
	if err != nil {
		return nil, err
	}
	o := buildLaunchOptions(opts)
	c := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          pluginSet(nil),
		Reattach:         rc,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclogslog.New(o.logger, hclog.Trace),
		GRPCDialOptions:  flowControlDialOptions(),
	})
	p := &Process{client: c}
	if err := p.connect(); err != nil {
		return nil, fmt.Errorf("attach to plugin pid %d at %s: %w", ri.Pid, ri.Addr, err)
	}
	return p, nil
}

// Process is one running plugin, launched by a [Launcher] or attached to
// with [Attach].
type Process struct {
	client  *goplugin.Client
	conn    *grpc.ClientConn
	adapter provisioningv1.ProvisioningAdapterClient
	pid     int
	owned   bool   // launched by us: ours to signal
	sockDir string // the process's own socket folder, or ""
}

func (p *Process) connect() error {
	rpc, err := p.client.Client()
	if err != nil {
		p.client.Kill()
		return err
	}
	gc, ok := rpc.(*goplugin.GRPCClient)
	if !ok {
		p.client.Kill()
		return fmt.Errorf("plugin speaks %T, want gRPC", rpc)
	}
	raw, err := rpc.Dispense(pluginKey)
	if err != nil {
		p.client.Kill()
		return fmt.Errorf("dispense %q: %w", pluginKey, err)
	}
	ac, ok := raw.(provisioningv1.ProvisioningAdapterClient)
	if !ok {
		p.client.Kill()
		return fmt.Errorf("plugin dispensed %T, want a ProvisioningAdapterClient", raw)
	}
	p.conn, p.adapter = gc.Conn, ac
	if rc := p.client.ReattachConfig(); rc != nil {
		p.pid = rc.Pid
	}
	return nil
}

// Adapter is the typed client of the plugin's ProvisioningAdapter service.
func (p *Process) Adapter() provisioningv1.ProvisioningAdapterClient { return p.adapter }

// Conn is the gRPC connection to the plugin, for the other services go-plugin
// serves beside the adapter (grpc.health.v1 under the name "plugin").
func (p *Process) Conn() grpc.ClientConnInterface { return p.conn }

// Pid is the plugin's process id.
func (p *Process) Pid() int { return p.pid }

// Exited reports whether the process has exited. go-plugin offers no channel
// for it, so callers that need to notice a crash poll it.
func (p *Process) Exited() bool { return p.client.Exited() }

// Terminate asks a launched plugin to stop gracefully (SIGTERM on Unix): the
// SDK's [Serve] lets in-flight calls finish, then exits. It does not wait;
// follow with [Process.Kill] after a timeout. A no-op for an attached plugin.
func (p *Process) Terminate() error {
	if !p.owned || p.pid <= 0 {
		return nil
	}
	return terminate(p.pid)
}

// Kill kills a launched plugin's whole process group at once (go-plugin's own
// Kill would leave the plugin's children behind) and releases the connection.
// For an attached plugin it only releases the connection. Safe to call more
// than once and from several goroutines.
func (p *Process) Kill() {
	if p.owned && p.pid > 0 {
		_ = killGroup(p.pid)
	}
	p.client.Kill()
	// The plugin could not remove its socket if it crashed or was killed.
	removeSocketDir(p.sockDir)
}

// KillGroup kills a launched plugin's process group without waiting for
// anything: for a host that must stop at once while another goroutine still
// owns the process. A no-op for an attached plugin.
func (p *Process) KillGroup() {
	if p.owned && p.pid > 0 {
		_ = killGroup(p.pid)
	}
}

package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cloudbss/provisioning/host/catalog"
	"github.com/cloudbss/provisioning/plugin"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ErrChecksumMismatch is wrapped when a plugin binary's SHA-256 is not the
// one its catalog entry pins. The plugin is then never started.
var ErrChecksumMismatch = errors.New("plugin binary checksum mismatch")

// ErrNameMismatch is wrapped when a plugin reports, in GetPluginInfo, another
// name than its catalog entry's.
var ErrNameMismatch = errors.New("plugin reports another name than its catalog entry")

// permanentError marks a start failure that a retry cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// instance is one run of a plugin process, or the adapter linked in with
// [WithInProcessPlugin] (client nil, pid 0: it never exits on its own).
type instance struct {
	proc    *plugin.Process
	conn    grpc.ClientConnInterface
	pid     int
	started time.Time
	// exited is closed once the process is gone (crash, kill or stop).
	exited   chan struct{}
	exitOnce sync.Once
	// streams carry its Synchronize calls (syncstream.go).
	streams syncStreams
}

func (in *instance) markExited() { in.exitOnce.Do(func() { close(in.exited) }) }

func (in *instance) isExited() bool {
	select {
	case <-in.exited:
		return true
	default:
		return false
	}
}

// supervisor keeps one plugin of the catalog running.
type supervisor struct {
	h     *Host
	entry catalog.Entry
	log   *slog.Logger

	mu       sync.Mutex
	state    hostv1.PluginState
	restarts int32
	lastErr  string
	info     *provisioningv1.GetPluginInfoResponse
	digest   string // the binary's SHA-256 as last started; see describe
	// started identifies the unpinned binary file as last started (zero
	// when pinned or attached): describe hashes it only while it is still
	// that file.
	started fileID
	// hashMu makes concurrent describes hash the binary once.
	hashMu   sync.Mutex
	cur      *instance
	changed  chan struct{} // closed and replaced on every state change
	closing  bool
	inflight int
	idle     chan struct{} // closed when closing and inflight reaches 0

	done chan struct{} // closed when run returns
}

func newSupervisor(h *Host, e catalog.Entry) *supervisor {
	return &supervisor{
		h:       h,
		entry:   e,
		log:     h.opts.logger.With("plugin", e.Name),
		digest:  launchedPin(e),
		changed: make(chan struct{}),
		idle:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// setState records a state change and wakes every waiter. Callers hold mu.
func (s *supervisor) setStateLocked(st hostv1.PluginState, cur *instance, lastErr string) {
	s.state = st
	s.cur = cur
	if lastErr != "" {
		s.lastErr = lastErr
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.h.metrics.up(s.entry.Name, st == hostv1.PluginState_PLUGIN_STATE_RUNNING)
}

func (s *supervisor) setState(st hostv1.PluginState, cur *instance, lastErr string) {
	s.mu.Lock()
	s.setStateLocked(st, cur, lastErr)
	s.mu.Unlock()
}

// run starts the plugin and keeps it running until ctx ends. The first
// start's outcome is sent on started.
//
// Every failure, a start that fails or a process that dies before it ran
// stableAfter, counts in a row; the next start waits backoff (doubling from
// the first wait up to the longest, see [WithRestartBackoff]); after
// maxRestarts failures in a row the plugin is FAILED for good (see
// [WithMaxRestarts]), as kubelet's CrashLoopBackOff and systemd's start limit
// do. A process that ran stableAfter clears the count. A failure no retry can
// fix (a checksum mismatch, a wrong name, settings Configure refuses) is
// FAILED at once.
func (s *supervisor) run(ctx context.Context, started chan<- error) {
	defer close(s.done)
	s.setState(hostv1.PluginState_PLUGIN_STATE_STARTING, nil, "")
	first := true
	report := func(err error) {
		if first {
			first = false
			started <- err
		}
	}
	failures := 0
	for {
		inst, err := s.launch(ctx)
		if err != nil {
			failures++
			var pe permanentError
			if errors.As(err, &pe) || failures >= s.h.opts.maxRestarts || ctx.Err() != nil {
				s.fail(err)
				report(err)
				return
			}
			s.log.Warn("plugin start failed; retrying", "error", err, "failures", failures)
			if !s.restartAfter(ctx, err.Error(), failures, func() { report(err) }) {
				return
			}
			continue
		}
		s.setState(hostv1.PluginState_PLUGIN_STATE_RUNNING, inst, "")
		report(nil)

		reason := s.watch(ctx, inst)
		if ctx.Err() != nil {
			s.stopInstance(inst)
			s.setState(hostv1.PluginState_PLUGIN_STATE_STOPPED, nil, "")
			return
		}
		s.killInstance(inst)
		ran := time.Since(inst.started)
		if ran >= s.h.opts.stableAfter {
			failures = 0 // it ran a while: not a crash loop
		}
		failures++
		if failures >= s.h.opts.maxRestarts {
			s.fail(fmt.Errorf("plugin %q crashed %d times in a row, each within %v of its start; last: %s",
				s.entry.Name, failures, s.h.opts.stableAfter, reason))
			return
		}
		s.log.Warn("plugin crashed; restarting", "reason", reason, "pid", inst.pid, "ran", ran.Round(time.Millisecond), "failures", failures)
		if !s.restartAfter(ctx, reason, failures, func() {}) {
			return
		}
	}
}

// restartAfter counts a restart, shows RESTARTING with why, calls shown,
// and waits the backoff for the failures in a row. It reports false (and
// the plugin is STOPPED) when ctx ends first.
func (s *supervisor) restartAfter(ctx context.Context, reason string, failures int, shown func()) bool {
	s.mu.Lock()
	s.restarts++
	s.setStateLocked(hostv1.PluginState_PLUGIN_STATE_RESTARTING, nil, reason)
	s.mu.Unlock()
	shown()
	s.h.metrics.restarted(s.entry.Name)
	if !sleep(ctx, backoff(s.h.opts.backoffMin, s.h.opts.backoffMax, failures-1)) {
		s.setState(hostv1.PluginState_PLUGIN_STATE_STOPPED, nil, "")
		return false
	}
	return true
}

func (s *supervisor) fail(err error) {
	if errors.Is(err, context.Canceled) {
		s.setState(hostv1.PluginState_PLUGIN_STATE_STOPPED, nil, "")
		return
	}
	s.log.Error("plugin failed", "error", err)
	s.setState(hostv1.PluginState_PLUGIN_STATE_FAILED, nil, err.Error())
}

// backoff is the wait before a restart after failures failed ones: lo,
// doubling up to hi.
func backoff(lo, hi time.Duration, failures int) time.Duration {
	d := lo
	for range failures {
		d *= 2
		if d >= hi {
			return hi
		}
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// launch starts a fresh process (an exec.Cmd runs only once), checks the
// handshake and the plugin's name, and configures it.
func (s *supervisor) launch(ctx context.Context) (*instance, error) {
	start := time.Now()
	e := s.entry
	var inst *instance
	if impl, ok := s.h.opts.inProcess[e.Name]; ok {
		inst = &instance{conn: localConn{impl}, started: start, exited: make(chan struct{})}
	} else {
		var err error
		if inst, err = s.spawn(ctx, start); err != nil {
			return nil, err
		}
	}

	cctx, cancel := context.WithTimeout(ctx, s.h.opts.startTimeout)
	defer cancel()
	ac := provisioningv1.NewProvisioningAdapterClient(inst.conn)
	info, err := ac.GetPluginInfo(cctx, &provisioningv1.GetPluginInfoRequest{})
	if err != nil {
		s.killInstance(inst)
		return nil, fmt.Errorf("plugin %q: GetPluginInfo: %w", e.Name, err)
	}
	if info.GetName() != e.Name {
		s.killInstance(inst)
		return nil, permanentError{fmt.Errorf("plugin %q: %w: it says %q", e.Name, ErrNameMismatch, info.GetName())}
	}
	// Settings are secrets: never log them or put them in an error.
	if _, err := ac.Configure(cctx, &provisioningv1.ConfigureRequest{Settings: e.Settings}); err != nil {
		s.killInstance(inst)
		return nil, permanentError{fmt.Errorf("plugin %q: Configure: %w", e.Name, err)}
	}
	s.mu.Lock()
	s.info = info
	s.mu.Unlock()
	if launchedPin(e) == "" && !s.attached() {
		// The digest is only for ListPlugins, and hashing a 20 MB binary
		// costs ~16 ms of CPU: note which file was started (a stat) and
		// hash it when first asked (describe), not on every start.
		id, err := statFileID(e.Path)
		s.mu.Lock()
		s.digest, s.started = "", fileID{}
		if err == nil {
			s.started = id
		}
		s.mu.Unlock()
	}
	s.log.Info("plugin running", "pid", inst.pid, "version", info.GetVersion(), "startup_ms", time.Since(start).Milliseconds())
	return inst, nil
}

// spawn starts the plugin's process (or attaches to it) and connects.
func (s *supervisor) spawn(ctx context.Context, start time.Time) (*instance, error) {
	e := s.entry
	tail := &stderrTail{}
	opts := []plugin.LaunchOption{
		plugin.WithClientLogger(slog.New(newPluginLogHandler(s.log.Handler(), e.Path))),
		plugin.WithStartTimeout(s.h.opts.startTimeout),
	}
	if ri, ok := s.h.opts.reattach[e.Name]; ok {
		p, err := plugin.Attach(ri, opts...)
		if err != nil {
			// Not permanent: a developer may be restarting the plugin
			// under a debugger.
			return nil, fmt.Errorf("plugin %q: %w", e.Name, err)
		}
		// An attached plugin is not ours to signal: pid stays 0.
		inst := &instance{proc: p, conn: p.Conn(), started: start, exited: make(chan struct{})}
		go s.watchExit(inst)
		return inst, nil
	}
	l, err := s.launcher(append(opts, plugin.WithStderr(tail)))
	if err != nil {
		return nil, err
	}
	p, err := l.StartContext(ctx)
	if err != nil {
		// Start has killed the process and read the last of its stderr.
		if t := tail.String(); t != "" {
			// go-plugin's own message hides why a plugin died before its
			// handshake (an import error, a missing library): its stderr says.
			err = fmt.Errorf("%w; last stderr lines: %s", err, t)
		}
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			actual, herr := fileSHA256(e.Path)
			if herr != nil {
				actual = "unreadable (" + herr.Error() + ")"
			}
			return nil, permanentError{fmt.Errorf("plugin %q: %w: %s has sha256 %s, the catalog requires %s",
				e.Name, ErrChecksumMismatch, e.Path, actual, launchedPin(e))}
		}
		return nil, fmt.Errorf("plugin %q: %w", e.Name, err)
	}
	inst := &instance{proc: p, conn: p.Conn(), pid: p.Pid(), started: start, exited: make(chan struct{})}
	go s.watchExit(inst)
	return inst, nil
}

// attached reports whether the host attaches to an already running plugin
// (debug mode, see [WithReattach]) instead of launching it.
func (s *supervisor) attached() bool {
	_, ok := s.h.opts.reattach[s.entry.Name]
	return ok
}

// launcher is the plugin's launcher as the catalog entry describes it. The
// checks here are the permanent failures: a retry cannot fix them.
func (s *supervisor) launcher(opts []plugin.LaunchOption) (*plugin.Launcher, error) {
	e := s.entry
	opts = append(opts, plugin.WithArgs(e.Args...), plugin.WithEnv(e.Env), plugin.WithSocketDir(s.h.sockDir))
	if dir := s.h.opts.dataDir; dir != "" {
		opts = append(opts, plugin.WithDataDir(filepath.Join(dir, "plugins", e.Name)))
	}
	if pin := launchedPin(e); pin != "" {
		sum, err := hex.DecodeString(pin)
		if err != nil {
			return nil, permanentError{fmt.Errorf("plugin %q: sha256 in the catalog is not hex", e.Name)}
		}
		opts = append(opts, plugin.WithChecksum(sum))
	}
	if _, err := os.Stat(e.Path); err != nil {
		return nil, permanentError{fmt.Errorf("plugin %q: binary: %w", e.Name, err)}
	}
	if err := verifyChecksums(e); err != nil {
		return nil, permanentError{err}
	}
	return plugin.NewLauncher(e.Path, opts...), nil
}

// launchedPin is the digest pinning the file the host launches: the entry's
// SHA256, or else the Checksums row for its Path. The launcher executes the
// very bytes it verified against it (see [plugin.WithChecksum]), so the
// launched file cannot be swapped between the check and the exec; the other
// Checksums files are read by the interpreter by path, after the check.
func launchedPin(e catalog.Entry) string {
	if e.SHA256 != "" {
		return e.SHA256
	}
	for _, fc := range e.Checksums {
		if filepath.Clean(fc.Path) == filepath.Clean(e.Path) {
			return fc.SHA256
		}
	}
	return ""
}

// watchExit notices the process exiting. go-plugin offers no channel for it,
// only a flag, so poll it; 50ms is cheap and makes a crash visible before a
// caller's retry would give up.
func (s *supervisor) watchExit(inst *instance) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-inst.exited:
			return
		case <-t.C:
			if inst.proc.Exited() {
				inst.markExited()
				return
			}
		}
	}
}

// watch returns why the running instance must be replaced, or "" when ctx
// ends.
func (s *supervisor) watch(ctx context.Context, inst *instance) string {
	t := time.NewTicker(s.h.opts.healthInterval)
	defer t.Stop()
	hc := healthpb.NewHealthClient(inst.conn)
	misses := 0
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-inst.exited:
			return "plugin process exited"
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{Service: goplugin.GRPCServiceName})
			cancel()
			if ctx.Err() != nil {
				return ""
			}
			if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
				misses = 0
				continue
			}
			misses++
			s.log.Warn("plugin health check failed", "error", err, "misses", misses)
			if misses >= 2 {
				return "plugin failed two health checks"
			}
		}
	}
}

// stopInstance stops a healthy plugin gracefully: Terminate (SIGTERM) lets
// the plugin SDK drain its own calls; after the kill timeout the whole
// process group is killed.
func (s *supervisor) stopInstance(inst *instance) {
	if inst.pid > 0 && !inst.isExited() {
		timeout := s.h.opts.killTimeout
		if s.entry.KillTimeout > 0 {
			timeout = s.entry.KillTimeout // the catalog's kill_timeout
		}
		_ = inst.proc.Terminate()
		t := time.NewTimer(timeout)
		select {
		case <-inst.exited:
		case <-t.C:
			s.log.Warn("plugin did not stop in time; killing it", "pid", inst.pid, "timeout", timeout)
		}
		t.Stop()
	}
	s.killInstance(inst)
}

// killInstance kills the process group at once and releases the
// connection (see [plugin.Process.Kill]).
func (s *supervisor) killInstance(inst *instance) {
	if inst.proc != nil {
		inst.proc.Kill()
	}
	inst.markExited()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
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

// fileID tells one file from another at the same path: a replaced or
// rewritten binary has another inode, size or modification time.
type fileID struct {
	dev, ino, size uint64
	mtime          int64
}

func statFileID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: uint64(fi.Size()), mtime: fi.ModTime().UnixNano()}
	id.dev, id.ino = devIno(fi)
	return id, nil
}

// startedDigest is the SHA-256 of the unpinned binary as last started,
// hashed on first use: "" when the file at the path is no longer the one
// started (replaced or rewritten since), so ListPlugins never reports
// another file's digest as the running one's.
func (s *supervisor) startedDigest() string {
	s.hashMu.Lock()
	defer s.hashMu.Unlock()
	s.mu.Lock()
	d, id := s.digest, s.started
	s.mu.Unlock()
	if d != "" || id == (fileID{}) {
		return d
	}
	if now, err := statFileID(s.entry.Path); err != nil || now != id {
		return ""
	}
	d, err := fileSHA256(s.entry.Path)
	if err != nil {
		return ""
	}
	if now, err := statFileID(s.entry.Path); err != nil || now != id {
		return "" // changed while it was read
	}
	s.mu.Lock()
	if s.started == id {
		s.digest = d
	}
	s.mu.Unlock()
	return d
}

// describe is the ListPlugins view of the plugin.
func (s *supervisor) describe() *hostv1.Plugin {
	digest := s.startedDigest()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.digest != "" {
		digest = s.digest
	}
	p := &hostv1.Plugin{
		Name:      s.entry.Name,
		Path:      s.entry.Path,
		Sha256:    digest,
		State:     s.state,
		Restarts:  s.restarts,
		LastError: s.lastErr,
	}
	if s.state == hostv1.PluginState_PLUGIN_STATE_UNSPECIFIED {
		p.State = hostv1.PluginState_PLUGIN_STATE_STOPPED
	}
	if s.info != nil {
		p.DisplayName = s.info.GetDisplayName()
		p.Version = s.info.GetVersion()
		p.Capabilities = append(p.Capabilities, s.info.GetCapabilities()...)
	}
	return p
}

// drain refuses new calls and waits, until ctx ends, for the in-flight ones.
func (s *supervisor) drain(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	n := s.inflight
	if n == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
	s.mu.Unlock()
	if n > 0 {
		s.log.Info("waiting for in-flight calls", "count", n)
	}
	select {
	case <-s.idle:
	case <-ctx.Done():
		s.log.Warn("drain timeout; stopping the plugin with calls in flight")
	}
}

// killNow kills the current process group without waiting.
func (s *supervisor) killNow() {
	s.mu.Lock()
	inst := s.cur
	s.mu.Unlock()
	if inst != nil && inst.proc != nil {
		inst.proc.KillGroup()
	}
}

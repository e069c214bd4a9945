package loadtest

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// StackConfig configures [StartStack]: pandasim, optionally a 429-injecting
// proxy, and the daemon with the Panda plugin pointed at them.
type StackConfig struct {
	Bins Binaries
	// Dir holds the catalog, the data folder and anything else of the run.
	Dir  string
	Sim  SimConfig
	Host HostConfig // Plugin, APIURL, Credentials, Dir and Logs are filled in
	// Inject429 is the fraction of API requests the [FaultProxy] answers
	// 429; 0 means no proxy.
	Inject429 float64
	// HostBinary replaces Bins.Host, e.g. with Bins.InProcessHost.
	HostBinary string
	// Token, when set, is required by the daemon as a bearer token.
	Token string
	Logs  *Logs
}

// Stack is a running simulator + daemon + plugin.
type Stack struct {
	Sim    *Sim
	Proxy  *FaultProxy
	Host   *Daemon
	Conn   *grpc.ClientConn
	Client hostv1.HostServiceClient
	cfg    StackConfig
}

// StartStack starts everything and waits until the plugin runs.
func StartStack(ctx context.Context, cfg StackConfig) (_ *Stack, err error) {
	s := &Stack{cfg: cfg}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	cfg.Sim.Logs = cfg.Logs
	if s.Sim, err = StartSim(ctx, cfg.Bins.PandaSim, cfg.Sim); err != nil {
		return nil, err
	}
	api := s.Sim.URL
	if cfg.Inject429 > 0 {
		if s.Proxy, err = StartFaultProxy(s.Sim.URL, cfg.Inject429, time.Second, cfg.Sim.Seed+7); err != nil {
			return nil, err
		}
		api = s.Proxy.URL
	}
	h := cfg.Host
	h.Plugin = cfg.Bins.Plugin
	h.APIURL = api
	h.Credentials = cfg.Sim.Credentials
	h.Dir = filepath.Join(cfg.Dir, "host")
	h.Logs = cfg.Logs
	if cfg.Token != "" && h.TokenFile == "" {
		h.TokenFile = filepath.Join(cfg.Dir, "token")
		if err := writeSecretFile(h.TokenFile, cfg.Token); err != nil {
			return nil, err
		}
	}
	s.cfg.Host = h
	if err := s.StartHost(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// StartHost starts the daemon (again, after [Stack.KillHost]) on the same
// data folder and waits until its plugin runs.
func (s *Stack) StartHost(ctx context.Context) error {
	if s.Conn != nil {
		_ = s.Conn.Close()
		s.Conn = nil
	}
	bin := s.cfg.Bins.Host
	if s.cfg.HostBinary != "" {
		bin = s.cfg.HostBinary
	}
	d, err := StartHost(ctx, bin, s.cfg.Host)
	if err != nil {
		return err
	}
	s.Host = d
	if s.Conn, err = d.Dial(s.cfg.Token); err != nil {
		return err
	}
	s.Client = hostv1.NewHostServiceClient(s.Conn)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return WaitRunning(wctx, s.Client)
}

// TokenFile is the daemon's token file, or "".
func (s *Stack) TokenFile() string { return s.cfg.Host.TokenFile }

// Batch runs provctl sync-batch of file against the daemon.
func (s *Stack) Batch(ctx context.Context, file string, o BatchOptions) (BatchResult, error) {
	if o.TokenFile == "" {
		o.TokenFile = s.cfg.Host.TokenFile
	}
	if o.Logs == nil {
		o.Logs = s.cfg.Logs
	}
	return SyncBatch(ctx, s.cfg.Bins.Provctl, s.Host.Addr, file, o)
}

// Verify checks the simulator and the daemon's store against h.
func (s *Stack) Verify(ctx context.Context, h Hierarchy) (*Verification, error) {
	snap, err := s.Sim.State(ctx)
	if err != nil {
		return nil, err
	}
	return Verify(ctx, snap, h, s.Client)
}

// Close stops the daemon (gracefully), the proxy and the simulator.
func (s *Stack) Close() error {
	var errs []error
	if s.Conn != nil {
		_ = s.Conn.Close()
	}
	if s.Host != nil && !s.Host.Exited() {
		errs = append(errs, s.Host.Stop(30*time.Second))
	}
	if s.Proxy != nil {
		_ = s.Proxy.Close()
	}
	if s.Sim != nil && !s.Sim.Exited() {
		errs = append(errs, s.Sim.Stop(10*time.Second))
	}
	return errors.Join(errs...)
}

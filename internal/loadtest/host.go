package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// Environment variables through which the daemon reads the plugin's secrets
// (the catalog says env:NAME), so that they are in no file and on no
// command line.
const (
	envPassword = "LOADTEST_PANDA_PASSWORD"
	envAPIKey   = "LOADTEST_PANDA_API_KEY"
)

// PluginName is the Panda plugin's catalog name.
const PluginName = "panda"

// HostConfig configures [StartHost].
type HostConfig struct {
	// Plugin is the provisioning-plugin-panda binary.
	Plugin string
	// SHA256 pins the plugin binary's digest in the catalog (optional).
	SHA256 string
	// APIURL is the Panda (pandasim) base URL the plugin talks to.
	APIURL      string
	Credentials Credentials
	// RootAccountID default ACC-0000001.
	RootAccountID string
	// Settings are extra plugin settings (tx_poll_interval, ...).
	Settings map[string]string
	// Dir holds the catalog file; DataDir the store (default Dir/data).
	// Restarting a daemon on the same DataDir keeps its sync records.
	Dir, DataDir string
	// TokenFile, when set, makes the daemon require its content as a
	// bearer token.
	TokenFile string
	// LogLevel of the daemon. Default "info".
	LogLevel string
	// Args are extra daemon flags; Env extra environment ("KEY=value"),
	// which the daemon passes on to its plugin.
	Args []string
	Env  []string
	Logs *Logs
}

// Daemon is a running provisioning-host.
type Daemon struct {
	*Process
	Config HostConfig
}

// WriteCatalog writes the daemon's catalog file for c and returns its path.
func WriteCatalog(c HostConfig) (string, error) {
	root := c.RootAccountID
	if root == "" {
		root = "ACC-0000001"
	}
	settings := map[string]string{
		"api_url":         c.APIURL,
		"access_id":       c.Credentials.AccessID,
		"password":        "env:" + envPassword,
		"api_key":         "env:" + envAPIKey,
		"root_account_id": root,
	}
	for k, v := range c.Settings {
		settings[k] = v
	}
	plugin, err := filepath.Abs(c.Plugin) // relative paths resolve against the catalog's folder
	if err != nil {
		return "", err
	}
	entry := map[string]any{"name": PluginName, "path": plugin, "settings": settings}
	if c.SHA256 != "" {
		entry["sha256"] = c.SHA256
	}
	b, err := yaml.Marshal(map[string]any{"plugins": []any{entry}})
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(c.Dir, "host.yaml")
	return path, os.WriteFile(path, b, 0o600)
}

// StartHost writes the catalog and starts the daemon on a free loopback
// port; it returns once the daemon listens (its plugin has started or
// failed by then).
func StartHost(ctx context.Context, bin string, c HostConfig) (*Daemon, error) {
	if c.DataDir == "" {
		c.DataDir = filepath.Join(c.Dir, "data")
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	cat, err := WriteCatalog(c)
	if err != nil {
		return nil, err
	}
	args := []string{"--config", cat, "--listen", "127.0.0.1:0", "--data-dir", c.DataDir, "--log-level", c.LogLevel}
	if c.TokenFile != "" {
		args = append(args, "--auth-token-file", c.TokenFile)
	}
	args = append(args, c.Args...)
	env := append([]string{envPassword + "=" + c.Credentials.Password, envAPIKey + "=" + c.Credentials.APIKey}, c.Env...)
	p, err := Start(ctx, ProcessSpec{Name: "host", Path: bin, Args: args, Env: env, Logs: c.Logs, StartTimeout: time.Minute})
	if err != nil {
		return nil, err
	}
	return &Daemon{Process: p, Config: c}, nil
}

// PluginPIDs lists the daemon's live plugin processes.
func (d *Daemon) PluginPIDs() []int {
	var out []int
	for _, c := range Children(d.Pid()) {
		if filepath.Base(Cmdline(c)) == filepath.Base(d.Config.Plugin) {
			out = append(out, c)
		}
	}
	return out
}

// WaitPluginPID waits for a live plugin process other than not (0: any).
func (d *Daemon) WaitPluginPID(ctx context.Context, not int) (int, error) {
	for {
		for _, p := range d.PluginPIDs() {
			if p != not {
				return p, nil
			}
		}
		if d.Exited() {
			return 0, fmt.Errorf("the daemon exited")
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no plugin process: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Dial opens a client connection to the daemon. A non-empty token is sent
// as "authorization: Bearer TOKEN" on every call.
func (d *Daemon) Dial(token string) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		opts = append(opts, grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, o ...grpc.CallOption) error {
			return inv(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token), method, req, reply, cc, o...)
		}), grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, s grpc.Streamer, o ...grpc.CallOption) (grpc.ClientStream, error) {
			return s(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token), desc, cc, method, o...)
		}))
	}
	return grpc.NewClient(d.Addr, opts...)
}

// WaitRunning waits until ListPlugins says the plugin is running.
func WaitRunning(ctx context.Context, c hostv1.HostServiceClient) error {
	for {
		resp, err := c.ListPlugins(ctx, &hostv1.ListPluginsRequest{})
		if err == nil {
			i := slices.IndexFunc(resp.GetPlugins(), func(p *hostv1.Plugin) bool { return p.GetName() == PluginName })
			if i >= 0 && resp.GetPlugins()[i].GetState() == hostv1.PluginState_PLUGIN_STATE_RUNNING {
				return nil
			}
			if i >= 0 && resp.GetPlugins()[i].GetState() == hostv1.PluginState_PLUGIN_STATE_FAILED {
				return fmt.Errorf("plugin failed: %s", resp.GetPlugins()[i].GetLastError())
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("plugin not running: %w (last error %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func writeSecretFile(path, content string) error {
	return os.WriteFile(path, []byte(content+"\n"), 0o600)
}

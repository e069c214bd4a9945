package plugin

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/cloudbss/provisioning/internal/hclogslog"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ClientOption configures [NewClient] and [AttachClient].
type ClientOption func(*clientOptions)

type clientOptions struct {
	logger       *slog.Logger
	secure       *goplugin.SecureConfig
	startTimeout time.Duration
	stderr       io.Writer
}

// WithClientLogger sends go-plugin's messages and the plugin's own log lines
// (its stderr) to l. Default: slog.Default(). Hosts usually pass a logger
// carrying the plugin's name. l's handler decides the level: a debug-level
// handler also receives the plugin's debug lines.
func WithClientLogger(l *slog.Logger) ClientOption { return func(o *clientOptions) { o.logger = l } }

// WithChecksum makes the client refuse to start a binary whose SHA-256 is not
// sum (go-plugin's SecureConfig). Starting then fails with
// goplugin.ErrChecksumsDoNotMatch.
func WithChecksum(sum []byte) ClientOption {
	return func(o *clientOptions) {
		o.secure = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
}

// WithStartTimeout bounds the handshake: how long the plugin has to print its
// address. Default 1 minute (go-plugin's default).
func WithStartTimeout(d time.Duration) ClientOption {
	return func(o *clientOptions) { o.startTimeout = d }
}

// WithStderr also copies the plugin's raw stderr to w (tests use it to inspect
// every line a plugin logged).
func WithStderr(w io.Writer) ClientOption { return func(o *clientOptions) { o.stderr = w } }

func buildOptions(opts []ClientOption) clientOptions {
	o := clientOptions{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// NewClient returns a go-plugin client that launches cmd as a provisioning
// plugin over gRPC with automatic mutual TLS. cmd must be fresh: an exec.Cmd
// runs once, so a host builds a new one for every (re)start.
//
// The client does not start the process until [Connect] (or Client()) is
// called. Kill it when done; Kill stops the plugin's gRPC server at once, so
// drain in-flight calls first.
func NewClient(cmd *exec.Cmd, opts ...ClientOption) *goplugin.Client {
	o := buildOptions(opts)
	return goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          PluginSet(nil),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		SecureConfig:     o.secure,
		StartTimeout:     o.startTimeout,
		Stderr:           o.stderr,
		Logger:           hclogslog.New(o.logger, hclog.Trace),
	})
}

// AttachClient returns a go-plugin client for a plugin that is already running
// in debug mode (see [ReattachInfo]). Killing the client never kills that
// plugin.
func AttachClient(ri ReattachInfo, opts ...ClientOption) (*goplugin.Client, error) {
	rc, err := ri.Config()
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	return goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          PluginSet(nil),
		Reattach:         rc,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclogslog.New(o.logger, hclog.Trace),
	}), nil
}

// Connect starts (or attaches to) the plugin behind c and returns its typed
// client.
func Connect(c *goplugin.Client) (provisioningv1.ProvisioningAdapterClient, error) {
	rpc, err := c.Client()
	if err != nil {
		return nil, fmt.Errorf("start plugin: %w", err)
	}
	raw, err := rpc.Dispense(PluginKey)
	if err != nil {
		return nil, fmt.Errorf("dispense %q from plugin: %w", PluginKey, err)
	}
	ac, ok := raw.(provisioningv1.ProvisioningAdapterClient)
	if !ok {
		return nil, fmt.Errorf("plugin dispensed %T, want a ProvisioningAdapterClient", raw)
	}
	return ac, nil
}

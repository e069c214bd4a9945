package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/cloudbss/provisioning/internal/hclogslog"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ReattachInfo is what a host needs to attach to a plugin that is already
// running (go-plugin's reattach configuration), in a JSON form a person can
// copy. A plugin in debug mode prints it; [Attach] connects to it.
//
// Debug mode serves without TLS: it is for a developer's machine only.
type ReattachInfo struct {
	// Plugin is the name the plugin reports in GetPluginInfo.
	Plugin string `json:"plugin,omitempty"`
	// Protocol is always "grpc".
	Protocol string `json:"protocol"`
	// ProtocolVersion is [ProtocolVersion].
	ProtocolVersion int `json:"protocol_version"`
	// Network is "unix" or "tcp".
	Network string `json:"network"`
	// Addr is the socket path or host:port.
	Addr string `json:"addr"`
	// Pid is the plugin's process id.
	Pid int `json:"pid"`
}

// ParseReattach reads a [ReattachInfo] JSON document, as printed by a plugin
// in debug mode.
func ParseReattach(s string) (ReattachInfo, error) {
	var ri ReattachInfo
	if err := json.Unmarshal([]byte(s), &ri); err != nil {
		return ReattachInfo{}, fmt.Errorf("parse %s: %w", ReattachEnv, err)
	}
	switch {
	case ri.Network != "unix" && ri.Network != "tcp":
		return ReattachInfo{}, fmt.Errorf("parse %s: network %q is not unix or tcp", ReattachEnv, ri.Network)
	case ri.Addr == "":
		return ReattachInfo{}, errors.New("parse " + ReattachEnv + ": addr is empty")
	case ri.Pid <= 0:
		return ReattachInfo{}, errors.New("parse " + ReattachEnv + ": pid is missing")
	}
	return ri, nil
}

// config is the go-plugin reattach configuration for ri. The plugin was
// started by someone else, so a client built from it never kills the process.
func (ri ReattachInfo) config() (*goplugin.ReattachConfig, error) {
	var addr net.Addr
	var err error
	switch ri.Network {
	case "unix":
		addr, err = net.ResolveUnixAddr("unix", ri.Addr)
	default:
		addr, err = net.ResolveTCPAddr("tcp", ri.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("reattach address %q: %w", ri.Addr, err)
	}
	v := ri.ProtocolVersion
	if v == 0 {
		v = ProtocolVersion
	}
	return &goplugin.ReattachConfig{
		Protocol:        goplugin.ProtocolGRPC,
		ProtocolVersion: v,
		Addr:            addr,
		Pid:             ri.Pid,
		Test:            true,
	}, nil
}

func serveDebug(adapter provisioningv1.ProvisioningAdapterServer, o *serveOptions) int {
	ctx := o.debugCtx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer cancel()
	}
	d := newDrainer(o.logger)
	// go-plugin's test mode stops hard when its context ends; drain first.
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	reattach := make(chan *goplugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         pluginSet(withSyncStream(adapter, d, o)),
		GRPCServer:      d.newServer,
		Logger:          hclogslog.New(o.logger, hclog.Trace),
		Test: &goplugin.ServeTestConfig{
			Context:          serveCtx,
			ReattachConfigCh: reattach,
			CloseCh:          closed,
		},
	})

	var rc *goplugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-closed:
		fmt.Fprintln(o.stderr, "plugin failed to start in debug mode; see the log above")
		return 1
	}
	info := ReattachInfo{
		Protocol:        string(rc.Protocol),
		ProtocolVersion: rc.ProtocolVersion,
		Network:         rc.Addr.Network(),
		Addr:            rc.Addr.String(),
		Pid:             rc.Pid,
	}
	if pi, err := adapter.GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{}); err == nil {
		info.Plugin = pi.GetName()
	}
	js, _ := json.Marshal(info)
	if o.debugAttach != nil {
		o.debugAttach(info)
	}
	fmt.Fprintf(o.stdout, "Plugin %q is serving in debug mode (pid %d, no TLS: local use only).\n"+
		"Attach provctl or a host to it with:\n\n  export %s='%s'\n\nStop it with Ctrl-C.\n",
		info.Plugin, info.Pid, ReattachEnv, js)

	select {
	case <-ctx.Done():
		o.logger.Info("plugin stopping", "reason", "signal")
		d.drain(o.grace)
		stopServing()
		<-closed
	case <-closed:
	}
	return 0
}

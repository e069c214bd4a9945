package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"

	"github.com/cloudbss/provisioning/plugin/diag"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// app is one provctl run: its streams, environment and flags. Tests build one
// with buffers instead of the process's streams.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether w is a terminal (a progress bar goes there).
	isTerminal func(w io.Writer) bool

	g globals
	// ran is set once a command's own code starts: an error before that is
	// a usage error.
	ran bool
}

// globals are the persistent flags every subcommand shares.
type globals struct {
	host       string
	tokenFile  string
	ca         string
	cert, key  string
	pluginPath string
	settings   string
	dataDir    string
	pluginName string
	output     string
	timeout    time.Duration
}

// session is an open connection to a HostService: a daemon's, or the
// in-process host of local mode. Every command goes through client, so each
// command has one implementation for both.
type session struct {
	client hostv1.HostServiceClient
	// plugin is the plugin name when the session knows it (local mode).
	plugin string
	close  func() error
}

func (s *session) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// defaultHost is provisioning-host's default --listen.
const defaultHost = "127.0.0.1:7443"

const rootLong = `provctl drives provisioning plugins through the provisioning host.

It talks to a running provisioning-host daemon (--host, or PROVCTL_HOST;
default 127.0.0.1:7443, the daemon's default; --plugin-name, or
PROVCTL_PLUGIN, picks the plugin when the catalog has several), or,
with --plugin PATH --settings FILE, launches the plugin binary itself in an
in-process host: no daemon needed, the way a plugin author tests a plugin.

Accounts are JSON files (or - for stdin) in the protojson form of
provisioning.v1.Account, with the proto field names:

  {"id": "R-100", "type": "ACCOUNT_TYPE_RESELLER", "name": "Acme Resellers",
   "corporate_email": "it@acme.example", "contact": {"first_name": "Ana"},
   "country": "ES", "language": "es-ES"}

An end customer names its reseller in "parent_id"; the host fills in the
reseller's sync record from its store.

Output is a table for people, or -o json: the protojson form of the
HostService response, with proto field names. Secrets (tokens, sensitive
settings and values) are never printed.

` + exitCodesHelp

const rootExample = `  # Against a daemon
  export PROVCTL_HOST=127.0.0.1:7443 PROVCTL_PLUGIN=panda
  provctl plugins
  provctl options --account examples/reseller.json
  provctl sync --account examples/reseller.json --set role=Reseller --set username=acme-owner
  provctl sync-batch examples/batch.jsonl

  # No daemon: launch a plugin binary in-process
  provctl --plugin ./bin/provisioning-plugin-panda --settings panda.yaml probe`

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "provctl",
		Short:         "Drive provisioning plugins through the provisioning host",
		Long:          rootLong,
		Example:       rootExample,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.checkGlobals(cmd)
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	f := root.PersistentFlags()
	f.StringVar(&a.g.host, "host", "", "daemon address: host:port, unix:///path or a socket path (env PROVCTL_HOST; default "+defaultHost+")")
	f.StringVar(&a.g.tokenFile, "token-file", "", "file holding the daemon's bearer token (env PROVCTL_TOKEN_FILE)")
	f.StringVar(&a.g.ca, "ca", "", "CA certificate (PEM) to verify the daemon; turns TLS on")
	f.StringVar(&a.g.cert, "cert", "", "client certificate (PEM) for mTLS")
	f.StringVar(&a.g.key, "key", "", "client private key (PEM) for mTLS")
	f.StringVar(&a.g.pluginPath, "plugin", "", "local mode: launch this plugin binary instead of talking to a daemon")
	f.StringVar(&a.g.settings, "settings", "", "local mode: YAML or JSON file of the plugin's settings (values may be env:NAME or file:PATH)")
	f.StringVar(&a.g.dataDir, "data-dir", "", "local mode: keep sync records in a SQLite database in this folder (default: in memory)")
	f.StringVar(&a.g.pluginName, "plugin-name", "", "plugin to call (env PROVCTL_PLUGIN; default: the only plugin, else \"panda\", which costs a ListPlugins call)")
	f.StringVarP(&a.g.output, "output", "o", "table", "output format: table or json")
	f.DurationVar(&a.g.timeout, "timeout", 2*time.Minute, "deadline of each call (0: none)")

	root.AddCommand(
		newPluginsCmd(a),
		newInfoCmd(a),
		newProbeCmd(a),
		newOptionsCmd(a),
		newValidateCmd(a),
		newSyncCmd(a),
		newStatusCmd(a),
		newRecordsCmd(a),
		newSyncBatchCmd(a),
		newReconcileCmd(a),
		newDeleteCmd(a),
		newConformanceCmd(a),
	)
	return root
}

// checkGlobals validates the shared flags and applies the environment.
func (a *app) checkGlobals(cmd *cobra.Command) error {
	flags := cmd.Flags()
	if !slices.Contains([]string{"table", "json"}, a.g.output) {
		return usagef("-o %q: want table or json", a.g.output)
	}
	if a.g.host == "" {
		a.g.host = a.getenv("PROVCTL_HOST")
	}
	if a.g.host == "" {
		a.g.host = defaultHost
	}
	if a.g.tokenFile == "" {
		a.g.tokenFile = a.getenv("PROVCTL_TOKEN_FILE")
	}
	local := a.g.pluginPath != ""
	switch {
	case local && flags.Changed("host"):
		return usagef("--host and --plugin exclude each other: talk to a daemon or launch a plugin")
	case local && a.g.settings == "":
		return usagef("--plugin needs --settings FILE (the plugin's settings)")
	case !local && (a.g.settings != "" || a.g.dataDir != ""):
		return usagef("--settings and --data-dir only apply with --plugin")
	case local && (flags.Changed("token-file") || a.g.ca != "" || a.g.cert != "" || a.g.key != ""):
		return usagef("--token-file, --ca, --cert and --key are for a daemon, not with --plugin")
	}
	if a.g.timeout < 0 {
		return usagef("--timeout must not be negative")
	}
	return nil
}

// open connects to the daemon, or starts the in-process host in local mode.
func (a *app) open(ctx context.Context) (*session, error) {
	if a.g.pluginPath != "" {
		return a.openLocal(ctx)
	}
	conn, err := dial(connOptions{target: a.g.host, tokenFile: a.g.tokenFile, ca: a.g.ca, cert: a.g.cert, key: a.g.key})
	if err != nil {
		return nil, err
	}
	return &session{client: hostv1.NewHostServiceClient(conn), close: conn.Close}, nil
}

// callCtx bounds one call by --timeout.
func (a *app) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.g.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, a.g.timeout)
}

// pluginFor resolves --plugin-name: the flag, else the session's own plugin
// (local mode), else PROVCTL_PLUGIN, else the only plugin of the catalog,
// else "panda". Only the last two ask the daemon (ListPlugins, one more round
// trip per command): a script that runs many commands names its plugin.
//
// The answer is not cached across runs: a catalog that gained a plugin since
// would silently send writes to the old one.
func (a *app) pluginFor(ctx context.Context, s *session) (string, error) {
	if a.g.pluginName != "" {
		return a.g.pluginName, nil
	}
	if s.plugin != "" {
		return s.plugin, nil
	}
	// Read here, not with the other globals: in local mode the plugin's name
	// comes from its binary, and a daemon-side default must not override it.
	if n := strings.TrimSpace(a.getenv("PROVCTL_PLUGIN")); n != "" {
		return n, nil
	}
	resp, err := s.client.ListPlugins(ctx, &hostv1.ListPluginsRequest{})
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(resp.GetPlugins()))
	for _, p := range resp.GetPlugins() {
		names = append(names, p.GetName())
	}
	switch {
	case len(names) == 1:
		return names[0], nil
	case slices.Contains(names, "panda"):
		return "panda", nil
	case len(names) == 0:
		return "", errors.New("the daemon has no plugins in its catalog")
	}
	return "", usagef("the daemon has several plugins (%s): pass --plugin-name", strings.Join(names, ", "))
}

// command wraps a subcommand's code: it marks the run as started (so later
// errors are not usage errors), opens the session, resolves the plugin name
// when needed and closes the session at the end.
func (a *app) command(needPlugin bool, fn func(ctx context.Context, s *session, plugin string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		a.ran = true
		ctx := cmd.Context()
		s, err := a.open(ctx)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := s.Close(); cerr != nil {
				fmt.Fprintf(a.stderr, "provctl: closing: %v\n", cerr)
			}
		}()
		var plugin string
		if needPlugin {
			cctx, cancel := a.callCtx(ctx)
			plugin, err = a.pluginFor(cctx, s)
			cancel()
			if err != nil {
				return err
			}
		}
		return fn(ctx, s, plugin)
	}
}

// noArgs and oneArg are cobra.Args that fail with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

func maxOneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 1 {
			return usagef("%s takes at most one %s, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

// run is main without the process: it parses args, runs the command and
// returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, isTerminal: isTerminal}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) int {
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if !a.ran && !errors.As(err, new(usageError)) {
		// cobra's own errors: unknown command, bad arguments.
		err = usageError{err}
	}
	printError(a.stderr, err)
	if a.g.pluginPath == "" && isStatusError(err) && diag.Parse(err).Code == codes.Unavailable && strings.Contains(err.Error(), "connect") {
		// The daemon itself is not there, rather than a plugin behind it.
		fmt.Fprintf(a.stderr, "  is provisioning-host running at %s? (--host, PROVCTL_HOST)\n", a.g.host)
	}
	return exitCode(err)
}

// isTerminal reports whether w is a terminal. (A character-device check is
// not enough: /dev/null is one.)
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

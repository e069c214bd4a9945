package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/conformance"
)

// conformanceFlags are the flags of `provctl conformance`.
type conformanceFlags struct {
	fixtures      string
	repeat        int
	shortDeadline time.Duration
	skip          []string
	list          bool
}

func newConformanceCmd(a *app) *cobra.Command {
	var o conformanceFlags
	cmd := &cobra.Command{
		Use:   "conformance --plugin PATH --settings FILE --fixtures FILE",
		Short: "Run the conformance suite against a plugin binary and report each check",
		Long: `Conformance launches a plugin binary as a host would (go-plugin, gRPC with
AutoMTLS), configures it with --settings and runs the provisioning.v1
conformance suite against it: identity, configuration, the form, validation,
idempotent synchronization, the hierarchy rule, error codes, deadlines,
cancellation and secrets. It prints PASS, FAIL or SKIP per check, with what
went wrong, and exits 7 when a check failed.

The fixtures file (YAML or JSON) names the accounts the plugin can synchronize
in its test environment: a direct customer, a reseller and an end customer of
that reseller, in the protojson form of provisioning.v1.Account, plus optional
values, a state_url to read the remote state and a cleanup_url to POST at the
end. Account ids get a per-run suffix, and {{run}} in any string is replaced,
so the suite can run again and again against the same remote system. Point it
only at a test system: it creates real remote accounts.

If PROVISIONING_PLUGIN_REATTACH is set (a plugin started with --debug, say
under a debugger), the suite attaches to that plugin instead of launching
--plugin; --settings still configures it.

The plugin's log lines go to stderr; the report goes to stdout (-o json for a
machine-readable report). Secrets from --settings never appear in either.`,
		Example: `  provctl conformance --plugin ./bin/provisioning-plugin-ledger \
      --settings ledger.yaml --fixtures ledger-fixtures.yaml
  provctl conformance --plugin ./bin/provisioning-plugin-panda \
      --settings panda.yaml --fixtures plugin/conformance/testdata/panda-fixtures.yaml
  provctl conformance --list`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.list {
				for _, c := range conformance.Checks() {
					fmt.Fprintf(a.stdout, "%-30s %s\n", c.Name, c.Description)
				}
				return nil
			}
			switch {
			case a.g.pluginPath == "":
				return usagef("conformance needs --plugin PATH --settings FILE (the plugin binary and its settings)")
			case o.fixtures == "":
				return usagef("conformance needs --fixtures FILE (the accounts the plugin can synchronize)")
			}
			return a.runConformance(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.fixtures, "fixtures", "", "YAML or JSON file of the accounts to synchronize (see above)")
	f.IntVar(&o.repeat, "repeat", conformance.DefaultRepeat, "N of the idempotency checks: calls in a row, and concurrent calls")
	f.DurationVar(&o.shortDeadline, "short-deadline", conformance.DefaultShortDeadline, "deadline of the deadline check, and delay of the cancellation check")
	f.StringSliceVar(&o.skip, "skip", nil, "checks not to run (see --list)")
	f.BoolVar(&o.list, "list", false, "list the checks and exit")
	return cmd
}

func (a *app) runConformance(ctx context.Context, o conformanceFlags) error {
	name, ok := pluginNameFromPath(a.g.pluginPath)
	if a.g.pluginName != "" {
		name, ok = a.g.pluginName, true
	}
	if !ok {
		name = "plugin" // only a label here: the suite asks the plugin its name
	}
	// The same reading of the settings file (env: and file: values) as the
	// other local-mode commands.
	entry, err := localEntry(name, a.g.pluginPath, a.g.settings)
	if err != nil {
		return err
	}
	fx, err := conformance.LoadFixtures(o.fixtures)
	if err != nil {
		return usageError{err}
	}
	a.ran = true

	logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	proc, attached, err := a.conformancePlugin(entry.Path, entry.Args, entry.Env, logger)
	if err != nil {
		return err
	}
	defer proc.Kill() // never kills an attached plugin
	if attached {
		fmt.Fprintf(a.stderr, "provctl: attached to the plugin in debug mode (%s); --plugin is not launched\n", plugin.ReattachEnv)
	}
	rep, err := conformance.Check(ctx, proc.Adapter(), conformance.Config{
		Settings:      entry.Settings,
		Fixtures:      fx,
		Repeat:        o.repeat,
		ShortDeadline: o.shortDeadline,
		CallTimeout:   a.g.timeout,
		Skip:          o.skip,
		// An attached plugin may have been configured by someone else.
		Configured: attached,
	})
	if err != nil {
		return usageError{err}
	}
	if a.json() {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.WriteText(a.stdout); err != nil {
		return err
	}
	if rep.Failed() {
		return checkError{fmt.Sprintf("%d of %d conformance checks failed", rep.Count(conformance.Fail), len(rep.Results))}
	}
	return nil
}

// conformancePlugin launches the plugin binary as a host would (through
// the same [plugin.Launcher], its own process group included), or attaches
// to the plugin named in PROVISIONING_PLUGIN_REATTACH.
func (a *app) conformancePlugin(path string, args []string, env map[string]string, logger *slog.Logger) (p *plugin.Process, attached bool, err error) {
	if ri := a.getenv(plugin.ReattachEnv); ri != "" {
		info, err := plugin.ParseReattach(ri)
		if err != nil {
			return nil, false, usageError{err}
		}
		p, err := plugin.Attach(info, plugin.WithClientLogger(logger))
		return p, true, err
	}
	// A developer's run of one plugin: the shell's environment (PYTHONPATH,
	// a virtualenv) reaches it, unlike under the host's allowlist.
	p, err = plugin.NewLauncher(path, plugin.WithArgs(args...), plugin.WithEnv(env), plugin.WithHostEnv(), plugin.WithClientLogger(logger)).Start()
	return p, false, err
}

// Command pandasim serves the simulated Panda API (package pandasim) over
// HTTP, for demos, plugin development and BSS integration tests.
//
//	pandasim --listen 127.0.0.1:8085
//
// The first line on stdout is "pandasim listening on http://HOST:PORT"
// (port 0 picks a free port; read the line to learn it). Logs go to stderr.
// Credentials come from flags or from PANDASIM_ACCESS_ID, PANDASIM_PASSWORD
// and PANDASIM_API_KEY; the defaults are demo values. --root-inventory
// EPDR=500,PATCH_MANAGEMENT=200 sets the licences the root account can
// allocate (default: a million of every product). With --state FILE the
// state is loaded at start (when the file exists), saved every
// --save-interval when it changed, and saved on SIGINT/SIGTERM.
//
// The /_sim/... endpoints need no token: keep the listener on loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudbss/provisioning/internal/logging"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "pandasim:", err)
		os.Exit(1)
	}
}

type config struct {
	listen, accessID, password, apiKey, root string
	tokenTTL, txDelay, saveInterval          time.Duration
	statePath, logFormat, logLevel           string
	maxTiers                                 int
	seed                                     uint64
	faults                                   pandasim.Faults
	latency, latencyJitter                   time.Duration
	rootInventory                            map[string]int // nil: the default
}

func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("pandasim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envOr := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8085", "address to serve on; port 0 picks a free port")
	fs.StringVar(&c.accessID, "access-id", envOr("PANDASIM_ACCESS_ID", pandasim.DefaultAccessID), "OAuth access id accepted (env PANDASIM_ACCESS_ID)")
	fs.StringVar(&c.password, "password", envOr("PANDASIM_PASSWORD", pandasim.DefaultPassword), "OAuth password accepted (env PANDASIM_PASSWORD)")
	fs.StringVar(&c.apiKey, "api-key", envOr("PANDASIM_API_KEY", pandasim.DefaultAPIKey), "WatchGuard-API-Key accepted (env PANDASIM_API_KEY)")
	fs.StringVar(&c.root, "root-account", pandasim.DefaultRootAccountID, "id of the root service-provider account")
	fs.DurationVar(&c.tokenTTL, "token-ttl", pandasim.DefaultTokenTTL, "access token lifetime")
	fs.IntVar(&c.maxTiers, "max-tiers", pandasim.DefaultMaxTiers, "tiers of accounts allowed below the root")
	fs.DurationVar(&c.txDelay, "tx-delay", 0, "how long an operator transaction stays PENDING (0: settled by the next request)")
	fs.StringVar(&c.statePath, "state", "", "JSON file to load the state from and save it to")
	fs.DurationVar(&c.saveInterval, "save-interval", 5*time.Second, "with --state, how often to save a changed state")
	fs.Uint64Var(&c.seed, "seed", 1, "seed for ids and faults, to replay a run")
	fs.Float64Var(&c.faults.ErrorRate, "error-rate", 0, "fraction of API requests answered 503")
	fs.DurationVar(&c.latency, "latency", 0, "latency added to every API request")
	fs.DurationVar(&c.latencyJitter, "latency-jitter", 0, "random extra latency, up to this much")
	fs.Float64Var(&c.faults.RateLimit, "rate-limit", 0, "API requests per second before 429 (0: unlimited)")
	fs.IntVar(&c.faults.RateBurst, "rate-burst", 0, "rate-limit burst (0: the rate)")
	fs.Float64Var(&c.faults.CommitThenFailRate, "commit-then-fail", 0, "fraction of successful writes whose answer is lost")
	fs.StringVar(&c.faults.CommitThenFailMode, "commit-then-fail-mode", pandasim.CommitThenFailStatus, "status (500), cut (close the connection) or mixed")
	fs.Func("root-inventory", fmt.Sprintf("the root account's licences, PRODUCT=N,... (products left out have none; default %d of every product)", pandasim.DefaultRootQuantity), func(v string) error {
		inv, err := parseInventory(v)
		c.rootInventory = inv
		return err
	})
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.faults.Latency = pandasim.Duration(c.latency)
	c.faults.LatencyJitter = pandasim.Duration(c.latencyJitter)
	return c, nil
}

// parseInventory reads "EPDR=500,PATCH_MANAGEMENT=200". The simulator
// checks the product names.
func parseInventory(v string) (map[string]int, error) {
	inv := map[string]int{}
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, num, ok := strings.Cut(item, "=")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not PRODUCT=N with N >= 0", item)
		}
		name = strings.TrimSpace(name)
		if _, dup := inv[name]; dup {
			return nil, fmt.Errorf("%s is given twice", name)
		}
		inv[name] = n
	}
	return inv, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	c, err := parseFlags(args, stderr, getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(c.logFormat, c.logLevel, stderr)
	if err != nil {
		return err
	}
	opts := []pandasim.Option{
		pandasim.WithCredentials(c.accessID, c.password, c.apiKey),
		pandasim.WithRootAccount(c.root),
		pandasim.WithTokenTTL(c.tokenTTL),
		pandasim.WithMaxTiers(c.maxTiers),
		pandasim.WithTxDelay(c.txDelay),
		pandasim.WithSeed(c.seed),
		pandasim.WithFaults(c.faults),
		pandasim.WithLogger(log),
	}
	if c.rootInventory != nil {
		opts = append(opts, pandasim.WithRootInventory(c.rootInventory))
	}
	sim, err := pandasim.New(opts...)
	if err != nil {
		return err
	}
	if c.statePath != "" {
		switch err := sim.LoadFile(c.statePath); {
		case err == nil:
			log.Info("state loaded", "file", c.statePath)
		case errors.Is(err, fs.ErrNotExist):
			log.Info("no state file yet; starting empty", "file", c.statePath)
		default:
			return err
		}
	}

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "pandasim listening on http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	srv := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	saved := sim.Version()
	save := func() {
		if c.statePath == "" {
			return
		}
		v := sim.Version()
		if v == saved {
			return
		}
		if err := sim.SaveFile(c.statePath); err != nil {
			log.Error("saving state failed", "err", err)
			return
		}
		saved = v
	}
	var tick <-chan time.Time
	if c.statePath != "" && c.saveInterval > 0 {
		t := time.NewTicker(c.saveInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			save()
		case err := <-serveErr:
			save()
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
			log.Info("shutting down")
			shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := srv.Shutdown(shutCtx)
			cancel()
			save()
			if err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			return nil
		}
	}
}

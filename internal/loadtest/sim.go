package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudbss/provisioning/internal/pandasim"
)

// Credentials are what pandasim accepts and the plugin is configured with.
// Tests use random values so that a leak is found by searching the logs.
type Credentials struct {
	AccessID, Password, APIKey string
}

// SimConfig configures [StartSim].
type SimConfig struct {
	Credentials Credentials
	// Faults are set with flags at start; [Sim.SetFaults] changes them later.
	Faults pandasim.Faults
	// Seed for ids and fault decisions. Default 1.
	Seed uint64
	// LogLevel of the simulator: "info" logs every request. Default "warn".
	LogLevel string
	Logs     *Logs
	// Args are extra flags.
	Args []string
}

// Sim is a running pandasim.
type Sim struct {
	*Process
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string
	hc  *http.Client
}

// StartSim starts pandasim on a free loopback port. Credentials travel in
// the environment, not on the command line.
func StartSim(ctx context.Context, bin string, c SimConfig) (*Sim, error) {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.LogLevel == "" {
		c.LogLevel = "warn"
	}
	f := c.Faults
	args := []string{"--listen", "127.0.0.1:0", "--seed", strconv.FormatUint(c.Seed, 10), "--log-level", c.LogLevel,
		"--error-rate", ftoa(f.ErrorRate), "--commit-then-fail", ftoa(f.CommitThenFailRate),
		"--rate-limit", ftoa(f.RateLimit), "--rate-burst", strconv.Itoa(f.RateBurst),
		"--latency", time.Duration(f.Latency).String(), "--latency-jitter", time.Duration(f.LatencyJitter).String(),
	}
	if f.CommitThenFailMode != "" {
		args = append(args, "--commit-then-fail-mode", f.CommitThenFailMode)
	}
	args = append(args, c.Args...)
	var env []string
	if c.Credentials.AccessID != "" {
		env = append(env, "PANDASIM_ACCESS_ID="+c.Credentials.AccessID, "PANDASIM_PASSWORD="+c.Credentials.Password, "PANDASIM_API_KEY="+c.Credentials.APIKey)
	}
	p, err := Start(ctx, ProcessSpec{Name: "pandasim", Path: bin, Args: args, Env: env, Logs: c.Logs})
	if err != nil {
		return nil, err
	}
	return &Sim{Process: p, URL: p.Addr, hc: &http.Client{Timeout: time.Minute}}, nil
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Stats reads /_sim/stats.
func (s *Sim) Stats(ctx context.Context) (pandasim.Stats, error) {
	var st pandasim.Stats
	err := s.call(ctx, http.MethodGet, "/_sim/stats", nil, &st)
	return st, err
}

// State reads /_sim/state.
func (s *Sim) State(ctx context.Context) (pandasim.Snapshot, error) {
	var st pandasim.Snapshot
	err := s.call(ctx, http.MethodGet, "/_sim/state", nil, &st)
	return st, err
}

// SetFaults replaces the faults in force (the zero value clears them).
func (s *Sim) SetFaults(ctx context.Context, f pandasim.Faults) error {
	return s.call(ctx, http.MethodPut, "/_sim/faults", f, nil)
}

// Reset brings the simulator back to the root account alone, stats zeroed.
func (s *Sim) Reset(ctx context.Context) error {
	return s.call(ctx, http.MethodPost, "/_sim/reset", nil, nil)
}

func (s *Sim) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
	if err != nil {
		return err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("pandasim %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("pandasim %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

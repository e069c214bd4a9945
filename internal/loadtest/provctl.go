package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"time"

	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // so that result lines with error details decode
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// BatchOptions configures [SyncBatch].
type BatchOptions struct {
	// Concurrency is provctl's --concurrency (0: the host's default).
	Concurrency int
	// ChunkSize is provctl's --chunk-size (0: provctl's default).
	ChunkSize int
	// Auto passes --auto (fill missing values from their defaults).
	Auto bool
	// TokenFile is the daemon's bearer token file, if it needs one.
	TokenFile string
	// Timeout is provctl's per-call --timeout (0: provctl's default).
	Timeout time.Duration
	// Logs receives provctl's stderr, and its stdout (a JSON line per
	// account) when LogResults is set.
	Logs       *Logs
	LogResults bool
}

// BatchResult counts the outcomes of one provctl sync-batch run.
type BatchResult struct {
	Synced, Created, Skipped, Failed int
	// Codes counts the gRPC codes of failures and skips.
	Codes map[string]int
	// NotSynced lists the ids that failed or were skipped.
	NotSynced []string
	Elapsed   time.Duration
	// CPU is provctl's user + system CPU time.
	CPU time.Duration
	// ExitCode is provctl's: 0 all synced, 7 some failed or skipped.
	ExitCode int
}

// Total is the number of results.
func (r BatchResult) Total() int { return r.Synced + r.Skipped + r.Failed }

// String summarises the result.
func (r BatchResult) String() string {
	s := fmt.Sprintf("%d synced (%d created), %d skipped, %d failed in %s", r.Synced, r.Created, r.Skipped, r.Failed, r.Elapsed.Round(time.Millisecond))
	if len(r.Codes) > 0 {
		keys := make([]string, 0, len(r.Codes))
		for k := range r.Codes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s += " codes:"
		for _, k := range keys {
			s += " " + k + "=" + strconv.Itoa(r.Codes[k])
		}
	}
	return s
}

// SyncBatch runs `provctl sync-batch FILE -o json` against the daemon at
// addr and counts the results as they stream out. A run whose accounts
// failed is not an error (provctl exits 7): the counts say it. An error is
// provctl failing as a whole, or ctx ending.
func SyncBatch(ctx context.Context, provctl, addr, file string, o BatchOptions) (BatchResult, error) {
	args := []string{"--host", addr, "-o", "json", "sync-batch", file, "--no-progress"}
	if o.Concurrency > 0 {
		args = append(args, "--concurrency", strconv.Itoa(o.Concurrency))
	}
	if o.ChunkSize > 0 {
		args = append(args, "--chunk-size", strconv.Itoa(o.ChunkSize))
	}
	if o.Auto {
		args = append(args, "--auto")
	}
	if o.TokenFile != "" {
		args = append(args, "--token-file", o.TokenFile)
	}
	if o.Timeout > 0 {
		args = append(args, "--timeout", o.Timeout.String())
	}
	cmd := exec.CommandContext(ctx, provctl, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return BatchResult{}, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return BatchResult{}, err
	}
	res := BatchResult{Codes: map[string]int{}}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	errDone := make(chan struct{})
	go func() {
		defer close(errDone)
		o.Logs.Copy("provctl", stderr)
	}()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var badLines int
	for sc.Scan() {
		line := sc.Bytes()
		if o.LogResults {
			o.Logs.Line("provctl", string(line))
		}
		var r hostv1.SynchronizeBatchResponse
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(line, &r); err != nil {
			badLines++
			continue
		}
		switch r.GetOutcome() {
		case hostv1.Outcome_OUTCOME_SYNCED:
			res.Synced++
			if r.GetCreated() {
				res.Created++
			}
			continue
		case hostv1.Outcome_OUTCOME_SKIPPED:
			res.Skipped++
		default:
			res.Failed++
		}
		res.Codes[codes.Code(r.GetError().GetCode()).String()]++
		res.NotSynced = append(res.NotSynced, r.GetAccountId())
	}
	<-errDone
	err = cmd.Wait()
	res.Elapsed = time.Since(start)
	if ps := cmd.ProcessState; ps != nil {
		res.CPU = ps.UserTime() + ps.SystemTime()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitCode = ee.ExitCode()
		if res.ExitCode == 7 {
			err = nil
		}
	}
	if err != nil {
		return res, fmt.Errorf("provctl sync-batch: %w\n%s", err, o.Logs.Tail("provctl", 10))
	}
	if badLines > 0 {
		return res, fmt.Errorf("provctl sync-batch: %d output lines were not results", badLines)
	}
	return res, nil
}

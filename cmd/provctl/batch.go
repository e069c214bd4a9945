package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// Chunking keeps memory flat and each request well under gRPC's default 4 MiB
// message limit, whatever the file size.
const (
	defaultChunkItems = 2000
	maxChunkBytes     = 2 << 20
)

type batchFlags struct {
	concurrency int32
	auto        bool
	chunkItems  int
	noProgress  bool
}

func newSyncBatchCmd(a *app) *cobra.Command {
	var bf batchFlags
	cmd := &cobra.Command{
		Use:   "sync-batch FILE",
		Short: "Synchronize many accounts from a JSON lines file",
		Long: `Sync-batch synchronizes every account of FILE (or - for stdin): one JSON
object per line, {"account": {...}, "values": {...}}. Blank lines and lines
starting with # are skipped.

Within a chunk the host orders parents before children, whatever the order of
the lines, and skips the end customers of a reseller that failed. The file is
streamed: chunks of --chunk-size accounts are sent one after the other, in file
order, so memory stays flat however large the file. A reseller must therefore
come before its end customers when they are more than a chunk apart (the host
finds a parent synced by an earlier chunk in its store), and provctl skips the
end customers of a reseller that failed in an earlier chunk.

Results: one JSON line per account on stdout (-o json, or when stdout is not a
terminal), or a readable line per account on a terminal; a progress bar on
stderr when stderr is a terminal; a summary at the end. It exits 7 when an
account failed or was skipped. A malformed line is reported as a failed result
naming the line, and the rest of the file still runs.

The batch has no deadline unless --timeout is given: then it bounds each chunk.`,
		Example: `  provctl sync-batch examples/batch.jsonl
  provctl sync-batch accounts.jsonl --auto --concurrency 16 > results.jsonl
  generate-accounts | provctl sync-batch - -o json | jq 'select(.outcome != "OUTCOME_SYNCED")'`,
	}
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("sync-batch needs one FILE (or - for stdin), got %d arguments", len(args))
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		jsonLines := a.json() || (!c.Flags().Changed("output") && !a.isTerminal(a.stdout))
		timeout := time.Duration(0)
		if c.Flags().Changed("timeout") {
			timeout = a.g.timeout
		}
		return a.command(true, func(ctx context.Context, s *session, plugin string) error {
			return a.syncBatch(ctx, s, plugin, args[0], bf, jsonLines, timeout)
		})(c, args)
	}
	f := cmd.Flags()
	f.Int32Var(&bf.concurrency, "concurrency", 0, "synchronize calls at once (default: the host's, 8; at most 64)")
	f.BoolVar(&bf.auto, "auto", false, "fill every missing value from its default (the storefront path)")
	f.IntVar(&bf.chunkItems, "chunk-size", defaultChunkItems, "accounts per SynchronizeBatch call")
	f.BoolVar(&bf.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	return cmd
}

// batchRun is the state of one sync-batch: the output and the counts.
type batchRun struct {
	a         *app
	jsonLines bool
	bar       *progress
	sum       summary
	// failed holds the ids of accounts that failed or were skipped, so their
	// children in later chunks are skipped too. It grows with failures only.
	failed map[string]bool
}

type summary struct {
	synced, created, skipped, failed int
	start                            time.Time
}

func (s summary) total() int { return s.synced + s.skipped + s.failed }

func (s summary) String() string {
	return fmt.Sprintf("%d accounts: %d synced (%d created), %d skipped, %d failed in %s",
		s.total(), s.synced, s.created, s.skipped, s.failed, time.Since(s.start).Round(time.Millisecond))
}

func (a *app) syncBatch(ctx context.Context, s *session, plugin, path string, bf batchFlags, jsonLines bool, timeout time.Duration) error {
	switch {
	case bf.concurrency < 0:
		return usagef("--concurrency must not be negative")
	case bf.chunkItems < 1:
		return usagef("--chunk-size must be at least 1")
	}
	in, name := a.stdin, "(stdin)"
	total := 0
	showBar := !bf.noProgress && a.isTerminal(a.stderr)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return usageError{err}
		}
		defer f.Close()
		in, name = f, path
		if showBar {
			if total, err = countItems(f); err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
		}
	}
	br := &batchRun{a: a, jsonLines: jsonLines, failed: map[string]bool{}, sum: summary{start: time.Now()}}
	if showBar {
		br.bar = newProgress(a.stderr, total)
	}
	if !jsonLines {
		fmt.Fprintf(a.stdout, "%-20s %-8s %-14s %s\n", "ACCOUNT", "OUTCOME", "REMOTE ID", "DETAIL")
	}
	err := br.sendAll(ctx, s, plugin, newBatchReader(in, name), bf, timeout)
	br.bar.finish()
	sumOut := a.stdout
	if jsonLines {
		sumOut = a.stderr
	}
	fmt.Fprintf(sumOut, "Summary: %s\n", br.sum)
	if err != nil {
		return err
	}
	if n := br.sum.failed + br.sum.skipped; n > 0 {
		return checkError{fmt.Sprintf("%d account(s) failed or were skipped", n)}
	}
	return nil
}

// sendAll reads the file and sends it chunk by chunk, in file order.
func (br *batchRun) sendAll(ctx context.Context, s *session, plugin string, r *batchReader, bf batchFlags, timeout time.Duration) error {
	chunk := make([]*hostv1.BatchItem, 0, min(bf.chunkItems, defaultChunkItems))
	size := 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := br.sendChunk(ctx, s, &hostv1.SynchronizeBatchRequest{Plugin: plugin, Items: chunk, Concurrency: bf.concurrency, AutoFill: bf.auto}, timeout)
		clear(chunk)
		chunk, size = chunk[:0], 0
		return err
	}
	for {
		item, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *lineError
		if errors.As(err, &le) {
			if err := br.result(&hostv1.SynchronizeBatchResponse{
				Outcome: hostv1.Outcome_OUTCOME_FAILED,
				Error:   &status.Status{Code: int32(codes.InvalidArgument), Message: le.Error()},
			}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		// Send a full chunk before looking at this item: its parent may be in
		// that chunk and fail.
		n := proto.Size(item)
		if len(chunk) > 0 && (len(chunk) >= bf.chunkItems || size+n > maxChunkBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		id, parent := item.GetAccount().GetId(), item.GetAccount().GetParentId()
		if parent != "" && br.failed[parent] {
			if err := br.result(&hostv1.SynchronizeBatchResponse{
				AccountId: id,
				Outcome:   hostv1.Outcome_OUTCOME_SKIPPED,
				Error: &status.Status{Code: int32(codes.FailedPrecondition),
					Message: fmt.Sprintf("not sent: its parent %s failed or was skipped earlier in the batch", parent)},
			}); err != nil {
				return err
			}
			continue
		}
		chunk = append(chunk, item)
		size += n
	}
	return flush()
}

// sendChunk makes one SynchronizeBatch call and reports its results as they
// stream in.
func (br *batchRun) sendChunk(ctx context.Context, s *session, req *hostv1.SynchronizeBatchRequest, timeout time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	stream, err := s.client.SynchronizeBatch(ctx, req)
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := br.result(resp); err != nil {
			return err
		}
	}
}

// result counts and prints one account's result.
func (br *batchRun) result(r *hostv1.SynchronizeBatchResponse) error {
	switch r.GetOutcome() {
	case hostv1.Outcome_OUTCOME_SYNCED:
		br.sum.synced++
		if r.GetCreated() {
			br.sum.created++
		}
	case hostv1.Outcome_OUTCOME_SKIPPED:
		br.sum.skipped++
		br.failed[r.GetAccountId()] = true
	default:
		br.sum.failed++
		br.failed[r.GetAccountId()] = true
	}
	if br.jsonLines {
		redactRecord(r.GetRecord())
		if err := writeJSONLine(br.a.stdout, r); err != nil {
			return err
		}
	} else {
		br.bar.clear()
		if _, err := fmt.Fprintln(br.a.stdout, resultLine(r)); err != nil {
			return err
		}
	}
	br.bar.update(br.sum)
	return nil
}

// resultLine is one readable line per account.
func resultLine(r *hostv1.SynchronizeBatchResponse) string {
	detail := ""
	switch {
	case r.GetError() != nil:
		detail = codeName(codes.Code(r.GetError().GetCode())) + ": " + oneLine(r.GetError().GetMessage())
	case r.GetOutcome() == hostv1.Outcome_OUTCOME_SYNCED && r.GetCreated():
		detail = "created, " + statusName(r.GetRecord().GetStatus())
	case r.GetOutcome() == hostv1.Outcome_OUTCOME_SYNCED:
		detail = "already synchronized, " + statusName(r.GetRecord().GetStatus())
	}
	return fmt.Sprintf("%-20s %-8s %-14s %s", cell(r.GetAccountId()), outcomeName(r.GetOutcome()), cell(r.GetRecord().GetRemoteId()), cell(detail))
}

// countItems counts the item lines of a regular file for the progress bar,
// then rewinds it. Other inputs (pipes) have no known total.
func countItems(f *os.File) (int, error) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0, nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxBatchLine)
	n := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) > 0 && line[0] != '#' {
			n++
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return 0, err
	}
	_, err = f.Seek(0, io.SeekStart)
	return n, err
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Concurrency of subscribe-batch. The host has no batch RPC for orders, so
// the bound is provctl's: enough calls in flight to hide the round trip,
// few enough not to crowd the host's per-plugin limits.
const (
	defaultOrderConcurrency = 8
	maxOrderConcurrency     = 64
)

func newSubscribeBatchCmd(a *app) *cobra.Command {
	var (
		concurrency int
		check       bool
	)
	cmd := &cobra.Command{
		Use:   "subscribe-batch FILE",
		Short: "Provision many subscriptions from a JSON lines file",
		Long: `Subscribe-batch provisions every subscription of FILE (or - for stdin): one
JSON object per line, each the protojson form of provisioning.v1.Subscription
as "provctl subscribe" reads it. Blank lines and lines starting with # are
skipped. It is the storefront import: the file is streamed, and up to
--concurrency ProvisionSubscription calls run at once; lines naming the same
subscription id are applied one after the other, in file order, so the last
line wins as it would one by one. Every call is idempotent: running the file
again converges to the same state.

With --check every line goes through ValidateSubscription instead, and nothing
changes; a line with an error diagnostic counts as failed.

Results: one JSON line per subscription on stdout (-o json, or when stdout is
not a terminal), in the order the calls finish, each naming its line; a
readable line per subscription on a terminal; a summary at the end (on stderr
with JSON lines). It exits 7 when a subscription failed. A malformed line is
reported as a failed result naming the line, and the rest of the file still
runs. --timeout bounds each call.`,
		Example: `  provctl subscribe-batch examples/orders/orders.jsonl
  provctl subscribe-batch orders.jsonl > results.jsonl
  provctl subscribe-batch orders.jsonl --check
  export-orders | provctl subscribe-batch - -o json | jq 'select(.outcome == "failed")'`,
		Args: exactArgs(1, "one FILE (or - for stdin)"),
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		jsonLines := a.json() || (!c.Flags().Changed("output") && !a.isTerminal(a.stdout))
		return a.command(true, func(ctx context.Context, s *session, plugin string) error {
			if concurrency < 1 || concurrency > maxOrderConcurrency {
				return usagef("--concurrency must be between 1 and %d", maxOrderConcurrency)
			}
			return a.subscribeBatch(ctx, s, plugin, args[0], concurrency, check, jsonLines)
		})(c, args)
	}
	f := cmd.Flags()
	f.IntVar(&concurrency, "concurrency", defaultOrderConcurrency, fmt.Sprintf("calls at once (at most %d)", maxOrderConcurrency))
	f.BoolVar(&check, "check", false, "only validate each line (ValidateSubscription): change nothing")
	return cmd
}

// orderResult is one line's result, one JSON line of subscribe-batch.
type orderResult struct {
	Line           int    `json:"line"`
	SubscriptionID string `json:"subscription_id,omitempty"`
	// Outcome is "provisioned", "valid" (with --check) or "failed".
	Outcome string `json:"outcome"`
	Created bool   `json:"created,omitempty"`
	Updated bool   `json:"updated,omitempty"`
	// Record is the protojson SubscriptionRecord, as "subscribe -o json".
	Record json.RawMessage `json:"record,omitempty"`
	// Diagnostics are the protojson diagnostics (warnings, or --check's).
	Diagnostics []json.RawMessage `json:"diagnostics,omitempty"`
	// Error is the protojson google.rpc.Status of a failure, with its
	// details (reason, field violations).
	Error json.RawMessage `json:"error,omitempty"`

	rec *provisioningv1.SubscriptionRecord
	err *status.Status
}

type orderSummary struct {
	ok, created, updated, failed int
	start                        time.Time
}

func (s orderSummary) String() string {
	return fmt.Sprintf("%d subscriptions: %d ok (%d created, %d updated), %d failed in %s",
		s.ok+s.failed, s.ok, s.created, s.updated, s.failed, time.Since(s.start).Round(time.Millisecond))
}

// orderBatch is the state of one subscribe-batch run.
type orderBatch struct {
	a         *app
	s         *session
	plugin    string
	check     bool
	jsonLines bool

	mu  sync.Mutex // guards sum, the output and last
	sum orderSummary
	// last maps a subscription id to the done channel of its latest line
	// still in flight, so a later line of the same id waits for it. Entries
	// leave when their line finishes: the map holds in-flight ids only.
	last map[string]chan struct{}
}

func (a *app) subscribeBatch(ctx context.Context, s *session, plugin, path string, concurrency int, check, jsonLines bool) error {
	in, name := a.stdin, "(stdin)"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return usageError{err}
		}
		defer f.Close()
		in, name = f, path
	}
	b := &orderBatch{a: a, s: s, plugin: plugin, check: check, jsonLines: jsonLines,
		sum: orderSummary{start: time.Now()}, last: map[string]chan struct{}{}}
	if !jsonLines {
		fmt.Fprintf(a.stdout, "%-5s %-20s %-11s %-10s %s\n", "LINE", "SUBSCRIPTION", "OUTCOME", "STATUS", "DETAIL")
	}
	err := b.run(ctx, in, name, concurrency)
	sumOut := a.stdout
	if jsonLines {
		sumOut = a.stderr
	}
	fmt.Fprintf(sumOut, "Summary: %s\n", b.sum)
	if err != nil {
		return err
	}
	if b.sum.failed > 0 {
		return checkError{fmt.Sprintf("%d subscription(s) failed", b.sum.failed)}
	}
	return nil
}

// run reads the file line by line and keeps up to concurrency calls in
// flight. Reading stops at the first error writing a result.
func (b *orderBatch) run(ctx context.Context, in io.Reader, name string, concurrency int) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxBatchLine)
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		sub, err := decodeSubscription(text)
		if err != nil {
			b.report(cancel, &orderResult{Line: line, Outcome: "failed",
				err: status.New(codes.InvalidArgument, fmt.Sprintf("%s:%d: %v", name, line, err))})
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		// A slot is taken before waiting for an earlier line of the same id:
		// that line already holds a slot or is done, so the chain always
		// moves and at most concurrency calls are ever in flight.
		b.mu.Lock()
		prev := b.last[sub.GetId()]
		done := make(chan struct{})
		b.last[sub.GetId()] = done
		b.mu.Unlock()
		wg.Add(1)
		go func(line int, sub *provisioningv1.Subscription) {
			defer wg.Done()
			defer func() { <-slots }()
			defer func() {
				b.mu.Lock()
				if b.last[sub.GetId()] == done {
					delete(b.last, sub.GetId())
				}
				b.mu.Unlock()
				close(done)
			}()
			if prev != nil {
				select {
				case <-prev:
				case <-ctx.Done():
					return
				}
			}
			b.report(cancel, b.call(ctx, line, sub))
		}(line, sub)
	}
	if err := sc.Err(); err != nil {
		// The calls in flight finish and report: they were sent.
		wg.Wait()
		if errors.Is(err, bufio.ErrTooLong) {
			return usagef("%s:%d: line longer than %d bytes", name, line+1, maxBatchLine)
		}
		return fmt.Errorf("read %s: %w", name, err)
	}
	wg.Wait()
	return context.Cause(ctx)
}

// call provisions (or validates) one subscription.
func (b *orderBatch) call(ctx context.Context, line int, sub *provisioningv1.Subscription) *orderResult {
	res := &orderResult{Line: line, SubscriptionID: sub.GetId()}
	ctx, cancel := b.a.callCtx(ctx)
	defer cancel()
	if b.check {
		resp, err := b.s.client.ValidateSubscription(ctx, &hostv1.ValidateSubscriptionRequest{Plugin: b.plugin, Request: &provisioningv1.ValidateSubscriptionRequest{Subscription: sub}})
		if err != nil {
			res.Outcome, res.err = "failed", status.Convert(err)
			return res
		}
		ds := resp.GetResponse().GetDiagnostics()
		res.Outcome = "valid"
		if n := len(diag.Errors(ds)); n > 0 {
			res.Outcome, res.err = "failed", status.New(codes.InvalidArgument, fmt.Sprintf("validation found %d error(s): %s", n, diagnosticSummary(ds)))
		}
		res.Diagnostics = marshalDiagnostics(ds)
		return res
	}
	resp, err := b.s.client.ProvisionSubscription(ctx, &hostv1.ProvisionSubscriptionRequest{Plugin: b.plugin, Request: &provisioningv1.ProvisionSubscriptionRequest{Subscription: sub}})
	if err != nil {
		res.Outcome, res.err = "failed", status.Convert(err)
		return res
	}
	r := resp.GetResponse()
	res.Outcome, res.Created, res.Updated = "provisioned", r.GetCreated(), r.GetUpdated()
	res.rec = proto.CloneOf(r.GetRecord())
	redactSubscriptionRecord(res.rec)
	res.Diagnostics = marshalDiagnostics(r.GetDiagnostics())
	return res
}

// report counts and prints one result. A write error stops the batch: the
// results would be lost.
func (b *orderBatch) report(stop context.CancelCauseFunc, r *orderResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Outcome == "failed" {
		b.sum.failed++
	} else {
		b.sum.ok++
		if r.Created {
			b.sum.created++
		} else if r.Updated {
			b.sum.updated++
		}
	}
	var err error
	if b.jsonLines {
		err = writeOrderResult(b.a.stdout, r)
	} else {
		_, err = fmt.Fprintln(b.a.stdout, orderLine(r))
	}
	if err != nil {
		stop(fmt.Errorf("write results: %w", err))
	}
}

func writeOrderResult(w io.Writer, r *orderResult) error {
	var err error
	if r.rec != nil {
		if r.Record, err = jsonLineOptions.Marshal(r.rec); err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
	}
	if r.err != nil {
		if r.Error, err = jsonLineOptions.Marshal(r.err.Proto()); err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = w.Write(append(line, '\n'))
	return err
}

// orderLine is one readable line per subscription.
func orderLine(r *orderResult) string {
	detail := ""
	switch {
	case r.err != nil:
		detail = codeName(r.err.Code()) + ": " + oneLine(r.err.Message())
	case r.Created:
		detail = fmt.Sprintf("created, %s x%d", r.rec.GetProductId(), r.rec.GetQuantity())
	case r.Updated:
		detail = fmt.Sprintf("updated, %s x%d", r.rec.GetProductId(), r.rec.GetQuantity())
	case r.rec != nil:
		detail = "unchanged (idempotent replay)"
	case len(r.Diagnostics) > 0:
		detail = fmt.Sprintf("%d warning(s)", len(r.Diagnostics))
	}
	st := none
	if r.rec != nil {
		st = subscriptionStatusName(r.rec.GetStatus())
	}
	return fmt.Sprintf("%-5d %-20s %-11s %-10s %s", r.Line, cell(r.SubscriptionID), r.Outcome, st, cell(detail))
}

// diagnosticSummary names the error diagnostics' fields and codes on one line.
func diagnosticSummary(ds []*provisioningv1.Diagnostic) string {
	var b bytes.Buffer
	for i, d := range diag.Errors(ds) {
		if i > 0 {
			b.WriteString("; ")
		}
		if d.GetField() != "" {
			b.WriteString(d.GetField() + ": ")
		}
		fmt.Fprintf(&b, "%s [%s]", oneLine(d.GetSummary()), d.GetCode())
	}
	return b.String()
}

func marshalDiagnostics(ds []*provisioningv1.Diagnostic) []json.RawMessage {
	if len(ds) == 0 {
		return nil
	}
	out := make([]json.RawMessage, 0, len(ds))
	for _, d := range ds {
		b, err := jsonLineOptions.Marshal(d)
		if err != nil {
			continue // a Diagnostic has no field protojson cannot encode
		}
		out = append(out, b)
	}
	return out
}

package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
)

// Order is the desired state of one generated subscription: a base product
// for a customer, with at most one add-on module.
type Order struct {
	ID, AccountID, Product string
	Quantity               int
	// Addon is the add-on product ("" for none); AddonQuantity never
	// exceeds Quantity, as the contract requires.
	Addon         string
	AddonQuantity int
}

// orderProducts are the base products orders draw from.
var orderProducts = []string{"EPP", "EDR", "EPDR", "ADVANCED_EPDR"}

// maxOrderQuantity bounds a generated quantity: small enough that a
// reseller's stock stays readable, large enough that quantities differ.
const maxOrderQuantity = 50

// Orders returns one order for each customer of h (end customers and
// direct customers; resellers order nothing, their stock is topped up by
// their customers' orders), in h's file order, drawn from rng: a base
// product, 1 to 50 licences, and for about half of them PATCH_MANAGEMENT
// for some of those licences.
func Orders(h Hierarchy, rng *rand.Rand) []Order {
	var out []Order
	h.Each(func(a Account) {
		if a.Reseller {
			return
		}
		o := Order{ID: "S-" + a.ID, AccountID: a.ID, Product: orderProducts[rng.IntN(len(orderProducts))], Quantity: 1 + rng.IntN(maxOrderQuantity)}
		if rng.IntN(2) == 0 {
			o.Addon, o.AddonQuantity = "PATCH_MANAGEMENT", 1+rng.IntN(o.Quantity)
		}
		out = append(out, o)
	})
	return out
}

// Resize returns o with a new quantity drawn from rng (a set, not an
// increment: it may grow or shrink), the add-on's kept within it.
func (o Order) Resize(rng *rand.Rand) Order {
	o.Quantity = 1 + rng.IntN(maxOrderQuantity)
	if o.Addon != "" {
		o.AddonQuantity = 1 + rng.IntN(o.Quantity)
	}
	return o
}

// Line is the subscribe-batch line of o: the protojson Subscription.
func (o Order) Line() string {
	addons := ""
	if o.Addon != "" {
		addons = fmt.Sprintf(`, "addons": [{"id": %q, "product_id": %q, "quantity": %d}]`, o.ID+"-A", o.Addon, o.AddonQuantity)
	}
	return fmt.Sprintf(`{"id": %q, "account_id": %q, "product_id": %q, "quantity": %d%s}`, o.ID, o.AccountID, o.Product, o.Quantity, addons)
}

// WriteOrders writes orders as subscribe-batch JSON lines to path.
func WriteOrders(path string, orders []Order) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	for _, o := range orders {
		if _, err := bw.WriteString(o.Line() + "\n"); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// OrderBatchResult counts the outcomes of one provctl subscribe-batch run.
type OrderBatchResult struct {
	Provisioned, Created, Updated, Failed int
	// Codes counts the gRPC codes of failures.
	Codes map[string]int
	// FailedLines lists the 1-based file lines that failed, in the order
	// the results came.
	FailedLines []int
	Elapsed     time.Duration
	// CPU is provctl's user + system CPU time.
	CPU time.Duration
	// ExitCode is provctl's: 0 all provisioned, 7 some failed.
	ExitCode int
}

// Total is the number of results.
func (r OrderBatchResult) Total() int { return r.Provisioned + r.Failed }

// String summarises the result.
func (r OrderBatchResult) String() string {
	s := fmt.Sprintf("%d provisioned (%d created, %d updated), %d failed in %s", r.Provisioned, r.Created, r.Updated, r.Failed, r.Elapsed.Round(time.Millisecond))
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

// orderResultLine is the part of a subscribe-batch JSON result line that
// is counted.
type orderResultLine struct {
	Line           int    `json:"line"`
	SubscriptionID string `json:"subscription_id"`
	Outcome        string `json:"outcome"`
	Created        bool   `json:"created"`
	Updated        bool   `json:"updated"`
	Error          *struct {
		Code int `json:"code"`
	} `json:"error"`
}

// OrderBatchOptions configures [SubscribeBatch]: of BatchOptions only
// Concurrency, TokenFile, Timeout, Logs and LogResults apply.
type OrderBatchOptions struct {
	BatchOptions
	// OnResult, if set, is called after each result is counted, while
	// provctl runs: a chaos test times its faults by the batch's progress.
	OnResult func()
}

// SubscribeBatch runs `provctl subscribe-batch FILE -o json` against the
// daemon at addr and counts the results. A run whose orders failed is not
// an error (provctl exits 7): the counts say it.
func SubscribeBatch(ctx context.Context, provctl, addr, file string, o OrderBatchOptions) (OrderBatchResult, error) {
	args := []string{"--host", addr, "-o", "json", "subscribe-batch", file}
	if o.Concurrency > 0 {
		args = append(args, "--concurrency", strconv.Itoa(o.Concurrency))
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
		return OrderBatchResult{}, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return OrderBatchResult{}, err
	}
	res := OrderBatchResult{Codes: map[string]int{}}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	errDone := make(chan struct{})
	go func() {
		defer close(errDone)
		if o.Logs != nil {
			o.Logs.Copy("provctl", stderr)
		} else {
			_, _ = io.Copy(io.Discard, stderr)
		}
	}()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var badLines int
	for sc.Scan() {
		line := sc.Bytes()
		if o.LogResults && o.Logs != nil {
			o.Logs.Line("provctl", string(line))
		}
		var r orderResultLine
		if err := json.Unmarshal(line, &r); err != nil || r.Outcome == "" {
			badLines++
			continue
		}
		if o.OnResult != nil {
			o.OnResult()
		}
		if r.Outcome == "provisioned" {
			res.Provisioned++
			if r.Created {
				res.Created++
			} else if r.Updated {
				res.Updated++
			}
			continue
		}
		res.Failed++
		code := codes.Unknown
		if r.Error != nil {
			code = codes.Code(r.Error.Code)
		}
		res.Codes[code.String()]++
		res.FailedLines = append(res.FailedLines, r.Line)
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
		tail := ""
		if o.Logs != nil {
			tail = o.Logs.Tail("provctl", 10)
		}
		return res, fmt.Errorf("provctl subscribe-batch: %w\n%s", err, tail)
	}
	if badLines > 0 {
		return res, fmt.Errorf("provctl subscribe-batch: %d output lines were not results", badLines)
	}
	return res, nil
}

// SubscribeBatch runs provctl subscribe-batch of file against the daemon.
func (s *Stack) SubscribeBatch(ctx context.Context, file string, o OrderBatchOptions) (OrderBatchResult, error) {
	if o.TokenFile == "" {
		o.TokenFile = s.cfg.Host.TokenFile
	}
	if o.Logs == nil {
		o.Logs = s.cfg.Logs
	}
	return SubscribeBatch(ctx, s.cfg.Bins.Provctl, s.Host.Addr, file, o)
}

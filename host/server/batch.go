package server

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// noParent marks an item whose parent is not in the batch.
const noParent = -1

// batch is one SynchronizeBatch run. Items form a forest through parent_id:
// roots are sent first, and a child is queued only once its parent's fresh
// record is stored, with that record threaded into its ancestors.
type batch struct {
	s      *server
	plugin string
	req    *hostv1.SynchronizeBatchRequest
	send   func(*hostv1.SynchronizeBatchResponse) error

	// children[i] are the batch indexes of item i's children. An item's
	// slot in req.Items is cleared once its result is sent, so memory held
	// per item drops as the batch proceeds.
	children [][]int32

	mu        sync.Mutex
	cond      *sync.Cond
	queue     []task
	remaining int // items without a result yet
	sendErr   error
	sendMu    sync.Mutex
}

type task struct {
	idx       int32
	ancestors []*provisioningv1.Ancestor // from the batch; nil: caller's or store's
}

// SynchronizeBatch synchronizes many accounts, parents first, streaming one
// result per item as it completes.
func (s *server) SynchronizeBatch(req *hostv1.SynchronizeBatchRequest, stream hostv1.HostService_SynchronizeBatchServer) error {
	if _, err := s.recs.Plugin(req.GetPlugin()); err != nil {
		return err
	}
	if len(req.GetItems()) == 0 {
		return diag.InvalidArgument("items", diag.CodeRequired, "the batch has no items")
	}
	n := int(req.GetConcurrency())
	switch {
	case n < 0:
		return diag.InvalidArgument("concurrency", diag.CodeInvalidValue, "concurrency must not be negative")
	case n == 0:
		n = s.opts.defaultConcurrency
	case n > s.opts.maxConcurrency:
		n = s.opts.maxConcurrency
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	b := &batch{s: s, plugin: req.GetPlugin(), req: req, remaining: len(req.GetItems())}
	b.cond = sync.NewCond(&b.mu)
	b.send = func(r *hostv1.SynchronizeBatchResponse) error {
		b.sendMu.Lock()
		defer b.sendMu.Unlock()
		if b.sendErr != nil {
			return b.sendErr
		}
		if err := stream.Send(r); err != nil {
			b.sendErr = err
			cancel()
			return err
		}
		return nil
	}
	start := time.Now()
	if err := b.plan(ctx); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.work(ctx)
		}()
	}
	wg.Wait()
	s.opts.logger.Info("batch done", "plugin", b.plugin, "items", len(req.GetItems()), "concurrency", n, "elapsed", time.Since(start).Round(time.Millisecond))
	if b.sendErr != nil {
		return b.sendErr
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

// plan links items to their parents, answers the items that cannot be sent
// (invalid, duplicate, in a cycle, missing parent) and queues the roots.
func (b *batch) plan(ctx context.Context) error {
	items := b.req.GetItems()
	index := make(map[string]int32, len(items))
	parent := make([]int32, len(items))
	b.children = make([][]int32, len(items))
	bad := make([]*hostv1.SynchronizeBatchResponse, len(items)) // a result decided up front
	for i, it := range items {
		id := it.GetAccount().GetId()
		switch _, dup := index[id]; {
		case id == "":
			bad[i] = failed("", diag.InvalidArgument("account.id", diag.CodeInvalidAccount, "account.id is required"))
		case dup:
			bad[i] = failed(id, diag.Host.InvalidArgument("account.id", diag.ReasonDuplicateAccount, "account "+id+" appears more than once in the batch"))
		default:
			index[id] = int32(i)
		}
	}
	for i, it := range items {
		parent[i] = noParent
		if bad[i] != nil {
			continue
		}
		pid := it.GetAccount().GetParentId()
		if pid == "" {
			continue
		}
		if p, ok := index[pid]; ok {
			parent[i] = p
			b.children[p] = append(b.children[p], int32(i))
			continue
		}
		// The parent is not in the batch: the store must have its record
		// (ancestors the caller sent are only checked against the store).
		if _, err := b.s.recs.Get(ctx, b.plugin, pid); err != nil {
			if status.Code(err) != codes.NotFound {
				return err
			}
			bad[i] = skipped(it.GetAccount().GetId(), diag.Host.FailedPrecondition(diag.ReasonParentMissing, pid,
				"not sent: parent "+pid+" is neither in the batch nor synchronized"))
		}
	}

	// Everything not reachable from a root is in a cycle, below one, or
	// below an item that cannot be sent.
	reached := make([]bool, len(items))
	var roots []int32
	for i := range items {
		if bad[i] == nil && parent[i] == noParent {
			roots = append(roots, int32(i))
		}
	}
	stack := append([]int32(nil), roots...)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		reached[i] = true
		stack = append(stack, b.children[i]...)
	}
	for i := range items {
		if bad[i] != nil || reached[i] {
			continue
		}
		id := items[i].GetAccount().GetId()
		if onCycle(parent, int32(i)) {
			bad[i] = failed(id, diag.Host.InvalidArgument("account.parent_id", diag.ReasonParentCycle, "account "+id+" is its own ancestor in the batch"))
			continue
		}
		// Find the nearest ancestor that is on a cycle or cannot be sent.
		j := parent[i]
		for steps := 0; steps < len(items) && bad[j] == nil && !onCycle(parent, j); steps++ {
			j = parent[j]
		}
		aid := items[j].GetAccount().GetId()
		bad[i] = skipped(id, diag.Host.FailedPrecondition(diag.ReasonAncestorFailed, aid, "not sent: ancestor "+aid+" cannot be synchronized"))
	}
	for i, r := range bad {
		if r == nil {
			continue
		}
		b.finish(int32(i))
		if err := b.send(r); err != nil {
			return err
		}
	}
	b.mu.Lock()
	for _, r := range roots {
		b.queue = append(b.queue, task{idx: r})
	}
	b.mu.Unlock()
	return nil
}

// onCycle tells whether following parents from i comes back to i.
func onCycle(parent []int32, i int32) bool {
	slow, fast := i, i
	for {
		for range 2 {
			fast = parent[fast]
			if fast == noParent {
				return false
			}
			if fast == i {
				return true
			}
		}
		slow = parent[slow]
		if slow == fast {
			return false // a cycle above i, not through it
		}
	}
}

// finish accounts for one item's result. Callers must not hold mu.
func (b *batch) finish(i int32) {
	b.mu.Lock()
	b.remaining--
	b.req.Items[i] = nil
	b.children[i] = nil
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *batch) work(ctx context.Context) {
	for {
		b.mu.Lock()
		for len(b.queue) == 0 && b.remaining > 0 && ctx.Err() == nil {
			b.cond.Wait()
		}
		if b.remaining == 0 || ctx.Err() != nil {
			b.mu.Unlock()
			return
		}
		t := b.queue[0]
		b.queue[0] = task{}
		b.queue = b.queue[1:]
		it := b.req.Items[t.idx]
		kids := b.children[t.idx]
		b.mu.Unlock()

		res, anc := b.syncOne(ctx, it, t.ancestors)
		// Children first into the queue, so the result below never races
		// with the batch ending.
		b.mu.Lock()
		if res.GetOutcome() == hostv1.Outcome_OUTCOME_SYNCED {
			for _, k := range kids {
				b.queue = append(b.queue, task{idx: k, ancestors: anc})
			}
		}
		b.mu.Unlock()
		// The failure before the skips it causes, so a reader of the stream
		// meets the cause first; this item finishes last, so the batch
		// cannot end in between.
		_ = b.send(res)
		if res.GetOutcome() != hostv1.Outcome_OUTCOME_SYNCED {
			b.skipDescendants(kids, res.GetAccountId())
		}
		b.finish(t.idx)
	}
}

// skipDescendants reports every descendant of a failed item as skipped.
func (b *batch) skipDescendants(kids []int32, failedID string) {
	for len(kids) > 0 {
		k := kids[len(kids)-1]
		kids = kids[:len(kids)-1]
		b.mu.Lock()
		it := b.req.Items[k]
		kids = append(kids, b.children[k]...)
		b.mu.Unlock()
		_ = b.send(skipped(it.GetAccount().GetId(), diag.Host.FailedPrecondition(diag.ReasonAncestorFailed, failedID,
			"not sent: ancestor "+failedID+" was not synchronized")))
		b.finish(k)
	}
}

// syncOne synchronizes one item and returns its result and, when synced, the
// ancestors its children get: itself with its fresh record, then its own.
func (b *batch) syncOne(ctx context.Context, it *hostv1.BatchItem, fromBatch []*provisioningv1.Ancestor) (*hostv1.SynchronizeBatchResponse, []*provisioningv1.Ancestor) {
	acct := it.GetAccount()
	// The caller's ancestors are checked against the store (RECORD_MISMATCH);
	// the batch's own match it, as each parent is stored before its children
	// are queued. Records sends the stored ones either way.
	anc := it.GetAncestors()
	if len(anc) == 0 {
		anc = fromBatch
	}
	req := &provisioningv1.SynchronizeRequest{Account: acct, Ancestors: anc, Values: it.GetValues(), AutoFill: b.req.GetAutoFill()}
	resp, err := b.s.recs.Synchronize(ctx, b.plugin, req)
	if err != nil {
		return failed(acct.GetId(), err), nil
	}
	anc = req.GetAncestors() // as sent: the stored ones
	childAnc := make([]*provisioningv1.Ancestor, 0, len(anc)+1)
	childAnc = append(childAnc, &provisioningv1.Ancestor{Account: acct, Record: resp.GetRecord()})
	childAnc = append(childAnc, anc...)
	return &hostv1.SynchronizeBatchResponse{
		AccountId: acct.GetId(), Outcome: hostv1.Outcome_OUTCOME_SYNCED,
		Record: resp.GetRecord(), Created: resp.GetCreated(),
	}, childAnc
}

func failed(id string, err error) *hostv1.SynchronizeBatchResponse {
	return &hostv1.SynchronizeBatchResponse{AccountId: id, Outcome: hostv1.Outcome_OUTCOME_FAILED, Error: status.Convert(err).Proto()}
}

// skipped is the result of an item not sent; err is the
// FAILED_PRECONDITION that says why.
func skipped(id string, err error) *hostv1.SynchronizeBatchResponse {
	return &hostv1.SynchronizeBatchResponse{AccountId: id, Outcome: hostv1.Outcome_OUTCOME_SKIPPED, Error: status.Convert(err).Proto()}
}

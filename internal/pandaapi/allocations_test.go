package pandaapi_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

const (
	postAllocationRoute   = "POST " + pandasim.AllocationsPrefix + "/{accountId}/assets"
	putAllocationRoute    = "PUT " + pandasim.AllocationsPrefix + "/{accountId}/assets"
	deleteAllocationRoute = "DELETE " + pandasim.AllocationsPrefix + "/{accountId}/assets"
	patchAccountRoute     = "PATCH " + pandasim.AccountsPrefix + "/{id}"
)

// codeOf returns the server's code carried by err, or "".
func codeOf(err error) string {
	var pe *pandaapi.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestUpdateAccount(t *testing.T) {
	t.Parallel()
	sim, url := newSim(t)
	c := newClient(t, url)
	acc := mustCreate(t, c, root, pandaapi.AccountTypeSubscriber, "acme")
	tests := map[string]struct {
		id       string
		req      pandaapi.UpdateAccountRequest
		wantKind string
	}{
		"everything":      {id: acc.ID, req: pandaapi.UpdateAccountRequest{Name: "Acme Ltd", FirstName: "Ada", LastName: "L", Email: "it@acme.example"}},
		"no first name":   {id: acc.ID, req: pandaapi.UpdateAccountRequest{Name: "Acme Ltd", Email: "it@acme.example"}},
		"bad email":       {id: acc.ID, req: pandaapi.UpdateAccountRequest{Name: "Acme Ltd", Email: "nope"}, wantKind: "invalid request"},
		"blank name":      {id: acc.ID, req: pandaapi.UpdateAccountRequest{Email: "it@acme.example"}, wantKind: "invalid request"},
		"unknown account": {id: "ACC-9999999", req: pandaapi.UpdateAccountRequest{Name: "x", Email: "x@y.z"}, wantKind: "not found"},
		"empty id":        {id: "", req: pandaapi.UpdateAccountRequest{Name: "x", Email: "x@y.z"}, wantKind: "invalid request"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// Sequential: the cases share one account.
			err := c.UpdateAccount(ctxT(t), tc.id, tc.req)
			if diff := cmp.Diff(tc.wantKind, kindOf(err)); diff != "" {
				t.Fatalf("error kind (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			got, err := c.GetAccount(ctxT(t), tc.id)
			if err != nil {
				t.Fatal(err)
			}
			want := pandaapi.Account{ID: acc.ID, ParentID: root, Type: acc.Type, Name: tc.req.Name, FirstName: tc.req.FirstName, LastName: tc.req.LastName, Email: tc.req.Email}
			if diff := cmp.Diff(want, *got); diff != "" {
				t.Errorf("after UpdateAccount (-want +got):\n%s", diff)
			}
		})
	}
	// A PATCH is resent through a lost answer: it sets, so the result is
	// the same.
	if err := sim.SetFaults(pandasim.Faults{CommitThenFailRate: 1}); err != nil {
		t.Fatal(err)
	}
	err := c.UpdateAccount(ctxT(t), acc.ID, pandaapi.UpdateAccountRequest{Name: "Lost", Email: "lost@acme.example"})
	if !errors.Is(err, pandaapi.ErrUnavailable) {
		t.Fatalf("UpdateAccount through commit-then-fail: %v", err)
	}
	if n := sim.Stats().ByRoute[patchAccountRoute]; n < 2 {
		t.Errorf("PATCH sent %d times; an idempotent call is retried", n)
	}
	if err := sim.SetFaults(pandasim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetAccount(ctxT(t), acc.ID); got.Name != "Lost" {
		t.Errorf("after the lost answers the name is %q", got.Name)
	}
}

func TestDeleteAccountRefusals(t *testing.T) {
	t.Parallel()
	_, url := newSim(t)
	c := newClient(t, url)
	ctx := ctxT(t)
	sp := mustCreate(t, c, root, pandaapi.AccountTypeServiceProvider, "sp")
	mid := mustCreate(t, c, sp.ID, pandaapi.AccountTypeServiceProvider, "mid")
	leaf := mustCreate(t, c, mid.ID, pandaapi.AccountTypeSubscriber, "leaf")
	sub := mustCreate(t, c, sp.ID, pandaapi.AccountTypeSubscriber, "sub")
	holder := mustCreate(t, c, root, pandaapi.AccountTypeSubscriber, "holder")
	if _, err := c.CreateAllocation(ctx, holder.ID, pandaapi.AllocationRequest{Product: pandaapi.ProductEPP, Type: pandaapi.AllocationTerm, Quantity: 3}); err != nil {
		t.Fatal(err)
	}

	tests := []struct { // in order: later cases see earlier deletions
		name               string
		call               func() error
		wantKind, wantCode string
	}{
		{"children", func() error { return c.DeleteAccount(ctx, sp.ID) }, "conflict", pandaapi.CodeHasChildren},
		{"allocations", func() error { return c.DeleteAccount(ctx, holder.ID) }, "conflict", pandaapi.CodeHasAllocations},
		{"root", func() error { return c.DeleteAccount(ctx, root) }, "conflict", pandaapi.CodeRootAccount},
		{"tree of the root", func() error { _, err := c.DeleteAccountTree(ctx, root); return err }, "conflict", pandaapi.CodeRootAccount},
		{"tree, unknown", func() error { _, err := c.DeleteAccountTree(ctx, "ACC-9999999"); return err }, "not found", pandasim.CodeNotFound},
		{"allocation released", func() error {
			return c.DeleteAllocation(ctx, holder.ID, pandaapi.ProductEPP, pandaapi.AllocationTerm)
		}, "", ""},
		{"then the account goes", func() error { return c.DeleteAccount(ctx, holder.ID) }, "", ""},
	}
	for _, tc := range tests {
		err := tc.call()
		if diff := cmp.Diff([2]string{tc.wantKind, tc.wantCode}, [2]string{kindOf(err), codeOf(err)}); diff != "" {
			t.Errorf("%s: kind, code (-want +got):\n%s", tc.name, diff)
		}
	}
	ids, err := c.DeleteAccountTree(ctx, sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{leaf.ID, mid.ID, sub.ID}, ids); diff != "" {
		t.Errorf("deleted descendants (-want +got):\n%s", diff)
	}
	for _, id := range []string{sp.ID, mid.ID, leaf.ID, sub.ID} {
		if _, err := c.GetAccount(ctx, id); !errors.Is(err, pandaapi.ErrNotFound) {
			t.Errorf("%s after DeleteAccountTree: %v", id, err)
		}
	}
}

func TestAllocationCalls(t *testing.T) {
	t.Parallel()
	_, url := newSim(t, pandasim.WithRootInventory(map[string]int{"EPDR": 100, "PATCH_MANAGEMENT": 100}))
	c := newClient(t, url)
	ctx := ctxT(t)
	reseller := mustCreate(t, c, root, pandaapi.AccountTypeServiceProvider, "reseller")
	customer := mustCreate(t, c, reseller.ID, pandaapi.AccountTypeSubscriber, "customer")
	req := func(p pandaapi.Product, typ pandaapi.AllocationType, n int) pandaapi.AllocationRequest {
		return pandaapi.AllocationRequest{Product: p, Type: typ, Quantity: n}
	}
	create := func(id string, r pandaapi.AllocationRequest) func() error {
		return func() error { _, err := c.CreateAllocation(ctx, id, r); return err }
	}
	set := func(id string, r pandaapi.AllocationRequest) func() error {
		return func() error { _, err := c.SetAllocationQuantity(ctx, id, r); return err }
	}
	steps := []struct { // in order: each sees the state the earlier ones left
		name               string
		call               func() error
		wantKind, wantCode string
	}{
		{"customer before its reseller has stock", create(customer.ID, req(pandaapi.ProductEPDR, pandaapi.AllocationSubscription, 5)), "conflict", pandaapi.CodeInsufficientInventory},
		{"reseller", create(reseller.ID, req(pandaapi.ProductEPDR, pandaapi.AllocationSubscription, 20)), "", ""},
		{"reseller's module", create(reseller.ID, req(pandaapi.ProductPatchManagement, pandaapi.AllocationSubscription, 10)), "", ""},
		{"customer", create(customer.ID, req(pandaapi.ProductEPDR, pandaapi.AllocationSubscription, 15)), "", ""},
		{"customer again", create(customer.ID, req(pandaapi.ProductEPDR, pandaapi.AllocationSubscription, 15)), "conflict", pandaapi.CodeAllocationExists},
		{"customer's second base", create(customer.ID, req(pandaapi.ProductEPP, pandaapi.AllocationSubscription, 1)), "conflict", pandaapi.CodeOneBaseProduct},
		{"module above its base", create(customer.ID, req(pandaapi.ProductPatchManagement, pandaapi.AllocationSubscription, 16)), "conflict", pandaapi.CodeAddonExceedsBase},
		{"module of another type", create(customer.ID, req(pandaapi.ProductPatchManagement, pandaapi.AllocationTerm, 5)), "conflict", pandaapi.CodeAllocationTypeConflict},
		{"module beyond the reseller's", create(customer.ID, req(pandaapi.ProductPatchManagement, pandaapi.AllocationSubscription, 11)), "conflict", pandaapi.CodeInsufficientInventory},
		{"module", create(customer.ID, req(pandaapi.ProductPatchManagement, pandaapi.AllocationSubscription, 10)), "", ""},
		{"unknown product", create(customer.ID, req("EDR_CORE", pandaapi.AllocationSubscription, 1)), "invalid request", pandaapi.CodeUnknownProduct},
		{"trial too big", create(reseller.ID, req(pandaapi.ProductEDR, pandaapi.AllocationTrial, 251)), "conflict", pandaapi.CodeTrialLimit},
		{"reseller below its customer", set(reseller.ID, req(pandaapi.ProductEPDR, pandaapi.AllocationSubscription, 14)), "conflict", pandaapi.CodeAllocatedToChildren},
		{"customer beyond the reseller", set(customer.ID, req(pandaapi.ProductEPDR, pandaapi.AllocationSubscription, 21)), "conflict", pandaapi.CodeInsufficientInventory},
		{"customer up to the reseller", set(customer.ID, req(pandaapi.ProductEPDR, pandaapi.AllocationSubscription, 20)), "", ""},
		{"set a missing one", set(customer.ID, req(pandaapi.ProductEPP, pandaapi.AllocationSubscription, 1)), "not found", pandasim.CodeNotFound},
		{"delete a base under its module", func() error {
			return c.DeleteAllocation(ctx, customer.ID, pandaapi.ProductEPDR, pandaapi.AllocationSubscription)
		}, "conflict", pandaapi.CodeNoBaseProduct},
		{"delete a missing one", func() error {
			return c.DeleteAllocation(ctx, customer.ID, pandaapi.ProductEPP, pandaapi.AllocationSubscription)
		}, "not found", pandasim.CodeNotFound},
		{"summary of nobody", func() error { _, err := c.GetSoftwareSummary(ctx, "ACC-9999999"); return err }, "not found", pandasim.CodeNotFound},
		{"empty account id", create("", req(pandaapi.ProductEPDR, pandaapi.AllocationSubscription, 1)), "invalid request", ""},
	}
	for _, s := range steps {
		err := s.call()
		if diff := cmp.Diff([2]string{s.wantKind, s.wantCode}, [2]string{kindOf(err), codeOf(err)}); diff != "" {
			t.Errorf("%s: kind, code (-want +got):\n%s\n(err: %v)", s.name, diff, err)
		}
		var pe *pandaapi.Error
		if errors.As(err, &pe) && pe.Retryable() {
			t.Errorf("%s: a refusal is not retryable: %v", s.name, err)
		}
	}

	sum, err := c.GetSoftwareSummary(ctx, customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := &pandaapi.SoftwareSummary{
		AccountID: customer.ID,
		Allocations: []pandaapi.Allocation{
			{Product: pandaapi.ProductEPDR, Type: pandaapi.AllocationSubscription, Quantity: 20},
			{Product: pandaapi.ProductPatchManagement, Type: pandaapi.AllocationSubscription, Quantity: 10},
		},
		Inventory: []pandaapi.InventoryItem{
			{Product: pandaapi.ProductEPDR, Total: 20, Unallocated: 20},
			{Product: pandaapi.ProductPatchManagement, Total: 10, Unallocated: 10},
		},
	}
	if diff := cmp.Diff(want, sum, cmpopts.IgnoreFields(pandaapi.Allocation{}, "AllocatedAt")); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if a := sum.Allocation(pandaapi.ProductEPDR); a == nil || a.Quantity != 20 {
		t.Errorf("Allocation(EPDR) = %+v", a)
	}
	rs, err := c.GetSoftwareSummary(ctx, reseller.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := [2]int{rs.Unallocated(pandaapi.ProductEPDR), rs.Unallocated(pandaapi.ProductEPP)}; got != [2]int{0, 0} {
		t.Errorf("reseller's unallocated EPDR, EPP = %v, want 0, 0", got)
	}
	// A quantity below 1 is refused by the server as invalid.
	trial, err := c.CreateAllocation(ctx, reseller.ID, req(pandaapi.ProductEDR, pandaapi.AllocationTrial, 0))
	if kindOf(err) != "invalid request" {
		t.Errorf("a trial of 0: %+v, %v", trial, err)
	}
}

// The retry rules: a POST is never resent once it may have reached the
// server; a PUT and a DELETE are.
func TestAllocationRetries(t *testing.T) {
	t.Parallel()
	sim, url := newSim(t)
	c := newClient(t, url)
	ctx := ctxT(t)
	acc := mustCreate(t, c, root, pandaapi.AccountTypeSubscriber, "acme")
	if err := sim.SetFaults(pandasim.Faults{CommitThenFailRate: 1}); err != nil {
		t.Fatal(err)
	}

	_, err := c.CreateAllocation(ctx, acc.ID, pandaapi.AllocationRequest{Product: pandaapi.ProductEPDR, Type: pandaapi.AllocationSubscription, Quantity: 10})
	var pe *pandaapi.Error
	if !errors.As(err, &pe) || !pe.MayHaveCommitted || !errors.Is(err, pandaapi.ErrUnavailable) {
		t.Fatalf("CreateAllocation through a lost answer: %#v; want ErrUnavailable, MayHaveCommitted", err)
	}
	if n := sim.Stats().ByRoute[postAllocationRoute]; n != 1 {
		t.Errorf("POST sent %d times, want 1", n)
	}

	// Every PUT answer is lost: the client retries until its budget ends;
	// each attempt set the same quantity.
	_, err = c.SetAllocationQuantity(ctx, acc.ID, pandaapi.AllocationRequest{Product: pandaapi.ProductEPDR, Type: pandaapi.AllocationSubscription, Quantity: 12})
	if !errors.Is(err, pandaapi.ErrUnavailable) {
		t.Fatalf("SetAllocationQuantity: %v", err)
	}
	if n := sim.Stats().ByRoute[putAllocationRoute]; n != 5 {
		t.Errorf("PUT sent %d times, want 5 (the retry budget)", n)
	}

	// The DELETE's first answer is lost; the resend finds it gone: done.
	if err := c.DeleteAllocation(ctx, acc.ID, pandaapi.ProductEPDR, pandaapi.AllocationSubscription); err != nil {
		t.Fatalf("DeleteAllocation through a lost answer: %v", err)
	}
	if n := sim.Stats().ByRoute[deleteAllocationRoute]; n != 2 {
		t.Errorf("DELETE sent %d times, want 2", n)
	}
	if err := sim.SetFaults(pandasim.Faults{}); err != nil {
		t.Fatal(err)
	}
	sum, err := c.GetSoftwareSummary(ctx, acc.ID)
	if err != nil || len(sum.Allocations) != 0 {
		t.Errorf("after the delete: %+v, %v", sum, err)
	}
}

// Thirty end customers order at once from a reseller holding 100: exactly
// twenty orders of five fit, the rest are told why, and the reseller is
// never over-allocated.
func TestAllocationsRaceForInventory(t *testing.T) {
	t.Parallel()
	_, url := newSim(t)
	c := newClient(t, url)
	ctx := ctxT(t)
	reseller := mustCreate(t, c, root, pandaapi.AccountTypeServiceProvider, "reseller")
	if _, err := c.CreateAllocation(ctx, reseller.ID, pandaapi.AllocationRequest{Product: pandaapi.ProductEDR, Type: pandaapi.AllocationTerm, Quantity: 100}); err != nil {
		t.Fatal(err)
	}
	var customers []string
	for i := range 30 {
		customers = append(customers, mustCreate(t, c, reseller.ID, pandaapi.AccountTypeSubscriber, fmt.Sprintf("customer-%d", i)).ID)
	}
	results := make(chan error, len(customers))
	var wg sync.WaitGroup
	for _, id := range customers {
		wg.Go(func() {
			_, err := c.CreateAllocation(ctx, id, pandaapi.AllocationRequest{Product: pandaapi.ProductEDR, Type: pandaapi.AllocationTerm, Quantity: 5})
			results <- err
		})
	}
	wg.Wait()
	close(results)
	got := map[string]int{}
	for err := range results {
		got[codeOf(err)]++
		if err != nil && codeOf(err) != pandaapi.CodeInsufficientInventory {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if diff := cmp.Diff(map[string]int{"": 20, pandaapi.CodeInsufficientInventory: 10}, got); diff != "" {
		t.Errorf("outcomes by code (-want +got):\n%s", diff)
	}
	sum, err := c.GetSoftwareSummary(ctx, reseller.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]pandaapi.InventoryItem{{Product: pandaapi.ProductEDR, Total: 100, Allocated: 100, Unallocated: 0}}, sum.Inventory); diff != "" {
		t.Errorf("reseller inventory (-want +got):\n%s", diff)
	}
}

package panda

import (
	"context"

	"github.com/cloudbss/provisioning/internal/pandaapi"
)

func allocationOf(a *pandaapi.Allocation) *Allocation {
	if a == nil {
		return nil
	}
	out := &Allocation{Product: string(a.Product), Type: string(a.Type), Quantity: a.Quantity}
	if a.ExpiresAt != nil {
		out.ExpiresAt = a.ExpiresAt.UTC()
	}
	return out
}

func allocationRequestOf(req AllocationRequest) pandaapi.AllocationRequest {
	return pandaapi.AllocationRequest{Product: pandaapi.Product(req.Product), Type: pandaapi.AllocationType(req.Type), Quantity: req.Quantity}
}

func (r apiRemote) CreateAllocation(ctx context.Context, accountID string, req AllocationRequest) (*Allocation, error) {
	a, err := r.c.CreateAllocation(ctx, accountID, allocationRequestOf(req))
	return allocationOf(a), remoteErrorOf(err)
}

func (r apiRemote) SetAllocationQuantity(ctx context.Context, accountID string, req AllocationRequest) (*Allocation, error) {
	a, err := r.c.SetAllocationQuantity(ctx, accountID, allocationRequestOf(req))
	return allocationOf(a), remoteErrorOf(err)
}

func (r apiRemote) DeleteAllocation(ctx context.Context, accountID, product, allocationType string) error {
	return remoteErrorOf(r.c.DeleteAllocation(ctx, accountID, pandaapi.Product(product), pandaapi.AllocationType(allocationType)))
}

func (r apiRemote) GetSoftwareSummary(ctx context.Context, accountID string) (*SoftwareSummary, error) {
	s, err := r.c.GetSoftwareSummary(ctx, accountID)
	if err != nil {
		return nil, remoteErrorOf(err)
	}
	out := &SoftwareSummary{Allocations: make([]Allocation, 0, len(s.Allocations)), Inventory: make([]InventoryItem, 0, len(s.Inventory))}
	for i := range s.Allocations {
		out.Allocations = append(out.Allocations, *allocationOf(&s.Allocations[i]))
	}
	for _, it := range s.Inventory {
		out.Inventory = append(out.Inventory, InventoryItem{Product: string(it.Product), Total: it.Total, Allocated: it.Allocated, Unallocated: it.Unallocated})
	}
	return out, nil
}

package panda

import "time"

// Allocation types, as Panda spells them. A product and its modules on one
// account share one type.
const (
	// AllocationSubscription is billed monthly on usage.
	AllocationSubscription = "subscription"
	// AllocationTerm is a fixed number for a fixed term.
	AllocationTerm = "term"
	// AllocationTrial is at most [TrialMaxQuantity] endpoints for
	// [TrialDays] days; a paid allocation of the product replaces it.
	AllocationTrial = "trial"
)

// Codes of Panda's refused allocation calls ([RemoteError].Code) that the
// adapter maps to a reason of its own.
const (
	AllocationCodeExists              = "ALLOCATION_EXISTS"
	AllocationCodeTypeConflict        = "ALLOCATION_TYPE_CONFLICT"
	AllocationCodeOneBaseProduct      = "ONE_BASE_PRODUCT"
	AllocationCodeNoBaseProduct       = "NO_BASE_PRODUCT"
	AllocationCodeAddonExceedsBase    = "ADDON_EXCEEDS_BASE"
	AllocationCodeTrialLimit          = "TRIAL_LIMIT"
	AllocationCodeTrialUnavailable    = "TRIAL_UNAVAILABLE"
	AllocationCodeInsufficient        = "INSUFFICIENT_INVENTORY"
	AllocationCodeAllocatedToChildren = "ALLOCATED_TO_CHILDREN"
	AllocationCodeRootAccount         = "ROOT_ACCOUNT"
	AllocationCodeUnknownProduct      = "UNKNOWN_PRODUCT"
)

// AllocationRequest is a product, its allocation type and a quantity.
type AllocationRequest struct {
	Product  string // e.g. "EPDR"
	Type     string // AllocationSubscription, AllocationTerm or AllocationTrial
	Quantity int
}

// Allocation is a product allocated to an account.
type Allocation struct {
	Product  string
	Type     string
	Quantity int
	// ExpiresAt is when a trial ends; zero for a paid allocation.
	ExpiresAt time.Time
}

// InventoryItem is an account's stock of one product: Total it holds,
// Allocated to its children, and the Unallocated rest its children can
// still be given (negative when over-allocated).
type InventoryItem struct {
	Product     string
	Total       int
	Allocated   int
	Unallocated int
}

// SoftwareSummary is an account's allocations and inventory.
type SoftwareSummary struct {
	Allocations []Allocation
	Inventory   []InventoryItem
}

// allocation returns the summary's allocation of product, or nil.
func (s *SoftwareSummary) allocation(product string) *Allocation {
	if s == nil {
		return nil
	}
	for i := range s.Allocations {
		if s.Allocations[i].Product == product {
			return &s.Allocations[i]
		}
	}
	return nil
}

// unallocated is how many licences of product the account can still hand
// to its children.
func (s *SoftwareSummary) unallocated(product string) int {
	if s == nil {
		return 0
	}
	for _, it := range s.Inventory {
		if it.Product == product {
			return it.Unallocated
		}
	}
	return 0
}

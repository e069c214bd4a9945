package pandaapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// allocationsPath is the root of the Allocations API v2; the account id
// and /assets follow it.
const allocationsPath = "/rest/platform/allocation/v2"

// Product is a product of the catalogue, by its wire name.
type Product string

// Endpoint-security base products. A subscriber holds at most one; a
// service provider may hold several.
const (
	ProductEPP          Product = "EPP"
	ProductEDR          Product = "EDR"
	ProductEPDR         Product = "EPDR"
	ProductAdvancedEPDR Product = "ADVANCED_EPDR"
)

// Add-on modules. Each extends the base products of the same allocation
// type on the account and never exceeds their quantity.
const (
	ProductPatchManagement   Product = "PATCH_MANAGEMENT"
	ProductFullEncryption    Product = "FULL_ENCRYPTION"
	ProductAdvancedReporting Product = "ADVANCED_REPORTING"
	ProductDataControl       Product = "DATA_CONTROL"
	ProductSIEMFeeder        Product = "SIEM_FEEDER"
)

// BaseProducts and AddonProducts list the catalogue in its order.
var (
	BaseProducts  = []Product{ProductEPP, ProductEDR, ProductEPDR, ProductAdvancedEPDR}
	AddonProducts = []Product{ProductPatchManagement, ProductFullEncryption, ProductAdvancedReporting, ProductDataControl, ProductSIEMFeeder}
)

// IsBase reports whether p is an endpoint-security base product.
func (p Product) IsBase() bool { return slices.Contains(BaseProducts, p) }

// IsAddon reports whether p is an add-on module.
func (p Product) IsAddon() bool { return slices.Contains(AddonProducts, p) }

// AllocationType is how an allocation is licensed. A product and its
// modules on one account share one type.
type AllocationType string

const (
	// AllocationSubscription is billed monthly on usage.
	AllocationSubscription AllocationType = "subscription"
	// AllocationTerm is a fixed number for a fixed term.
	AllocationTerm AllocationType = "term"
	// AllocationTrial is at most [TrialMaxQuantity] endpoints for
	// [TrialDuration]; a paid allocation of the product replaces it.
	AllocationTrial AllocationType = "trial"
)

// Trial limits.
const (
	TrialMaxQuantity = 250
	TrialDuration    = 30 * 24 * time.Hour
)

// Codes in [Error.Code] that a refused account or allocation call carries,
// so the adapter can name the rule it broke. All come with ErrConflict
// (409) except CodeUnknownProduct (ErrInvalid).
const (
	CodeHasChildren            = "HAS_CHILDREN"
	CodeHasAllocations         = "HAS_ALLOCATIONS"
	CodeRootAccount            = "ROOT_ACCOUNT"
	CodeTierLimit              = "TIER_LIMIT"
	CodeParentIsSubscriber     = "PARENT_IS_SUBSCRIBER"
	CodeUnknownProduct         = "UNKNOWN_PRODUCT"
	CodeAllocationExists       = "ALLOCATION_EXISTS"
	CodeAllocationTypeConflict = "ALLOCATION_TYPE_CONFLICT"
	CodeOneBaseProduct         = "ONE_BASE_PRODUCT"
	CodeNoBaseProduct          = "NO_BASE_PRODUCT"
	CodeAddonExceedsBase       = "ADDON_EXCEEDS_BASE"
	CodeTrialLimit             = "TRIAL_LIMIT"
	CodeTrialUnavailable       = "TRIAL_UNAVAILABLE"
	CodeInsufficientInventory  = "INSUFFICIENT_INVENTORY"
	CodeAllocatedToChildren    = "ALLOCATED_TO_CHILDREN"
)

// AllocationRequest is the body of POST and PUT
// /allocation/v2/{accountId}/assets.
type AllocationRequest struct {
	Product  Product        `json:"productName"`
	Type     AllocationType `json:"allocationType"`
	Quantity int            `json:"quantity"`
}

// Allocation is a product allocated to an account.
type Allocation struct {
	Product     Product        `json:"productName"`
	Type        AllocationType `json:"allocationType"`
	Quantity    int            `json:"quantity"`
	AllocatedAt time.Time      `json:"allocatedAt"`
	// ExpiresAt is set for a trial; the licences return to the parent
	// then.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// InventoryItem is an account's stock of one product: Total it holds (the
// root: its configured inventory; any other account: its allocation),
// Allocated to its children, and the Unallocated rest its children can
// still be given (negative when over-allocated).
type InventoryItem struct {
	Product     Product `json:"productName"`
	Total       int     `json:"total"`
	Allocated   int     `json:"allocated"`
	Unallocated int     `json:"unallocated"`
}

// SoftwareSummary is an account's allocations and inventory, in catalogue
// order.
type SoftwareSummary struct {
	AccountID   string          `json:"accountId"`
	Allocations []Allocation    `json:"allocations"`
	Inventory   []InventoryItem `json:"inventory"`
}

// Allocation returns the account's allocation of p, or nil.
func (s *SoftwareSummary) Allocation(p Product) *Allocation {
	for i := range s.Allocations {
		if s.Allocations[i].Product == p {
			return &s.Allocations[i]
		}
	}
	return nil
}

// Unallocated returns how many licences of p the account can still hand to
// its children.
func (s *SoftwareSummary) Unallocated(p Product) int {
	for _, it := range s.Inventory {
		if it.Product == p {
			return it.Unallocated
		}
	}
	return 0
}

func assetsPath(accountID string) string {
	return allocationsPath + "/" + url.PathEscape(accountID) + "/assets"
}

// CreateAllocation implements [API]. Like the other creates it is never
// resent once the request may have reached the server; a replay that finds
// the allocation answers ErrConflict with [CodeAllocationExists].
func (c *Client) CreateAllocation(ctx context.Context, accountID string, req AllocationRequest) (*Allocation, error) {
	if accountID == "" {
		return nil, &Error{Op: "CreateAllocation", Kind: ErrInvalid, Message: "empty account id"}
	}
	var out Allocation
	err := c.do(ctx, call{op: "CreateAllocation", method: http.MethodPost, path: assetsPath(accountID), body: req, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SetAllocationQuantity implements [API]. The PUT sets the quantity, so it
// is resent after a lost answer like any idempotent call.
func (c *Client) SetAllocationQuantity(ctx context.Context, accountID string, req AllocationRequest) (*Allocation, error) {
	if accountID == "" {
		return nil, &Error{Op: "SetAllocationQuantity", Kind: ErrInvalid, Message: "empty account id"}
	}
	var out Allocation
	err := c.do(ctx, call{op: "SetAllocationQuantity", method: http.MethodPut, path: assetsPath(accountID), body: req, idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAllocation implements [API]. Safe to resend: a resend that finds the
// allocation gone after an attempt whose answer was lost returns nil.
func (c *Client) DeleteAllocation(ctx context.Context, accountID string, product Product, typ AllocationType) error {
	if accountID == "" {
		return &Error{Op: "DeleteAllocation", Kind: ErrInvalid, Message: "empty account id"}
	}
	body := struct {
		Product Product        `json:"productName"`
		Type    AllocationType `json:"allocationType"`
	}{product, typ}
	return c.do(ctx, call{op: "DeleteAllocation", method: http.MethodDelete, path: assetsPath(accountID), body: body, idempotent: true})
}

// GetSoftwareSummary implements [API].
func (c *Client) GetSoftwareSummary(ctx context.Context, accountID string) (*SoftwareSummary, error) {
	if accountID == "" {
		return nil, &Error{Op: "GetSoftwareSummary", Kind: ErrInvalid, Message: "empty account id"}
	}
	var out SoftwareSummary
	err := c.do(ctx, call{op: "GetSoftwareSummary", method: http.MethodGet, path: assetsPath(accountID) + "/summary/software", idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

package pandasim

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// AllocationsPrefix is the root of the Allocations API v2 routes; the
// account id follows it.
const AllocationsPrefix = "/rest/platform/allocation/v2"

// Products of the catalogue. A subscriber holds at most one base product; the
// add-on modules extend whichever base products the account holds.
var (
	BaseProducts  = []string{"EPP", "EDR", "EPDR", "ADVANCED_EPDR"}
	AddonProducts = []string{"PATCH_MANAGEMENT", "FULL_ENCRYPTION", "ADVANCED_REPORTING", "DATA_CONTROL", "SIEM_FEEDER"}
)

// Allocation types, as on the wire.
const (
	AllocationSubscription = "subscription"
	AllocationTerm         = "term"
	AllocationTrial        = "trial"
)

// Trial rules (WatchGuard's): a trial covers at most TrialMaxQuantity
// endpoints for TrialDuration; once one has ended, no new trial of that
// product is available to the account for TrialCooldown.
const (
	TrialMaxQuantity = 250
	TrialDuration    = 30 * 24 * time.Hour
	TrialCooldown    = 90 * 24 * time.Hour
)

// DefaultRootQuantity is the root's inventory of every product when nobody
// configured it: large enough that only a test that asks for scarcity sees
// INSUFFICIENT_INVENTORY.
const DefaultRootQuantity = 1_000_000

// DefaultRootInventory returns the root inventory a simulator starts with:
// [DefaultRootQuantity] of every product in the catalogue.
func DefaultRootInventory() map[string]int {
	inv := make(map[string]int, len(BaseProducts)+len(AddonProducts))
	for _, p := range slices.Concat(BaseProducts, AddonProducts) {
		inv[p] = DefaultRootQuantity
	}
	return inv
}

// IsBaseProduct reports whether p is an endpoint-security base product.
func IsBaseProduct(p string) bool { return slices.Contains(BaseProducts, p) }

// IsAddonProduct reports whether p is an add-on module.
func IsAddonProduct(p string) bool { return slices.Contains(AddonProducts, p) }

func knownProduct(p string) bool { return IsBaseProduct(p) || IsAddonProduct(p) }

func knownAllocationType(t string) bool {
	return t == AllocationSubscription || t == AllocationTerm || t == AllocationTrial
}

// AllocationRequest is the body of POST, PUT and DELETE
// /allocation/v2/{accountId}/assets. DELETE reads only ProductName and
// AllocationType.
type AllocationRequest struct {
	ProductName    string `json:"productName"`
	AllocationType string `json:"allocationType"`
	Quantity       int    `json:"quantity"`
}

// Allocation is one product allocated to an account: what POST and PUT
// answer and what the software summary lists.
type Allocation struct {
	ProductName    string    `json:"productName"`
	AllocationType string    `json:"allocationType"`
	Quantity       int       `json:"quantity"`
	AllocatedAt    time.Time `json:"allocatedAt"`
	// ExpiresAt is set for a trial: AllocatedAt + [TrialDuration]. The
	// trial's licences return to the parent when it passes.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// InventoryItem is an account's stock of one product: what it holds
// (Total: its own allocation, or for the root the configured inventory),
// what it has handed to its child accounts (Allocated) and the rest
// (Unallocated = Total − Allocated), which is what its children can still
// be given. Unallocated is negative when the account is over-allocated,
// e.g. after a trial it had passed on expired.
type InventoryItem struct {
	ProductName string `json:"productName"`
	Total       int    `json:"total"`
	Allocated   int    `json:"allocated"`
	Unallocated int    `json:"unallocated"`
}

// SoftwareSummary is the answer of GET
// /allocation/v2/{accountId}/assets/summary/software.
type SoftwareSummary struct {
	AccountID   string          `json:"accountId"`
	Allocations []Allocation    `json:"allocations"`
	Inventory   []InventoryItem `json:"inventory"`
}

// AccountAllocation is an [Allocation] with its account, as the state dump
// lists it.
type AccountAllocation struct {
	AccountID string `json:"accountId"`
	Allocation
}

// AccountInventory is one account's inventory, as the state dump lists it.
type AccountInventory struct {
	AccountID string          `json:"accountId"`
	Items     []InventoryItem `json:"items"`
}

// TrialEnd records that an account's trial of a product ended, which makes
// a new trial of it unavailable until Until.
type TrialEnd struct {
	AccountID   string    `json:"accountId"`
	ProductName string    `json:"productName"`
	Until       time.Time `json:"until"`
}

func trialKey(accountID, product string) string { return accountID + "/" + product }

// validate checks the request's syntax; withQuantity is false for DELETE.
func (req AllocationRequest) validate(withQuantity bool) *apiError {
	var problems []string
	if !knownProduct(req.ProductName) {
		problems = append(problems, fmt.Sprintf("productName %q is not in the catalogue (base products %s; add-on modules %s)",
			req.ProductName, strings.Join(BaseProducts, ", "), strings.Join(AddonProducts, ", ")))
	}
	if !knownAllocationType(req.AllocationType) {
		problems = append(problems, fmt.Sprintf("allocationType %q must be subscription, term or trial", req.AllocationType))
	}
	if withQuantity && req.Quantity < 1 {
		problems = append(problems, fmt.Sprintf("quantity %d must be at least 1", req.Quantity))
	}
	if len(problems) == 0 {
		return nil
	}
	code := CodeInvalidRequest
	if !knownProduct(req.ProductName) {
		code = CodeUnknownProduct
	}
	return errorf(http.StatusBadRequest, code, "%s", strings.Join(problems, "; "))
}

// expireTrialsLocked ends every trial whose time has passed: its licences
// return to the parent's inventory and a new trial of that product is
// unavailable to the account for [TrialCooldown]. s.mu must be held.
func (s *Server) expireTrialsLocked() {
	now := s.now()
	if s.st.nextTrialEnd.IsZero() || now.Before(s.st.nextTrialEnd) {
		return // no trial can have ended yet: nothing to scan
	}
	changed := false
	s.st.nextTrialEnd = time.Time{}
	for _, acc := range s.st.accounts {
		ended := false
		for p, a := range acc.allocs {
			if a.ExpiresAt != nil && !now.Before(*a.ExpiresAt) {
				s.st.endTrial(acc, p, *a.ExpiresAt)
				ended = true
			}
		}
		if ended {
			s.st.dropOrphanTrialAddons(acc, now)
			changed = true
		}
		for _, a := range acc.allocs {
			s.st.noteTrial(a) // the trials still running
		}
	}
	if changed {
		s.version++
	}
}

// endTrial removes a trial allocation and starts the cooldown.
func (st *store) endTrial(acc *account, product string, at time.Time) {
	delete(acc.allocs, product)
	st.trialEnded[trialKey(acc.ID, product)] = at.UTC().Add(TrialCooldown)
}

// dropOrphanTrialAddons ends the add-on trials of an account that holds no
// base-product trial any more: a module's trial is part of its product's
// trial, so when that is converted to a paid allocation or expires, the
// module trials end with it.
func (st *store) dropOrphanTrialAddons(acc *account, now time.Time) {
	for _, a := range acc.allocs {
		if IsBaseProduct(a.ProductName) && a.AllocationType == AllocationTrial {
			return
		}
	}
	for p, a := range acc.allocs {
		if IsAddonProduct(p) && a.AllocationType == AllocationTrial {
			st.endTrial(acc, p, now)
		}
	}
}

// childrenHold is how many licences of product the account's children hold.
func (st *store) childrenHold(acc *account, product string) int {
	n := 0
	for _, cid := range acc.children {
		if a := st.accounts[cid].allocs[product]; a != nil {
			n += a.Quantity
		}
	}
	return n
}

// inventoryTotal is what acc holds of product: the configured inventory for
// the root, its own allocation for any other account.
func (st *store) inventoryTotal(acc *account, product string) int {
	if acc.ID == st.root {
		return st.rootInventory[product]
	}
	if a := acc.allocs[product]; a != nil {
		return a.Quantity
	}
	return 0
}

// inventory lists acc's stock of every product it holds or has handed on,
// in catalogue order.
func (st *store) inventory(acc *account) []InventoryItem {
	items := []InventoryItem{}
	for _, p := range slices.Concat(BaseProducts, AddonProducts) {
		total, given := st.inventoryTotal(acc, p), st.childrenHold(acc, p)
		if total == 0 && given == 0 {
			continue
		}
		items = append(items, InventoryItem{ProductName: p, Total: total, Allocated: given, Unallocated: total - given})
	}
	return items
}

// sortedAllocations lists acc's allocations in catalogue order.
func sortedAllocations(acc *account) []Allocation {
	out := make([]Allocation, 0, len(acc.allocs))
	for _, p := range slices.Concat(BaseProducts, AddonProducts) {
		if a := acc.allocs[p]; a != nil {
			out = append(out, a.clone())
		}
	}
	return out
}

func (a *Allocation) clone() Allocation {
	c := *a
	if a.ExpiresAt != nil {
		t := *a.ExpiresAt
		c.ExpiresAt = &t
	}
	return c
}

// checkAccountRules checks the rules that concern one account's own
// allocations, on the state a write would leave (allocs): a subscriber
// holds at most one base product; every add-on has a base product of the
// same allocation type, and its quantity does not exceed theirs; a trial
// is at most TrialMaxQuantity endpoints.
func checkAccountRules(acc *account, allocs map[string]*Allocation) *apiError {
	var bases []string
	byType := map[string]int{}
	for _, p := range BaseProducts {
		if a := allocs[p]; a != nil {
			bases = append(bases, p)
			byType[a.AllocationType] += a.Quantity
		}
	}
	if acc.Type == TypeSubscriber && len(bases) > 1 {
		return errorf(http.StatusConflict, CodeOneBaseProduct,
			"account %s is a subscriber and may hold one endpoint-security product; it would hold %s (delete one first)", acc.ID, strings.Join(bases, " and "))
	}
	for _, p := range AddonProducts {
		a := allocs[p]
		if a == nil {
			continue
		}
		if len(bases) == 0 {
			return errorf(http.StatusConflict, CodeNoBaseProduct,
				"add-on %s needs an endpoint-security product (%s) allocated to account %s first", p, strings.Join(BaseProducts, ", "), acc.ID)
		}
		limit, ok := byType[a.AllocationType]
		if !ok {
			return errorf(http.StatusConflict, CodeAllocationTypeConflict,
				"add-on %s would be a %s allocation but account %s holds %s as %s; a product and its modules share one allocation type",
				p, a.AllocationType, acc.ID, strings.Join(bases, ", "), allocs[bases[0]].AllocationType)
		}
		if a.Quantity > limit {
			return errorf(http.StatusConflict, CodeAddonExceedsBase,
				"add-on %s would have %d endpoints but account %s holds only %d endpoints of %s base products; an add-on's quantity cannot exceed its product's",
				p, a.Quantity, acc.ID, limit, a.AllocationType)
		}
	}
	for _, p := range slices.Concat(BaseProducts, AddonProducts) {
		if a := allocs[p]; a != nil && a.AllocationType == AllocationTrial && a.Quantity > TrialMaxQuantity {
			return errorf(http.StatusConflict, CodeTrialLimit,
				"a trial of %s covers at most %d endpoints, not %d", p, TrialMaxQuantity, a.Quantity)
		}
	}
	return nil
}

// checkStock checks that acc's holding of product can change from old to
// next: an increase must fit in the parent's unallocated inventory, a
// decrease must leave what acc's children hold of it.
func (st *store) checkStock(acc *account, product string, old, next int) *apiError {
	if next > old {
		parent := st.accounts[acc.ParentID]
		free := st.inventoryTotal(parent, product) - st.childrenHold(parent, product)
		if next-old > free {
			return errorf(http.StatusConflict, CodeInsufficientInventory,
				"account %s's parent %s has %d unallocated %s licences; %d more were asked for",
				acc.ID, parent.ID, max(free, 0), product, next-old)
		}
	}
	if held := st.childrenHold(acc, product); next < old && next < held {
		return errorf(http.StatusConflict, CodeAllocatedToChildren,
			"account %s's child accounts hold %d %s licences; its allocation cannot drop to %d (reduce theirs first)",
			acc.ID, held, product, next)
	}
	return nil
}

// allocationTarget resolves the account of an allocation route. s.mu must
// be held.
func (s *Server) allocationTarget(id string) (*account, *apiError) {
	acc := s.st.accounts[id]
	switch {
	case acc == nil:
		return nil, errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id)
	case id == s.st.root:
		return nil, errorf(http.StatusConflict, CodeRootAccount, "the root account's inventory is configured, not allocated")
	}
	return acc, nil
}

// applyLocked checks allocs (acc's allocations after a write of product
// from old to next licences) against every rule, then installs it.
func (s *Server) applyLocked(acc *account, allocs map[string]*Allocation, product string, old, next int) *apiError {
	if err := checkAccountRules(acc, allocs); err != nil {
		return err
	}
	if err := s.st.checkStock(acc, product, old, next); err != nil {
		return err
	}
	acc.allocs = allocs
	s.version++
	return nil
}

// handleCreateAllocation allocates a product to an account. A second
// allocation of a product the account holds is refused, except that a paid
// allocation replaces a trial of the same product (WatchGuard: a new
// subscription cancels an in-progress trial), ending the account's module
// trials with it.
func (s *Server) handleCreateAllocation(w http.ResponseWriter, r *http.Request) *apiError {
	var req AllocationRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if err := req.validate(true); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireTrialsLocked()
	acc, err := s.allocationTarget(r.PathValue("accountId"))
	if err != nil {
		return err
	}
	now := s.now()
	old := 0
	allocs := maps.Clone(acc.allocs)
	if cur := allocs[req.ProductName]; cur != nil {
		switch {
		case cur.AllocationType == AllocationTrial && req.AllocationType != AllocationTrial:
			old = cur.Quantity
		case cur.AllocationType == req.AllocationType:
			return errorf(http.StatusConflict, CodeAllocationExists,
				"account %s already holds %d %s licences as %s; change the quantity with PUT", acc.ID, cur.Quantity, req.ProductName, cur.AllocationType)
		default:
			return errorf(http.StatusConflict, CodeAllocationTypeConflict,
				"account %s holds %s as %s; one allocation type per product (delete it first)", acc.ID, req.ProductName, cur.AllocationType)
		}
	}
	if req.AllocationType == AllocationTrial {
		if until, ok := s.st.trialEnded[trialKey(acc.ID, req.ProductName)]; ok && now.Before(until) {
			return errorf(http.StatusConflict, CodeTrialUnavailable,
				"account %s's trial of %s ended; a new trial is available from %s", acc.ID, req.ProductName, until.UTC().Format(time.RFC3339))
		}
	}
	a := &Allocation{ProductName: req.ProductName, AllocationType: req.AllocationType, Quantity: req.Quantity, AllocatedAt: now.UTC()}
	if req.AllocationType == AllocationTrial {
		exp := a.AllocatedAt.Add(TrialDuration)
		a.ExpiresAt = &exp
		s.st.noteTrial(a)
	}
	allocs[req.ProductName] = a
	replacedTrial := old > 0
	var endedModules []string
	if replacedTrial && IsBaseProduct(req.ProductName) && !hasTrialBase(allocs) {
		// Module trials end with their product's trial.
		for p, m := range allocs {
			if IsAddonProduct(p) && m.AllocationType == AllocationTrial {
				delete(allocs, p)
				endedModules = append(endedModules, p)
			}
		}
	}
	if err := s.applyLocked(acc, allocs, req.ProductName, old, req.Quantity); err != nil {
		return err
	}
	if replacedTrial {
		endedModules = append(endedModules, req.ProductName)
	}
	for _, p := range endedModules {
		s.st.trialEnded[trialKey(acc.ID, p)] = now.UTC().Add(TrialCooldown)
	}
	writeJSON(w, http.StatusOK, a.clone())
	return nil
}

func hasTrialBase(allocs map[string]*Allocation) bool {
	for _, p := range BaseProducts {
		if a := allocs[p]; a != nil && a.AllocationType == AllocationTrial {
			return true
		}
	}
	return false
}

// handleSetAllocation sets the quantity of an existing allocation: a set,
// not an increment, so resending it is harmless.
func (s *Server) handleSetAllocation(w http.ResponseWriter, r *http.Request) *apiError {
	var req AllocationRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if err := req.validate(true); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireTrialsLocked()
	acc, err := s.allocationTarget(r.PathValue("accountId"))
	if err != nil {
		return err
	}
	cur := acc.allocs[req.ProductName]
	if cur == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "account %s holds no %s allocation; create it with POST", acc.ID, req.ProductName)
	}
	if cur.AllocationType != req.AllocationType {
		return errorf(http.StatusConflict, CodeAllocationTypeConflict,
			"account %s holds %s as %s, not %s; one allocation type per product", acc.ID, req.ProductName, cur.AllocationType, req.AllocationType)
	}
	allocs := maps.Clone(acc.allocs)
	next := *cur
	next.Quantity = req.Quantity
	allocs[req.ProductName] = &next
	if cur.Quantity == req.Quantity {
		writeJSON(w, http.StatusOK, cur.clone())
		return nil
	}
	if err := s.applyLocked(acc, allocs, req.ProductName, cur.Quantity, req.Quantity); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, next.clone())
	return nil
}

// handleDeleteAllocation releases an allocation's licences to the parent.
func (s *Server) handleDeleteAllocation(w http.ResponseWriter, r *http.Request) *apiError {
	var req AllocationRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if err := req.validate(false); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireTrialsLocked()
	acc, err := s.allocationTarget(r.PathValue("accountId"))
	if err != nil {
		return err
	}
	cur := acc.allocs[req.ProductName]
	if cur == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "account %s holds no %s allocation", acc.ID, req.ProductName)
	}
	if cur.AllocationType != req.AllocationType {
		return errorf(http.StatusConflict, CodeAllocationTypeConflict,
			"account %s holds %s as %s, not %s", acc.ID, req.ProductName, cur.AllocationType, req.AllocationType)
	}
	allocs := maps.Clone(acc.allocs)
	delete(allocs, req.ProductName)
	if err := s.applyLocked(acc, allocs, req.ProductName, cur.Quantity, 0); err != nil {
		return err
	}
	if cur.AllocationType == AllocationTrial {
		s.st.trialEnded[trialKey(acc.ID, req.ProductName)] = s.now().UTC().Add(TrialCooldown)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAllocationSummary answers GET .../assets/summary/{resourceType}:
// the account's software allocations and inventory. Hardware is not
// simulated and is always empty.
func (s *Server) handleAllocationSummary(w http.ResponseWriter, r *http.Request) *apiError {
	rt := r.PathValue("resourceType")
	if rt != "software" && rt != "hardware" {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "resourceType must be software or hardware, not %q", rt)
	}
	id := r.PathValue("accountId")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireTrialsLocked()
	acc := s.st.accounts[id]
	if acc == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "account %s not found", id)
	}
	out := SoftwareSummary{AccountID: id, Allocations: []Allocation{}, Inventory: []InventoryItem{}}
	if rt == "software" {
		out.Allocations = sortedAllocations(acc)
		out.Inventory = s.st.inventory(acc)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// sortTrialEnds orders the cooldown records for a stable dump.
func sortTrialEnds(ends []TrialEnd) {
	slices.SortFunc(ends, func(a, b TrialEnd) int {
		return cmp.Or(cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.ProductName, b.ProductName))
	})
}

package pandaapi

import (
	"context"
	"strconv"
)

// AccountType says what an account is in the WatchGuard model.
type AccountType int

const (
	// AccountTypeServiceProvider is an account that may have children: a
	// Panda Reseller.
	AccountTypeServiceProvider AccountType = 1
	// AccountTypeSubscriber is a leaf account: a Panda User.
	AccountTypeSubscriber AccountType = 2
)

// String returns "service-provider", "subscriber" or the number.
func (t AccountType) String() string {
	switch t {
	case AccountTypeServiceProvider:
		return "service-provider"
	case AccountTypeSubscriber:
		return "subscriber"
	default:
		return "AccountType(" + strconv.Itoa(int(t)) + ")"
	}
}

// Valid reports whether t is one of the two defined account types.
func (t AccountType) Valid() bool {
	return t == AccountTypeServiceProvider || t == AccountTypeSubscriber
}

// Account is one account in the tree below the root service provider.
type Account struct {
	// ID looks like "ACC-1234567".
	ID string `json:"id"`
	// ParentID is the id of the service provider the account was created
	// under; empty for the root.
	ParentID  string      `json:"parentId"`
	Type      AccountType `json:"type"`
	Name      string      `json:"name"`
	FirstName string      `json:"firstName"`
	LastName  string      `json:"lastName"`
	Email     string      `json:"email"`
}

// CreateAccountRequest is the body of POST /accounts/{parentAccountId}.
type CreateAccountRequest struct {
	Type      AccountType `json:"type"`
	Name      string      `json:"name"`
	FirstName string      `json:"firstName"`
	LastName  string      `json:"lastName"`
	Email     string      `json:"email"`
}

// ListChildrenOptions filters and pages GET /accounts/{id}/children.
type ListChildrenOptions struct {
	// Name, when set, keeps only children whose name equals it exactly
	// (case-sensitive), which is what a find-prior-work lookup needs.
	Name string
	// Type, when non-zero, keeps only children of that type.
	Type AccountType
	// Offset is the number of matching children to skip.
	Offset int
	// Limit caps the page size; zero means the server default (100). The
	// server caps it at 1000.
	Limit int
}

// AccountPage is one page of children, ordered by creation.
type AccountPage struct {
	Accounts []Account `json:"data"`
	// Total is the number of children matching the filters, across all
	// pages.
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// OperatorRole is the role of an operator within its account.
type OperatorRole string

// Roles valid on a service-provider account.
const (
	RoleOwner    OperatorRole = "OWNER"
	RoleSales    OperatorRole = "SALES"
	RoleHelpdesk OperatorRole = "HELPDESK"
	RoleAuditor  OperatorRole = "AUDITOR"
)

// Roles valid on a subscriber account.
const (
	RoleAdministrator OperatorRole = "ADMINISTRATOR"
	RoleAnalyst       OperatorRole = "ANALYST"
	RoleObserver      OperatorRole = "OBSERVER"
)

// FitsAccountType reports whether the role may be given to an operator of an
// account of type t.
func (r OperatorRole) FitsAccountType(t AccountType) bool {
	switch t {
	case AccountTypeServiceProvider:
		return r == RoleOwner || r == RoleSales || r == RoleHelpdesk || r == RoleAuditor
	case AccountTypeSubscriber:
		return r == RoleAdministrator || r == RoleAnalyst || r == RoleObserver
	default:
		return false
	}
}

// Operator is a person who can sign in to an account. Its Username is unique
// across the whole system.
type Operator struct {
	Username  string       `json:"username"`
	AccountID string       `json:"accountId"`
	FirstName string       `json:"firstName"`
	LastName  string       `json:"lastName"`
	Email     string       `json:"email"`
	Role      OperatorRole `json:"role"`
	// Activated is false until the operator follows the link in the
	// activation email.
	Activated bool `json:"activated"`
}

// CreateOperatorRequest is the body of POST /operators.
type CreateOperatorRequest struct {
	Username  string       `json:"username"`
	AccountID string       `json:"accountId"`
	FirstName string       `json:"firstName"`
	LastName  string       `json:"lastName"`
	Email     string       `json:"email"`
	Role      OperatorRole `json:"role"`
}

// TransactionStatus is the state of an asynchronous operator creation.
type TransactionStatus string

// The states of a transaction: PENDING until it settles as SUCCESS or FAILED.
const (
	TransactionPending TransactionStatus = "PENDING"
	TransactionSuccess TransactionStatus = "SUCCESS"
	TransactionFailed  TransactionStatus = "FAILED"
)

// Done reports whether the transaction has settled.
func (s TransactionStatus) Done() bool {
	return s == TransactionSuccess || s == TransactionFailed
}

// Transaction is the asynchronous result of POST /operators.
type Transaction struct {
	// ID is opaque; pass it to GetTransaction.
	ID     string            `json:"transaction_id"`
	Status TransactionStatus `json:"status"`
	// ErrorCode is set when Status is FAILED, e.g. "USERNAME_TAKEN".
	ErrorCode string `json:"errorCode,omitempty"`
	// Error is the human-readable reason when Status is FAILED.
	Error     string `json:"error,omitempty"`
	Username  string `json:"username,omitempty"`
	AccountID string `json:"accountId,omitempty"`
}

// Transaction error codes reported in [Transaction.ErrorCode].
const (
	// TxErrUsernameTaken: another operator already has the username.
	TxErrUsernameTaken = "USERNAME_TAKEN"
	// TxErrAccountGone: the account was deleted before the transaction
	// settled.
	TxErrAccountGone = "ACCOUNT_NOT_FOUND"
)

// API is the Panda remote system: every call [*Client] makes. The
// adapter consumes its own, smaller interface (plugin/panda's Remote), with a
// mock of its own.
//
// Every method returns an [*Error] for a remote failure; use errors.Is with
// the sentinel kinds and [IsRetryable] to decide what to do.
type API interface {
	// Authenticate obtains a token, or confirms the cached one is still
	// valid, proving the credentials work. Probe uses it.
	Authenticate(ctx context.Context) error
	// GetAccount returns the account; ErrNotFound when there is none.
	GetAccount(ctx context.Context, id string) (*Account, error)
	// ListChildren returns one page of the children of parentID.
	ListChildren(ctx context.Context, parentID string, opts ListChildrenOptions) (*AccountPage, error)
	// CreateAccount creates a child of parentID. It is not idempotent: two
	// calls create two accounts. ErrNotFound for an unknown parent,
	// ErrConflict when the parent is a subscriber or the tier limit is
	// reached, ErrInvalid for a bad request.
	CreateAccount(ctx context.Context, parentID string, req CreateAccountRequest) (*Account, error)
	// UpdateAccount replaces the account's name and contact (all four
	// fields). ErrNotFound when there is none, ErrInvalid for a blank name
	// or a bad email. Resending is safe.
	UpdateAccount(ctx context.Context, id string, req UpdateAccountRequest) error
	// DeleteAccount deletes a childless account and its operators (their
	// usernames become free). ErrNotFound when there is none; ErrConflict
	// with Code CodeHasChildren, CodeHasAllocations or CodeRootAccount.
	// Resending is safe.
	DeleteAccount(ctx context.Context, id string) error
	// DeleteAccountTree deletes the account with all its descendants and
	// their operators, and returns the descendants' ids, deepest first.
	// ErrConflict with CodeHasAllocations when any of them holds
	// allocations (nothing is deleted then), CodeRootAccount for the root.
	// Resending is safe.
	DeleteAccountTree(ctx context.Context, id string) ([]string, error)
	// CreateOperator starts creating an operator and returns the PENDING
	// transaction. Bad syntax, an unknown account or an unfitting role fail
	// at once (ErrInvalid, ErrNotFound); a duplicate username fails the
	// transaction instead (Status FAILED, ErrorCode USERNAME_TAKEN).
	CreateOperator(ctx context.Context, req CreateOperatorRequest) (*Transaction, error)
	// GetTransaction returns the transaction's current status.
	GetTransaction(ctx context.Context, transactionID string) (*Transaction, error)
	// GetOperator returns the operator; ErrNotFound when no operator has
	// that username.
	GetOperator(ctx context.Context, username string) (*Operator, error)
	// ListOperators returns the operators of an account, ordered by
	// username; ErrNotFound when the account does not exist.
	ListOperators(ctx context.Context, accountID string) ([]Operator, error)

	// CreateAllocation allocates licences of a product to an account, drawn
	// from its parent's unallocated inventory. It is not idempotent: after
	// a lost answer (MayHaveCommitted) read GetSoftwareSummary before
	// trying again. A paid allocation replaces a trial of the same product
	// (and ends the account's module trials). ErrNotFound for an unknown
	// account, ErrInvalid with CodeUnknownProduct, ErrConflict with the
	// Code of the broken rule: CodeAllocationExists,
	// CodeAllocationTypeConflict, CodeOneBaseProduct, CodeNoBaseProduct,
	// CodeAddonExceedsBase, CodeTrialLimit, CodeTrialUnavailable,
	// CodeInsufficientInventory, CodeRootAccount.
	CreateAllocation(ctx context.Context, accountID string, req AllocationRequest) (*Allocation, error)
	// SetAllocationQuantity sets the quantity of an existing allocation
	// (req.Type must be its type). ErrNotFound when the account holds no
	// allocation of the product; ErrConflict as for CreateAllocation, or
	// CodeAllocatedToChildren when a reseller's children hold more.
	// Resending is safe.
	SetAllocationQuantity(ctx context.Context, accountID string, req AllocationRequest) (*Allocation, error)
	// DeleteAllocation releases an allocation to the parent's inventory.
	// ErrNotFound when there is none; ErrConflict with
	// CodeAllocatedToChildren, CodeNoBaseProduct (add-ons still need it) or
	// CodeAllocationTypeConflict. Resending is safe.
	DeleteAllocation(ctx context.Context, accountID string, product Product, typ AllocationType) error
	// GetSoftwareSummary returns the account's allocations and inventory;
	// ErrNotFound when the account does not exist.
	GetSoftwareSummary(ctx context.Context, accountID string) (*SoftwareSummary, error)
}

var _ API = (*Client)(nil)

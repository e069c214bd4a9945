package panda

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// The mock lives under internal/ so that only this package's tests import it,
// and under a *mock directory so that `make generate-check` sees it drift.
//go:generate go tool mockgen -destination=internal/remotemock/remote.go -package=remotemock github.com/cloudbss/provisioning/plugin/panda Remote

// Remote is the Panda API as the adapter uses it: only the calls it makes,
// with only the types it reads. The default, built by [New], is the HTTP
// client of this module; [WithRemote] hands in another one (a test double,
// a recording proxy, a client with its own transport).
//
// Every method must honour ctx. A remote failure is reported as a
// [*RemoteError] whose Kind is one of the Err* sentinels ([ErrNotFound],
// ...): the adapter maps it to the contract's gRPC codes with errors.Is, so
// an implementation that returns plain errors gets INTERNAL for all of them.
// An implementation retries and paces itself; the adapter does not retry a
// call, except once for a create whose answer was lost (MayHaveCommitted),
// after looking for what it may have created.
type Remote interface {
	// Authenticate proves the credentials (Probe uses it).
	Authenticate(ctx context.Context) error
	// GetAccount returns the account; ErrNotFound when there is none.
	GetAccount(ctx context.Context, id string) (*RemoteAccount, error)
	// ListChildren returns one page of the children of parentID, filtered
	// by opts; ErrNotFound when parentID does not exist.
	ListChildren(ctx context.Context, parentID string, opts ListChildrenOptions) (*AccountPage, error)
	// CreateAccount creates a child of parentID; two calls create two
	// accounts. ErrNotFound for an unknown parent; ErrConflict with Code
	// "TIER_LIMIT" or "PARENT_IS_SUBSCRIBER" when the parent cannot take
	// it; ErrInvalid for a request Panda refuses.
	CreateAccount(ctx context.Context, parentID string, req CreateAccountRequest) (*RemoteAccount, error)
	// DeleteAccount deletes a childless account and its operators;
	// ErrNotFound when there is none; ErrConflict with Code "HAS_CHILDREN"
	// when it has children, "HAS_ALLOCATIONS" when it holds licences.
	DeleteAccount(ctx context.Context, id string) error
	// UpdateAccount replaces the account's name, contact and email (all
	// four together: Panda's PATCH takes no partial body); ErrNotFound when
	// there is none; ErrInvalid for values Panda refuses. Resending it is
	// harmless.
	UpdateAccount(ctx context.Context, id string, req UpdateAccountRequest) error
	// DeleteAccountTree deletes the account with all its descendants and
	// their operators, and returns the descendants' ids, deepest first (nil
	// when a resend found the work done). ErrNotFound when there is none;
	// ErrConflict with Code "HAS_ALLOCATIONS" when any of them holds
	// licences (then nothing is deleted).
	DeleteAccountTree(ctx context.Context, id string) ([]string, error)
	// CreateOperator starts creating an operator and returns its
	// transaction. A taken username fails the transaction
	// (TxErrUsernameTaken), not the call; ErrInvalid with Code
	// "INVALID_USERNAME" for a username Panda's syntax refuses.
	CreateOperator(ctx context.Context, req CreateOperatorRequest) (*Transaction, error)
	// GetTransaction returns the transaction's current state; ErrNotFound
	// when Panda no longer knows it.
	GetTransaction(ctx context.Context, transactionID string) (*Transaction, error)
	// GetOperator returns the operator with that username (unique across
	// Panda); ErrNotFound when there is none.
	GetOperator(ctx context.Context, username string) (*Operator, error)
	// ListOperators returns the operators of an account; ErrNotFound when
	// the account does not exist.
	ListOperators(ctx context.Context, accountID string) ([]Operator, error)

	// CreateAllocation allocates a product to an account, drawn from its
	// parent's unallocated inventory; two calls are refused the second time
	// (ErrConflict, Code "ALLOCATION_EXISTS"), except that a paid
	// allocation replaces a trial of the product. Never resent once it may
	// have reached Panda: a lost answer is MayHaveCommitted. ErrConflict
	// with a Code (the AllocationCode* constants) for a broken rule.
	CreateAllocation(ctx context.Context, accountID string, req AllocationRequest) (*Allocation, error)
	// SetAllocationQuantity sets the quantity of an existing allocation (a
	// set, so resending is harmless); ErrNotFound when the account holds
	// none of the product.
	SetAllocationQuantity(ctx context.Context, accountID string, req AllocationRequest) (*Allocation, error)
	// DeleteAllocation releases an allocation to the parent's inventory;
	// ErrNotFound when there is none.
	DeleteAllocation(ctx context.Context, accountID, product, allocationType string) error
	// GetSoftwareSummary returns the account's allocations and its
	// inventory (what it can still hand to its children).
	GetSoftwareSummary(ctx context.Context, accountID string) (*SoftwareSummary, error)
}

// AccountType is what a Panda account is.
type AccountType int

const (
	// AccountTypeServiceProvider may have child accounts: a Panda Reseller.
	AccountTypeServiceProvider AccountType = 1
	// AccountTypeSubscriber is a leaf: a Panda User.
	AccountTypeSubscriber AccountType = 2
)

// String returns "service-provider", "subscriber" or the number.
func (t AccountType) String() string {
	switch t {
	case AccountTypeServiceProvider:
		return "service-provider"
	case AccountTypeSubscriber:
		return "subscriber"
	}
	return "AccountType(" + strconv.Itoa(int(t)) + ")"
}

// RemoteAccount is an account in Panda.
type RemoteAccount struct {
	ID        string // e.g. "ACC-1234567"
	ParentID  string // the service provider it was created under
	Type      AccountType
	Name      string // the company name
	FirstName string
	LastName  string
	Email     string // the corporate email the activation goes to
}

// CreateAccountRequest is a new account.
type CreateAccountRequest struct {
	Type      AccountType
	Name      string
	FirstName string
	LastName  string
	Email     string
}

// UpdateAccountRequest is the whole wanted name, contact and email of an
// account.
type UpdateAccountRequest struct {
	Name      string
	FirstName string
	LastName  string
	Email     string
}

// ListChildrenOptions filters and pages [Remote.ListChildren].
type ListChildrenOptions struct {
	// Name, when set, keeps only children with exactly this name.
	Name string
	// Type, when non-zero, keeps only children of this type.
	Type AccountType
	// Offset is how many matching children to skip; Limit caps the page
	// (0: the server's default).
	Offset, Limit int
}

// AccountPage is one page of children.
type AccountPage struct {
	Accounts []RemoteAccount
	// Total counts the matching children across all pages.
	Total int
}

// OperatorRole is an operator's role within its account.
type OperatorRole string

// The roles the adapter gives the operator it creates.
const (
	// OperatorOwner owns a service-provider account.
	OperatorOwner OperatorRole = "OWNER"
	// OperatorAdministrator administers a subscriber account.
	OperatorAdministrator OperatorRole = "ADMINISTRATOR"
)

// Operator is a person who signs in to a Panda account.
type Operator struct {
	Username  string // unique across Panda
	AccountID string
	FirstName string
	LastName  string
	Email     string
	Role      OperatorRole
	// Activated is false until the person follows the emailed link.
	Activated bool
}

// CreateOperatorRequest is a new operator.
type CreateOperatorRequest struct {
	Username  string
	AccountID string
	FirstName string
	LastName  string
	Email     string
	Role      OperatorRole
}

// TransactionStatus is the state of an operator creation.
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

// Transaction is the asynchronous result of [Remote.CreateOperator].
type Transaction struct {
	ID     string // opaque; for GetTransaction
	Status TransactionStatus
	// ErrorCode says why a FAILED transaction failed, e.g.
	// TxErrUsernameTaken; Error is Panda's human-readable reason.
	ErrorCode string
	Error     string
}

// Transaction error codes the adapter acts on; any other code is a refusal
// it reports as such.
const (
	// TxErrUsernameTaken: another operator has the username.
	TxErrUsernameTaken = "USERNAME_TAKEN"
	// TxErrAccountGone: the account was deleted before the operator was
	// created.
	TxErrAccountGone = "ACCOUNT_NOT_FOUND"
)

// Kinds of [RemoteError], for errors.Is.
var (
	// ErrNotFound: the account, operator or transaction does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request clashes with Panda's state (see Code).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: Panda refused the request as malformed; resending it
	// cannot succeed.
	ErrInvalid = errors.New("invalid request")
	// ErrUnauthorized: the credentials or the API key were refused.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: Panda kept answering 429 past the retries.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: Panda failed or could not be reached.
	ErrUnavailable = errors.New("unavailable")
)

// RemoteError is a failed call to Panda. Its text may end up in messages to
// the caller, so it must never hold a credential.
type RemoteError struct {
	// Kind is one of the Err* sentinels.
	Kind error
	// Code is Panda's machine-readable code, if any (e.g. "TIER_LIMIT").
	Code string
	// Message describes the failure when Err is nil.
	Message string
	// RetryAfter is Panda's Retry-After hint; zero when absent.
	RetryAfter time.Duration
	// MayHaveCommitted: a create reached Panda but its answer was lost, so
	// the object may exist.
	MayHaveCommitted bool
	// Err is the underlying error, whose text Error returns when set.
	Err error
}

// Error returns Err's text, or "panda: kind: message".
func (e *RemoteError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	s := "panda: failed"
	if e.Kind != nil {
		s = "panda: " + e.Kind.Error()
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns Kind and, when set, Err.
func (e *RemoteError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

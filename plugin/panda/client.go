package panda

import (
	"context"
	"errors"

	"github.com/cloudbss/provisioning/internal/pandaapi"
)

// apiRemote is the default [Remote]: the module's HTTP client, which owns
// retries, pacing and the token, with its types and errors translated.
type apiRemote struct{ c *pandaapi.Client }

var _ Remote = apiRemote{}

// remoteErrorOf translates a client error into a [*RemoteError] that keeps the
// client's text and its chain; any other error passes unchanged.
func remoteErrorOf(err error) error {
	var pe *pandaapi.Error
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	kind := ErrUnavailable
	for _, k := range []struct{ api, own error }{
		{pandaapi.ErrNotFound, ErrNotFound},
		{pandaapi.ErrConflict, ErrConflict},
		{pandaapi.ErrInvalid, ErrInvalid},
		{pandaapi.ErrUnauthorized, ErrUnauthorized},
		{pandaapi.ErrRateLimited, ErrRateLimited},
		{pandaapi.ErrUnavailable, ErrUnavailable},
	} {
		if errors.Is(pe.Kind, k.api) {
			kind = k.own
			break
		}
	}
	return &RemoteError{Kind: kind, Code: pe.Code, RetryAfter: pe.RetryAfter, MayHaveCommitted: pe.MayHaveCommitted, Err: err}
}

func accountOf(a *pandaapi.Account) *RemoteAccount {
	if a == nil {
		return nil
	}
	return &RemoteAccount{ID: a.ID, ParentID: a.ParentID, Type: AccountType(a.Type), Name: a.Name, FirstName: a.FirstName, LastName: a.LastName, Email: a.Email}
}

func operatorOf(o pandaapi.Operator) Operator {
	return Operator{Username: o.Username, AccountID: o.AccountID, FirstName: o.FirstName, LastName: o.LastName, Email: o.Email, Role: OperatorRole(o.Role), Activated: o.Activated}
}

func transactionOf(t *pandaapi.Transaction) *Transaction {
	if t == nil {
		return nil
	}
	return &Transaction{ID: t.ID, Status: TransactionStatus(t.Status), ErrorCode: t.ErrorCode, Error: t.Error}
}

func (r apiRemote) Authenticate(ctx context.Context) error {
	return remoteErrorOf(r.c.Authenticate(ctx))
}

func (r apiRemote) GetAccount(ctx context.Context, id string) (*RemoteAccount, error) {
	a, err := r.c.GetAccount(ctx, id)
	return accountOf(a), remoteErrorOf(err)
}

func (r apiRemote) ListChildren(ctx context.Context, parentID string, opts ListChildrenOptions) (*AccountPage, error) {
	p, err := r.c.ListChildren(ctx, parentID, pandaapi.ListChildrenOptions{
		Name: opts.Name, Type: pandaapi.AccountType(opts.Type), Offset: opts.Offset, Limit: opts.Limit,
	})
	if err != nil {
		return nil, remoteErrorOf(err)
	}
	out := &AccountPage{Total: p.Total, Accounts: make([]RemoteAccount, 0, len(p.Accounts))}
	for i := range p.Accounts {
		out.Accounts = append(out.Accounts, *accountOf(&p.Accounts[i]))
	}
	return out, nil
}

func (r apiRemote) CreateAccount(ctx context.Context, parentID string, req CreateAccountRequest) (*RemoteAccount, error) {
	a, err := r.c.CreateAccount(ctx, parentID, pandaapi.CreateAccountRequest{
		Type: pandaapi.AccountType(req.Type), Name: req.Name, FirstName: req.FirstName, LastName: req.LastName, Email: req.Email,
	})
	return accountOf(a), remoteErrorOf(err)
}

func (r apiRemote) DeleteAccount(ctx context.Context, id string) error {
	return remoteErrorOf(r.c.DeleteAccount(ctx, id))
}

func (r apiRemote) UpdateAccount(ctx context.Context, id string, req UpdateAccountRequest) error {
	return remoteErrorOf(r.c.UpdateAccount(ctx, id, pandaapi.UpdateAccountRequest{
		Name: req.Name, FirstName: req.FirstName, LastName: req.LastName, Email: req.Email,
	}))
}

func (r apiRemote) DeleteAccountTree(ctx context.Context, id string) ([]string, error) {
	ids, err := r.c.DeleteAccountTree(ctx, id)
	return ids, remoteErrorOf(err)
}

func (r apiRemote) CreateOperator(ctx context.Context, req CreateOperatorRequest) (*Transaction, error) {
	t, err := r.c.CreateOperator(ctx, pandaapi.CreateOperatorRequest{
		Username: req.Username, AccountID: req.AccountID, FirstName: req.FirstName, LastName: req.LastName,
		Email: req.Email, Role: pandaapi.OperatorRole(req.Role),
	})
	return transactionOf(t), remoteErrorOf(err)
}

func (r apiRemote) GetTransaction(ctx context.Context, transactionID string) (*Transaction, error) {
	t, err := r.c.GetTransaction(ctx, transactionID)
	return transactionOf(t), remoteErrorOf(err)
}

func (r apiRemote) GetOperator(ctx context.Context, username string) (*Operator, error) {
	o, err := r.c.GetOperator(ctx, username)
	if err != nil {
		return nil, remoteErrorOf(err)
	}
	out := operatorOf(*o)
	return &out, nil
}

func (r apiRemote) ListOperators(ctx context.Context, accountID string) ([]Operator, error) {
	ops, err := r.c.ListOperators(ctx, accountID)
	if err != nil {
		return nil, remoteErrorOf(err)
	}
	out := make([]Operator, 0, len(ops))
	for _, o := range ops {
		out = append(out, operatorOf(o))
	}
	return out, nil
}

package pandaapi

import (
	"context"
	"net/http"
	"net/url"
)

// UpdateAccountRequest is the body of PATCH /accounts/{id}. The API takes
// all four fields together: send the whole wanted contact, not a diff.
type UpdateAccountRequest struct {
	Name      string `json:"name"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
}

// UpdateAccount implements [API]. The PATCH replaces the fields with the
// given values, so resending it is harmless and the client retries it like
// a read.
func (c *Client) UpdateAccount(ctx context.Context, id string, req UpdateAccountRequest) error {
	if id == "" {
		return &Error{Op: "UpdateAccount", Kind: ErrInvalid, Message: "empty account id"}
	}
	return c.do(ctx, call{op: "UpdateAccount", method: http.MethodPatch, path: accountsPath + "/" + url.PathEscape(id), body: req, idempotent: true})
}

// DeleteAccountTree implements [API]: DELETE with force=true. It returns the
// ids of the descendants deleted with the account, deepest first; when a
// resend finds the account gone after an attempt whose answer was lost, the
// first attempt did the work and the list is nil.
func (c *Client) DeleteAccountTree(ctx context.Context, id string) ([]string, error) {
	if id == "" {
		return nil, &Error{Op: "DeleteAccountTree", Kind: ErrInvalid, Message: "empty account id"}
	}
	var out struct {
		ChildIDs []string `json:"childIds"`
	}
	err := c.do(ctx, call{op: "DeleteAccountTree", method: http.MethodDelete, path: accountsPath + "/" + url.PathEscape(id), query: url.Values{"force": {"true"}}, idempotent: true, out: &out})
	if err != nil {
		return nil, err
	}
	return out.ChildIDs, nil
}

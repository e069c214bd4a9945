package panda

import (
	"context"
	"errors"
	"strings"
)

// Client talks to the Panda API. It is safe for concurrent use; share one per
// remote system so connections, the token and the pacer are shared.
type Client struct {
	cfg  Config
	opts options
}

// New returns a client for cfg. It does not contact the server; call
// [Client.Authenticate] to check the credentials.
func New(cfg Config, opts ...Option) (*Client, error) {
	if cfg.BaseURL == "" || cfg.AccessID == "" || cfg.Password == "" || cfg.APIKey == "" {
		return nil, errors.New("panda: BaseURL, AccessID, Password and APIKey are required")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return &Client{cfg: cfg, opts: o}, nil
}

var errTODO = errors.New("panda: not implemented yet")

func (c *Client) Authenticate(ctx context.Context) error { return errTODO }
func (c *Client) GetAccount(ctx context.Context, id string) (*Account, error) {
	return nil, errTODO
}
func (c *Client) ListChildren(ctx context.Context, parentID string, opts ListChildrenOptions) (*AccountPage, error) {
	return nil, errTODO
}
func (c *Client) CreateAccount(ctx context.Context, parentID string, req CreateAccountRequest) (*Account, error) {
	return nil, errTODO
}
func (c *Client) DeleteAccount(ctx context.Context, id string) error { return errTODO }
func (c *Client) CreateOperator(ctx context.Context, req CreateOperatorRequest) (*Transaction, error) {
	return nil, errTODO
}
func (c *Client) GetTransaction(ctx context.Context, transactionID string) (*Transaction, error) {
	return nil, errTODO
}
func (c *Client) GetOperator(ctx context.Context, username string) (*Operator, error) {
	return nil, errTODO
}
func (c *Client) ListOperators(ctx context.Context, accountID string) ([]Operator, error) {
	return nil, errTODO
}

package pandaapi

import (
	"context"
	"time"
)

// AwaitTransaction polls api.GetTransaction every interval until the
// transaction settles or ctx ends, and returns its final state. A FAILED
// transaction is returned as such, not as an error; the error is for
// failures to ask.
func AwaitTransaction(ctx context.Context, api API, transactionID string, interval time.Duration) (*Transaction, error) {
	for {
		tx, err := api.GetTransaction(ctx, transactionID)
		if err != nil {
			return nil, err
		}
		if tx.Status.Done() {
			return tx, nil
		}
		if err := sleep(ctx, interval); err != nil {
			return tx, &Error{Op: "AwaitTransaction", Kind: ErrUnavailable, Message: "transaction " + transactionID + " still PENDING: " + err.Error(), Err: err}
		}
	}
}

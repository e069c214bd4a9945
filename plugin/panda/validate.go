package panda

import (
	"context"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// ValidateSyncOptions checks proposed values with the rules Synchronize
// applies first, including the remote username check, and answers the
// values Synchronize would use (after auto_fill). Business-rule problems
// are diagnostics; errors are for a missing account, a missing
// configuration, or Panda failing to answer.
func (a *Adapter) ValidateSyncOptions(ctx context.Context, req *provisioningv1.ValidateSyncOptionsRequest) (*provisioningv1.ValidateSyncOptionsResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	if err := checkAccount(req.GetAccount(), req.GetRecord()); err != nil {
		return nil, err
	}
	ev, err := a.evaluate(ctx, st, forValidate, subject{
		account: req.GetAccount(), ancestors: req.GetAncestors(), record: req.GetRecord(),
		values: req.GetValues(), autoFill: req.GetAutoFill(),
	})
	if err != nil {
		return nil, err
	}
	return &provisioningv1.ValidateSyncOptionsResponse{Diagnostics: ev.diags, Values: ev.values}, nil
}

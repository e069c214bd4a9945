package panda

import (
	"context"
	"errors"
	"net/url"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// Probe obtains a token and reads the root account: two requests (one when
// a token is cached), which prove the URL, the credentials, the API key and
// root_account_id. A remote problem is an answer (ready=false and why), not
// an error; the message names the URL and the root account, never a secret.
func (a *Adapter) Probe(ctx context.Context, _ *provisioningv1.ProbeRequest) (*provisioningv1.ProbeResponse, error) {
	st, err := a.configured()
	if err != nil {
		return nil, err
	}
	where := st.cfg.APIURL
	if u, err := url.Parse(where); err == nil {
		where = u.Redacted()
	}
	notReady := func(err error) (*provisioningv1.ProbeResponse, error) {
		if ctx.Err() != nil {
			return nil, contextError(ctx, "probing Panda")
		}
		var msg string
		switch {
		case errors.Is(err, ErrUnauthorized):
			msg = "Panda at " + where + " refused the credentials: check access_id, password and api_key"
		case errors.Is(err, ErrRateLimited):
			msg = "Panda at " + where + " is rate limiting this client; try again later"
		case errors.Is(err, ErrNotFound):
			msg = "the root account " + st.cfg.RootAccountID + " does not exist in Panda at " + where + ": check root_account_id"
		case errors.Is(err, ErrUnavailable):
			msg = "Panda at " + where + " cannot be reached or is failing: " + err.Error()
		default:
			msg = "Panda at " + where + " answered unexpectedly: " + err.Error()
		}
		a.logger.WarnContext(ctx, "probe: not ready", "reason", msg)
		return &provisioningv1.ProbeResponse{Ready: false, Message: msg}, nil
	}
	if err := st.api.Authenticate(ctx); err != nil {
		return notReady(err)
	}
	root, err := st.api.GetAccount(ctx, st.cfg.RootAccountID)
	if err != nil {
		return notReady(err)
	}
	if root.Type != AccountTypeServiceProvider {
		return &provisioningv1.ProbeResponse{Message: "the root account " + root.ID + " is a " + root.Type.String() + ", not a service provider: it cannot have customers"}, nil
	}
	return &provisioningv1.ProbeResponse{Ready: true, Message: "connected to Panda at " + where + "; root account " + root.ID + " (" + root.Name + ")"}, nil
}

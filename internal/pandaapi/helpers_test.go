package pandaapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/pandaapi"
	"github.com/cloudbss/provisioning/internal/pandasim"
)

const root = pandasim.DefaultRootAccountID

// newSim starts a simulator on loopback for one test.
func newSim(t testing.TB, opts ...pandasim.Option) (*pandasim.Server, string) {
	t.Helper()
	sim, err := pandasim.New(opts...)
	if err != nil {
		t.Fatalf("pandasim.New: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func demoConfig(baseURL string) pandaapi.Config {
	return pandaapi.Config{
		BaseURL:  baseURL,
		AccessID: pandasim.DefaultAccessID,
		Password: pandasim.DefaultPassword,
		APIKey:   pandasim.DefaultAPIKey,
	}
}

// newClient returns a client with fast retries, so tests stay quick.
func newClient(t testing.TB, baseURL string, opts ...pandaapi.Option) *pandaapi.Client {
	t.Helper()
	opts = append([]pandaapi.Option{pandaapi.WithRetry(5, time.Millisecond, 20*time.Millisecond)}, opts...)
	c, err := pandaapi.New(demoConfig(baseURL), opts...)
	if err != nil {
		t.Fatalf("pandaapi.New: %v", err)
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t testing.TB, c pandaapi.API, parent string, typ pandaapi.AccountType, name string) *pandaapi.Account {
	t.Helper()
	a, err := c.CreateAccount(ctxT(t), parent, pandaapi.CreateAccountRequest{Type: typ, Name: name, Email: name + "@example.com"})
	if err != nil {
		t.Fatalf("CreateAccount(%s, %q): %v", parent, name, err)
	}
	return a
}

// kindOf names the sentinel kind of err, for table comparisons.
func kindOf(err error) string {
	for _, k := range []error{pandaapi.ErrNotFound, pandaapi.ErrConflict, pandaapi.ErrInvalid, pandaapi.ErrUnauthorized, pandaapi.ErrRateLimited, pandaapi.ErrUnavailable} {
		if err != nil && errors.Is(err, k) {
			return k.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

// The client must keep up with the interface.
var _ pandaapi.API = (*pandaapi.Client)(nil)

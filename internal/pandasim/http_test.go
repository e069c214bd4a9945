package pandasim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/internal/pandasim"
)

// wire drives a simulator over real loopback HTTP.
type wire struct {
	t   testing.TB
	sim *pandasim.Server
	url string
	tok string
}

func newWire(t testing.TB, opts ...pandasim.Option) *wire {
	t.Helper()
	sim, err := pandasim.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	w := &wire{t: t, sim: sim, url: srv.URL}
	w.tok = w.token()
	return w
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration)     { c.ns.Add(int64(d)) }
func (c *fakeClock) Option() pandasim.Option { return pandasim.WithClock(c.Now) }

func (w *wire) token() string {
	w.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api-access"}}
	req, _ := http.NewRequest(http.MethodPost, w.url+pandasim.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(pandasim.DefaultAccessID, pandasim.DefaultPassword)
	var tr pandasim.TokenResponse
	if st, code := w.send(req, &tr); st != http.StatusOK {
		w.t.Fatalf("token: %d %s", st, code)
	}
	return tr.AccessToken
}

// send performs req and decodes a 2xx answer into out; for an error it
// returns the code of the ErrorBody.
func (w *wire) send(req *http.Request, out any) (int, string) {
	w.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		var eb pandasim.ErrorBody
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" {
			w.t.Fatalf("error answer %d is not an ErrorBody: %q", resp.StatusCode, b)
		}
		return resp.StatusCode, eb.Error.Code
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("answer %q: %v", b, err)
		}
	}
	return resp.StatusCode, ""
}

// api sends an authenticated API call; body is marshalled unless it is a
// string.
func (w *wire) api(method, path string, body, out any) (int, string) {
	w.t.Helper()
	req := w.request(method, path, body)
	req.Header.Set("Authorization", "Bearer "+w.tok)
	req.Header.Set("WatchGuard-API-Key", pandasim.DefaultAPIKey)
	return w.send(req, out)
}

// hook calls a /_sim hook (no credentials).
func (w *wire) hook(method, path string, body, out any) (int, string) {
	w.t.Helper()
	return w.send(w.request(method, path, body), out)
}

func (w *wire) request(method, path string, body any) *http.Request {
	w.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, w.url+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (w *wire) create(parent string, typ int, name string) pandasim.Account {
	w.t.Helper()
	var a pandasim.Account
	req := pandasim.CreateAccountRequest{Type: typ, Name: name, FirstName: "F", LastName: "L", Email: name + "@example.com"}
	if st, code := w.api(http.MethodPost, pandasim.AccountsPrefix+"/"+parent, req, &a); st != http.StatusCreated {
		w.t.Fatalf("create %s under %s: %d %s", name, parent, st, code)
	}
	return a
}

func assetsPath(id string) string { return pandasim.AllocationsPrefix + "/" + id + "/assets" }

func summaryPath(id string) string { return assetsPath(id) + "/summary/software" }

// allocate POSTs an allocation and fails the test unless it is accepted.
func (w *wire) allocate(id, product, typ string, qty int) {
	w.t.Helper()
	if st, code := w.api(http.MethodPost, assetsPath(id), pandasim.AllocationRequest{ProductName: product, AllocationType: typ, Quantity: qty}, nil); st != http.StatusOK {
		w.t.Fatalf("allocate %d %s (%s) to %s: %d %s", qty, product, typ, id, st, code)
	}
}

func (w *wire) summary(id string) pandasim.SoftwareSummary {
	w.t.Helper()
	var s pandasim.SoftwareSummary
	if st, code := w.api(http.MethodGet, summaryPath(id), nil, &s); st != http.StatusOK {
		w.t.Fatalf("summary of %s: %d %s", id, st, code)
	}
	return s
}

// holdings reduces a summary to "PRODUCT/type=qty" strings for comparison.
func holdings(s pandasim.SoftwareSummary) []string {
	out := []string{}
	for _, a := range s.Allocations {
		out = append(out, fmt.Sprintf("%s/%s=%d", a.ProductName, a.AllocationType, a.Quantity))
	}
	return out
}

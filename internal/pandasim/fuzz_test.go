package pandasim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudbss/provisioning/internal/pandasim"
)

// FuzzRequestBody throws arbitrary bodies at the two create endpoints. The
// simulator must never panic, must answer one of the statuses the API
// documents with a JSON body, and anything it accepts must be valid by its
// own rules. Seeds live in testdata/fuzz/FuzzRequestBody; plain `go test`
// runs them.
func FuzzRequestBody(f *testing.F) {
	f.Add(false, `{"type":2,"name":"Acme","email":"it@acme.example"}`)
	f.Add(true, `{"username":"acme.admin","accountId":"ACC-0000001","email":"a@b.c","role":"OWNER"}`)
	h := newHarness(f)
	allowed := map[int]bool{201: true, 202: true, 400: true, 404: true, 409: true, 413: true}
	f.Fuzz(func(t *testing.T, operator bool, body string) {
		target := pandasim.AccountsPrefix + "/" + root
		if operator {
			target = pandasim.OperatorsPrefix + "/operators"
		}
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+h.tok)
		r.Header.Set("WatchGuard-API-Key", pandasim.DefaultAPIKey)
		rec := httptest.NewRecorder()
		h.sim.ServeHTTP(rec, r)
		if !allowed[rec.Code] {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
		switch rec.Code {
		case 201:
			var a pandasim.Account
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
			req := pandasim.CreateAccountRequest{Type: a.Type, Name: a.Name, FirstName: a.FirstName, LastName: a.LastName, Email: a.Email}
			if err := req.Validate(); err != nil || a.ParentID != root {
				t.Fatalf("accepted an invalid account %+v: %v", a, err)
			}
		case 202:
			var tx pandasim.Transaction
			if err := json.Unmarshal(rec.Body.Bytes(), &tx); err != nil {
				t.Fatal(err)
			}
			if tx.Status != "PENDING" || !pandasim.ValidUsername(tx.Username) {
				t.Fatalf("accepted %+v", tx)
			}
		}
	})
}

// FuzzAllocationBody throws arbitrary bodies at the three allocation writes
// of one subscriber under a reseller. Whatever sequence it accepts, the
// rules hold on the state: nobody is over-allocated, the subscriber holds
// at most one base product, no add-on exceeds its base products of the same
// type, no trial exceeds 250.
func FuzzAllocationBody(f *testing.F) {
	f.Add(uint8(0), `{"productName":"EPDR","allocationType":"subscription","quantity":10}`)
	f.Add(uint8(1), `{"productName":"EPDR","allocationType":"subscription","quantity":30}`)
	f.Add(uint8(0), `{"productName":"PATCH_MANAGEMENT","allocationType":"subscription","quantity":10}`)
	f.Add(uint8(0), `{"productName":"EPP","allocationType":"trial","quantity":250}`)
	f.Add(uint8(2), `{"productName":"EPDR","allocationType":"subscription"}`)
	h := newHarness(f, pandasim.WithRootInventory(map[string]int{"EPP": 500, "EPDR": 500, "PATCH_MANAGEMENT": 500}))
	sp := h.createAccount(root, 1, "reseller")
	sub := h.createAccount(sp.ID, 2, "customer")
	for _, b := range []string{`{"productName":"EPDR","allocationType":"subscription","quantity":20}`, `{"productName":"PATCH_MANAGEMENT","allocationType":"subscription","quantity":20}`} {
		if st, code := h.do(http.MethodPost, pandasim.AllocationsPrefix+"/"+sp.ID+"/assets", b, nil); st != 200 {
			f.Fatalf("setup: %d %s", st, code)
		}
	}
	methods := []string{http.MethodPost, http.MethodPut, http.MethodDelete}
	allowed := map[int]bool{200: true, 204: true, 400: true, 404: true, 409: true, 413: true}
	f.Fuzz(func(t *testing.T, method uint8, body string) {
		m := methods[int(method)%len(methods)]
		r := httptest.NewRequest(m, pandasim.AllocationsPrefix+"/"+sub.ID+"/assets", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+h.tok)
		r.Header.Set("WatchGuard-API-Key", pandasim.DefaultAPIKey)
		rec := httptest.NewRecorder()
		h.sim.ServeHTTP(rec, r)
		if !allowed[rec.Code] || (rec.Code != 204 && !json.Valid(rec.Body.Bytes())) {
			t.Fatalf("%s %q: status %d %q", m, body, rec.Code, rec.Body)
		}
		snap := h.sim.Snapshot()
		for _, inv := range snap.Inventory {
			for _, it := range inv.Items {
				if it.Unallocated < 0 {
					t.Fatalf("after %s %q: %s over-allocated: %+v", m, body, inv.AccountID, it)
				}
			}
		}
		bases, byType := 0, map[string]int{}
		for _, a := range snap.Allocations {
			if a.AccountID != sub.ID {
				continue
			}
			if a.AllocationType == pandasim.AllocationTrial && a.Quantity > pandasim.TrialMaxQuantity {
				t.Fatalf("trial of %d", a.Quantity)
			}
			if pandasim.IsBaseProduct(a.ProductName) {
				bases++
				byType[a.AllocationType] += a.Quantity
			}
		}
		if bases > 1 {
			t.Fatalf("after %s %q the subscriber holds %d base products", m, body, bases)
		}
		for _, a := range snap.Allocations {
			if a.AccountID == sub.ID && pandasim.IsAddonProduct(a.ProductName) && a.Quantity > byType[a.AllocationType] {
				t.Fatalf("after %s %q add-on %+v exceeds its base products %v", m, body, a, byType)
			}
		}
	})
}

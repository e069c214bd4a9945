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

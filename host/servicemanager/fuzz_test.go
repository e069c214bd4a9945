package servicemanager_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
)

// postRoutes are every route that takes a body.
var postRoutes = []string{
	"Accounts/Synchronize", "Accounts/Exists", "Accounts/Delete",
	"Subscriptions/Create", "Subscriptions/Update", "Subscriptions/UpgradeToPaid",
	"Subscriptions/Suspend", "Subscriptions/Activate", "Subscriptions/Cancel",
	"Addons/Create", "Addons/Update", "Addons/Cancel",
}

// FuzzBodies sends any body to every route: the answer is always the JSON
// envelope with a documented status, nothing panics, and no request with
// an empty account or subscription id reaches the host's mutating RPCs.
func FuzzBodies(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.request.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for i := range postRoutes {
			f.Add(uint8(i), b, false)
		}
	}
	f.Add(uint8(0), []byte(`{"ID":"C-1","SyncOptions":{"username":1e999}}`), true)
	f.Add(uint8(3), []byte(`{"ID":"S","Account":{"ID":"A"},"Quantity":-1,"Addons":[{"ProductID":"X"},{"ProductID":"X"}]}`), false)
	f.Add(uint8(3), []byte(`{"ID":"S","Account":{"ID":"A"},"AttributeList":[{"ID":"a","Value":true},{"Value":1}]}`), false)
	f.Add(uint8(0), []byte(`{"ID":"C-1","ResellerID":"C-1"}`), false)
	f.Add(uint8(0), []byte(`[]`), false)
	f.Add(uint8(0), []byte{0xff, '{'}, false)

	f.Fuzz(func(t *testing.T, route uint8, body []byte, checkOnly bool) {
		h := newFakeHost()
		customer(h)
		s := newServer(t, h)
		path := "/panda/api/" + postRoutes[int(route)%len(postRoutes)]
		if checkOnly {
			path += "?checkonly=true"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("X-CloudPlatform-ApplicationId", appID)
		req.Header.Set("X-CloudPlatform-APIKey", apiKey)
		rr := httptest.NewRecorder()
		s.ServeHTTP(rr, req)
		switch rr.Code {
		case 200, 400, 501, 503:
		default:
			t.Fatalf("status %d: %s", rr.Code, rr.Body)
		}
		var env struct {
			Code    *int
			Message string
		}
		if err := json.Unmarshal(rr.Body.Bytes(), &env); err != nil || env.Code == nil {
			t.Fatalf("not the envelope (%v): %s", err, rr.Body)
		}
		if rr.Code != 200 && *env.Code == 0 {
			t.Fatalf("status %d with Code 0", rr.Code)
		}
		for _, c := range h.requests() {
			switch r := c.(type) {
			case *hostv1.SynchronizeRequest:
				if r.GetRequest().GetAccount().GetId() == "" {
					t.Fatal("Synchronize without an account id")
				}
			case *hostv1.ProvisionSubscriptionRequest:
				if r.GetRequest().GetSubscription().GetId() == "" || r.GetRequest().GetSubscription().GetAccountId() == "" {
					t.Fatal("ProvisionSubscription without ids")
				}
				if checkOnly {
					t.Fatal("a check-only call provisioned")
				}
			}
		}
	})
}

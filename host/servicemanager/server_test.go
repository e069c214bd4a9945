package servicemanager_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudbss/provisioning/host/servicemanager"
)

func TestNewRefusesMissingCredentials(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		creds   map[string]servicemanager.Credentials
		wantErr string
	}{
		"none":       {creds: nil, wantErr: "no plugin has service_manager credentials"},
		"empty key":  {creds: map[string]servicemanager.Credentials{"panda": {ApplicationID: "a"}}, wantErr: "both required"},
		"empty id":   {creds: map[string]servicemanager.Credentials{"panda": {APIKey: "k"}}, wantErr: "both required"},
		"configured": {creds: map[string]servicemanager.Credentials{"panda": {ApplicationID: "a", APIKey: "k"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := servicemanager.New(newFakeHost(), tc.creds)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if name == "none" && !errors.Is(err, servicemanager.ErrNoCredentials) {
				t.Errorf("err = %v, want ErrNoCredentials", err)
			}
		})
	}
}

// Each plugin has its own credentials: another plugin's pair, a right id
// with a wrong key or the reverse, all answer 401 before any host call.
func TestAuthenticationPerPlugin(t *testing.T) {
	t.Parallel()
	f := newFakeHost()
	s, err := servicemanager.New(f, map[string]servicemanager.Credentials{
		"panda": {ApplicationID: "app-p", APIKey: "key-p"},
		"other": {ApplicationID: "app-o", APIKey: "key-o"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path, id, key string
		want          int
	}{
		"right":                     {"/panda/api/Accounts/SyncOptions", "app-p", "key-p", 200},
		"right, plugin in capitals": {"/Panda/API/accounts/syncoptions", "app-p", "key-p", 200},
		"other plugin's pair":       {"/panda/api/Accounts/SyncOptions", "app-o", "key-o", 401},
		"wrong key":                 {"/panda/api/Accounts/SyncOptions", "app-p", "key-o", 401},
		"wrong id":                  {"/panda/api/Accounts/SyncOptions", "app-o", "key-p", 401},
		"key prefix":                {"/panda/api/Accounts/SyncOptions", "app-p", "key-", 401},
		"empty":                     {"/panda/api/Accounts/SyncOptions", "", "", 401},
		"unknown route, no key":     {"/panda/api/Nothing/Here", "", "", 401},
		"unknown route":             {"/panda/api/Nothing/Here", "app-p", "key-p", 404},
		"no api segment":            {"/panda/Accounts/SyncOptions", "app-p", "key-p", 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("GET", tc.path, nil)
			req.Header.Set("X-CloudPlatform-ApplicationId", tc.id)
			req.Header.Set("X-CloudPlatform-APIKey", tc.key)
			rr := httptest.NewRecorder()
			s.ServeHTTP(rr, req)
			if rr.Code != tc.want {
				t.Errorf("status = %d, want %d: %s", rr.Code, tc.want, rr.Body)
			}
		})
	}
}

// Every log line of a call carries its X-CloudPlatform-TrackId, and none
// carries the API key or the body.
func TestLogsCarryTrackID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFakeHost()
	f.down = true
	s := newServer(t, f, servicemanager.WithLogger(log))
	for _, path := range []string{"/panda/api/Accounts/Synchronize", "/panda/api/Accounts/Exists"} {
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"ID":"C-1","Name":"n","Email":"secret-body@x.example"}`))
		req.Header.Set("X-CloudPlatform-ApplicationId", appID)
		req.Header.Set("X-CloudPlatform-APIKey", apiKey)
		req.Header.Set("X-CloudPlatform-TrackId", "trk-42\n")
		s.ServeHTTP(httptest.NewRecorder(), req)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("want a line per call, got %q", buf.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["track_id"] != "trk-42" {
			t.Errorf("line without the (cleaned) track id: %s", l)
		}
		if strings.Contains(l, apiKey) || strings.Contains(l, "secret-body") {
			t.Errorf("line leaks the key or the body: %s", l)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	s := newServer(t, newFakeHost(), servicemanager.WithMaxBodyBytes(64))
	req := httptest.NewRequest("POST", "/panda/api/Accounts/Synchronize", strings.NewReader(`{"ID":"`+strings.Repeat("x", 100)+`"}`))
	req.Header.Set("X-CloudPlatform-ApplicationId", appID)
	req.Header.Set("X-CloudPlatform-APIKey", apiKey)
	rr := httptest.NewRecorder()
	s.ServeHTTP(rr, req)
	if rr.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", rr.Code)
	}
}

func TestMetricsPerRouteAndCode(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := newFakeHost()
	s := newServer(t, f, servicemanager.WithMetrics(reg))
	call := func(path, key, body string) {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("X-CloudPlatform-ApplicationId", appID)
		req.Header.Set("X-CloudPlatform-APIKey", key)
		s.ServeHTTP(httptest.NewRecorder(), req)
	}
	good := `{"ID":"C-1","Name":"Initech","Email":"a@initech.example","SyncOptions":{"username":"initech"}}`
	call("/panda/api/Accounts/Synchronize", apiKey, good)
	call("/panda/api/accounts/synchronize", apiKey, good)
	call("/panda/api/Accounts/Synchronize", apiKey, `{"ID":"C-2","Name":"x","Email":"a@x.example","SyncOptions":{"role":"Boss"}}`)
	call("/panda/api/Accounts/Synchronize", "wrong", good)
	call("/evil-"+strings.Repeat("x", 10)+"/api/Accounts/Synchronize", apiKey, good)

	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "provisioning_service_manager_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			got[strings.Join(ls, ",")] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"code=0,plugin=panda,route=Accounts/Synchronize,status=200":   2,
		"code=-3,plugin=panda,route=Accounts/Synchronize,status=200":  1,
		"code=-16,plugin=panda,route=Accounts/Synchronize,status=401": 1,
		"code=-16,plugin=other,route=Accounts/Synchronize,status=401": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests_total (-want +got):\n%s", diff)
	}
}

// ExampleNew serves the endpoint for the plugin "panda" in front of a
// host. A storefront order's username arrives as the customer's email; the
// plugin refuses it, so the answer reports the plugin's suggestion.
func ExampleNew() {
	var host servicemanager.Host = newFakeHost() // in a daemon: hostv1.NewHostServiceClient(conn)
	s, err := servicemanager.New(host, map[string]servicemanager.Credentials{
		"panda": {ApplicationID: "interworks-app-id", APIKey: "from-a-secret-file"},
	})
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest("POST", "/panda/api/Accounts/Synchronize",
		strings.NewReader(`{"ID":"C-1","Name":"Initech","Email":"peter@initech.example","SyncOptions":{"username":"peter@initech.example"}}`))
	req.Header.Set("X-CloudPlatform-ApplicationId", "interworks-app-id")
	req.Header.Set("X-CloudPlatform-APIKey", "from-a-secret-file")
	rr := httptest.NewRecorder()
	s.ServeHTTP(rr, req)
	var res servicemanager.Result
	if err := json.Unmarshal(rr.Body.Bytes(), &res); err != nil {
		panic(err)
	}
	fmt.Println(rr.Code, res.Code, res.Result, res.AccountExtraInfo["username"])
	// Output: 200 0 REMOTE-C-1 suggested.user
}

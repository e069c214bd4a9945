package main_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/plugin/plugintest"
)

// --service-manager-listen with no plugin holding service_manager
// credentials refuses to start, before any plugin runs.
func TestServiceManagerNeedsCredentials(t *testing.T) {
	dir := t.TempDir()
	cat := filepath.Join(dir, "host.yaml")
	if err := os.WriteFile(cat, []byte("plugins:\n  - {name: panda, path: /nonexistent/provisioning-plugin-panda}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(plugintest.Build(t, daemonPkg), "--config", cat, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--service-manager-listen", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "no plugin in the catalog has service_manager credentials") {
		t.Fatalf("%v, stderr:\n%s", err, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("it printed %q", stdout.String())
	}
}

// The endpoint serves the plugin whose catalog entry has credentials, over
// the daemon's own HostService: a gRPC bearer token does not apply to it,
// interworks' headers do; its URL is the second stdout line.
func TestDaemonServiceManager(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("grpc-only-token-0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_SM_KEY", "sm-key-secret-456")
	d := startDaemon(t, daemonConfig{
		flags: []string{"--auth-token-file", tokenFile, "--service-manager-listen", "127.0.0.1:0"},
		entry: "    service_manager:\n      application_id: test-app\n      api_key: env:TEST_SM_KEY\n",
	})
	var url string
	select {
	case l := <-d.stdout:
		var ok bool
		if url, ok = strings.CutPrefix(l, "provisioning-host service manager listening on "); !ok {
			t.Fatalf("second stdout line %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no service manager line")
	}
	call := func(key string) (int, map[string]any) {
		req, err := http.NewRequest("GET", url+"/"+strings.ToUpper(plug)+"/api/Accounts/SyncOptions", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-CloudPlatform-ApplicationId", "test-app")
		req.Header.Set("X-CloudPlatform-APIKey", key)
		req.Header.Set("X-CloudPlatform-TrackId", "daemon-test-track")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}
	if code, body := call("sm-key-secret-456"); code != 200 || body["Fields"] == nil {
		t.Errorf("right key: HTTP %d %v", code, body)
	}
	if code, _ := call("grpc-only-token-0123456789abcdef0123"); code != 401 {
		t.Errorf("wrong key: HTTP %d, want 401", code)
	}
	d.stop(t)
	logs := d.stderr.String()
	if !strings.Contains(logs, `"track_id":"daemon-test-track"`) {
		t.Errorf("no log line with the track id:\n%s", logs)
	}
	if strings.Contains(logs, "sm-key-secret-456") {
		t.Error("the API key reached the log")
	}
}

// With --tls-cert/--tls-key the endpoint serves HTTPS with the gRPC port's
// certificate; --client-ca does not apply to it (interworks authenticates
// with its application id and key).
func TestDaemonServiceManagerTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	issue(t, ca, caKey, "localhost", x509.ExtKeyUsageServerAuth, filepath.Join(dir, "server"))
	t.Setenv("TEST_SM_KEY", "sm-key-secret-789")
	d := startDaemon(t, daemonConfig{
		flags: []string{"--tls-cert", filepath.Join(dir, "server.pem"), "--tls-key", filepath.Join(dir, "server-key.pem"),
			"--client-ca", filepath.Join(dir, "ca.pem"), "--service-manager-listen", "127.0.0.1:0"},
		entry: "    service_manager:\n      application_id: test-app\n      api_key: env:TEST_SM_KEY\n",
	})
	var url string
	select {
	case l := <-d.stdout:
		url, _ = strings.CutPrefix(l, "provisioning-host service manager listening on ")
	case <-time.After(10 * time.Second):
		t.Fatal("no service manager line")
	}
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("URL %q, want https", url)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	req, err := http.NewRequest("GET", url+"/"+plug+"/api/Accounts/SyncOptions", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-CloudPlatform-ApplicationId", "test-app")
	req.Header.Set("X-CloudPlatform-APIKey", "sm-key-secret-789")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HTTPS call: HTTP %d", resp.StatusCode)
	}
}

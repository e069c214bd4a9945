package pandaapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudbss/provisioning/internal/pandaapi"
)

// FuzzAnswer feeds the client whatever a remote may answer, token endpoint
// and API alike: any status, any body, any Retry-After. The client never
// panics, and its errors never carry the password or the API key, not even
// the start of them, and stay valid UTF-8 when the answer was.
func FuzzAnswer(f *testing.F) {
	const (
		password = "fuzz-password-0123456789"
		apiKey   = "fuzz-api-key-9876543210"
	)
	for _, s := range []struct {
		status      int
		body, retry string
	}{
		{200, `{"access_token":"abc","expires_in":3600}`, ""},
		{200, `{"id":"ACC-1","type":2}`, ""},
		{400, `{"error":{"code":"INVALID","message":"bad"}}`, ""},
		{401, `{"error":"invalid_client","error_description":"client secret ` + password + ` is wrong"}`, ""},
		{404, `not json at all`, ""},
		{409, `{"error":{"code":"TIER_LIMIT"}}`, ""},
		{429, `{}`, "2"},
		{429, ``, "Wed, 21 Oct 2015 07:28:00 GMT"},
		{500, strings.Repeat("x", 195) + password, ""},
		{500, strings.Repeat("x", 190) + password, ""},
		{502, `{"error":{"code":"X","message":"` + strings.Repeat("y", 190) + password + `"}}`, ""},
		{503, strings.Repeat("é", 150), "-1"},
		{503, "x" + strings.Repeat("é", 150), ""},
		{200, `{"access_token":"x","token_type":"` + password + `"}`, ""},
		{200, `{"access_token":"` + apiKey + `","expires_in":-5}`, ""},
	} {
		f.Add(s.status, []byte(s.body), s.retry)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, retry string) {
		if status < 100 || status > 599 {
			return
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.ContainsAny(retry, "\r\n") {
				retry = ""
			}
			if retry != "" {
				w.Header().Set("Retry-After", retry)
			}
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		c, err := pandaapi.New(pandaapi.Config{BaseURL: srv.URL, AccessID: "fuzz", Password: password, APIKey: apiKey},
			pandaapi.WithRetry(2, time.Microsecond, time.Microsecond))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err = c.GetAccount(ctx, "ACC-0000001")
		if err == nil {
			return
		}
		msg := err.Error()
		for _, secret := range []string{password, apiKey} {
			if strings.Contains(msg, secret[:8]) {
				t.Fatalf("the error carries (the start of) a secret: %q", msg)
			}
		}
		if utf8.Valid(body) && !utf8.ValidString(msg) {
			t.Fatalf("valid UTF-8 answer, invalid UTF-8 error: %q", msg)
		}
	})
}

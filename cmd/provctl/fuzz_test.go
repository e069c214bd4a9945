package main

import (
	"strings"
	"testing"
)

// FuzzDecodeBatchItem: a sync-batch line never panics the decoder, and an
// accepted line always has an account with an id.
func FuzzDecodeBatchItem(f *testing.F) {
	for _, s := range []string{
		`{"account": {"id": "C-1", "type": "ACCOUNT_TYPE_CUSTOMER", "parent_id": "R-1"}, "values": {"username": "acme"}}`,
		`{"account": {"id": "R-1", "type": "ACCOUNT_TYPE_RESELLER"}, "ancestors": [{"account": {"id": "X"}}]}`,
		`{"account": {}}`, `{"values": {"a": "b"}}`, `{}`, `[]`, `null`, `{"account": {"id": "\ud800"}}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		item, err := decodeBatchItem(line)
		if err != nil {
			return
		}
		if item.GetAccount().GetId() == "" {
			t.Fatalf("accepted a line without an account id: %q", line)
		}
	})
}

// FuzzParseSettings: a settings file never panics the parser, and an error
// never quotes the file's content: a secret pasted in the wrong place must
// not reach the terminal.
func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{
		"api_url: http://127.0.0.1:8085\npassword: env:PANDA_PASSWORD\nmax_tiers: 3\n",
		`{"api_url": "http://x", "debug": true}`,
		"s3cret-value-9", "- s3cret-value-9\n", "password: [s3cret-value-9]\n", "a: {b: c}", "", "~", ": :",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := parseSettings(data, "settings.yaml")
		if err == nil {
			return
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("the error quotes the file: %v", err)
		}
	})
}

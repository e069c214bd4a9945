package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// TestTablesEscapeControlCharacters: ids, names, values and messages
// come from callers and plugins; a table prints their control characters
// (terminal escapes, carriage returns, bidi overrides) escaped, never raw.
func TestTablesEscapeControlCharacters(t *testing.T) {
	t.Parallel()
	const evil = "A\x1b[2J\x07\u202eB\xff\rC"
	tests := map[string]func(*bytes.Buffer) error{
		"records": func(b *bytes.Buffer) error {
			return renderRecords(b, []*provisioningv1.SyncRecord{{Plugin: evil, AccountId: evil, RemoteId: evil, Message: evil}})
		},
		"record": func(b *bytes.Buffer) error {
			return renderRecord(b, &provisioningv1.SyncRecord{Plugin: evil, AccountId: evil, Values: map[string]string{evil: evil}},
				[2]string{"Created", evil})
		},
		"plugins": func(b *bytes.Buffer) error {
			return renderPlugins(b, []*hostv1.Plugin{{Name: evil, DisplayName: evil, Path: evil, LastError: evil}})
		},
		"subscriptions": func(b *bytes.Buffer) error {
			return renderSubscriptionRecords(b, []*provisioningv1.SubscriptionRecord{{Plugin: evil, SubscriptionId: evil, AccountId: evil, Message: evil}})
		},
		"subscription": func(b *bytes.Buffer) error {
			return renderSubscriptionRecord(b, &provisioningv1.SubscriptionRecord{Plugin: evil, SubscriptionId: evil, AccountId: evil,
				Attributes: map[string]string{evil: evil}})
		},
	}
	for name, render := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := render(&b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, r := range out {
				if r != '\n' && !unicode.IsPrint(r) {
					t.Errorf("raw %U in the table:\n%q", r, out)
					break
				}
			}
			if !strings.Contains(out, `A\x1b[2J\x07\u202eB\xff`) {
				t.Errorf("the id is not shown escaped:\n%s", out)
			}
		})
	}
}

func TestOneLineEscapes(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff(`x\x1b[31m y \u202e`, oneLine("x\x1b[31m\n y \u202e")); diff != "" {
		t.Error(diff)
	}
}

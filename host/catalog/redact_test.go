package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cloudbss/provisioning/host/catalog"
)

// A secret written where the catalog wants a map (a typo in the
// indentation) must not reach the daemon's log through the parse error.
func TestParseErrorQuotesNoValue(t *testing.T) {
	t.Parallel()
	_, err := catalog.Parse([]byte("plugins:\n  - name: panda\n    path: /x\n    settings: hunter2-secret\n"), "/tmp")
	if !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if strings.Contains(err.Error(), "hunter") {
		t.Errorf("the error quotes the value: %v", err)
	}
}

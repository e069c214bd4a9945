package host_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/host/catalog"
)

// A plugin's stderr line longer than go-plugin's 64 KB buffer is logged,
// cut to its first KBs with a marker, as one record: it used to vanish.
func TestLongStderrLineIsCutAndKept(t *testing.T) {
	t.Parallel()
	f := start(t, catalog.Entry{Env: map[string]string{"TESTPLUGIN_STDERR_LINE": "200000"}})
	if err := f.h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.logs.String(), "after the long line") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var long []string
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, "BEGINxxx") {
			long = append(long, l)
		}
	}
	if len(long) != 1 {
		t.Fatalf("the long line is in %d records, want 1", len(long))
	}
	l := long[0]
	if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "[cut: 200000 bytes]") || len(l) > 20_000 {
		t.Errorf("record of the long line (%d bytes) = %.300s...; want a WARN cut to its first KBs with a marker", len(l), l)
	}
	if !strings.Contains(f.logs.String(), "after the long line") {
		t.Error("the line after the long one is lost")
	}
}

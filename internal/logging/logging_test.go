package logging_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cloudbss/provisioning/internal/logging"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		format, level string
		wantErr       bool
		want          string // in the output of an Info line
	}{
		"text":        {format: "text", level: "info", want: "msg=hello"},
		"json":        {format: "json", level: "debug", want: `"msg":"hello"`},
		"above level": {format: "text", level: "warn", want: ""},
		"bad format":  {format: "xml", level: "info", wantErr: true},
		"bad level":   {format: "text", level: "loud", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l, err := logging.New(tc.format, tc.level, &buf)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%q, %q) error = %v, want error %v", tc.format, tc.level, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			l.Info("hello")
			if got := buf.String(); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("logged %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

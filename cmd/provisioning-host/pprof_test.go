package main

import (
	"io"
	"testing"
)

func TestPprofNeedsMetricsListen(t *testing.T) {
	t.Parallel()
	if _, err := parseFlags([]string{"--config", "host.yaml", "--pprof"}, io.Discard); err == nil {
		t.Error("--pprof without --metrics-listen was accepted")
	}
	c, err := parseFlags([]string{"--config", "host.yaml", "--pprof", "--metrics-listen", "127.0.0.1:0"}, io.Discard)
	if err != nil || !c.pprof {
		t.Errorf("--pprof --metrics-listen: %v, %+v", err, c)
	}
}

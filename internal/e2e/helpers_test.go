package e2e_test

import (
	"strings"
	"time"

	"github.com/cloudbss/provisioning/internal/pandasim"
)

// redactAll hides secrets in a line before it is printed in a failure.
func redactAll(s string, secrets ...string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "[SECRET]")
		}
	}
	return s
}

func loadtestLatency(d time.Duration) pandasim.Faults {
	return pandasim.Faults{Latency: pandasim.Duration(d)}
}

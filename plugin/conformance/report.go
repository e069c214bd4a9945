package conformance

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status int

// Outcomes of a check.
const (
	// Pass: the plugin did what the contract says.
	Pass Status = iota
	// Fail: the plugin departed from the contract; the message says how.
	Fail
	// Skip: the check could not run (a capability the plugin does not
	// claim, a hook the config does not give, a check it depends on failed).
	Skip
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText writes the status as "PASS", "FAIL" or "SKIP", for JSON reports.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is the outcome of one check.
type Result struct {
	// Name is the check's name, one of [CheckNames].
	Name string `json:"name"`
	// Status says whether it passed.
	Status Status `json:"status"`
	// Message is every problem found, one per line, or why it was skipped.
	Message string `json:"message,omitempty"`
	// Duration is how long the check took.
	Duration time.Duration `json:"duration_ns"`
}

// Report is the outcome of a whole run of the suite.
type Report struct {
	// Plugin and Version are what the plugin reported in GetPluginInfo.
	Plugin  string `json:"plugin"`
	Version string `json:"version"`
	// RunID is the token that made this run's account ids unique.
	RunID string `json:"run_id"`
	// Results are in the order the checks ran.
	Results []Result `json:"results"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, res := range r.Results {
		if res.Status == Fail {
			return true
		}
	}
	return false
}

// Result returns the result of the named check, and false if it did not run.
func (r *Report) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Name == name {
			return res, true
		}
	}
	return Result{}, false
}

// Count returns how many checks ended with s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// WriteText writes r as a table, one check a line, the messages of failed
// and skipped checks indented below them, and a summary line.
func (r *Report) WriteText(w io.Writer) error {
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "conformance of plugin %q %s (run %s)\n", r.Plugin, r.Version, r.RunID)
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%s  %-*s  %s\n", res.Status, width, res.Name, res.Duration.Round(time.Millisecond))
		if res.Message != "" && res.Status != Pass {
			for line := range strings.SplitSeq(res.Message, "\n") {
				fmt.Fprintf(&b, "        %s\n", line)
			}
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped\n", r.Count(Pass), r.Count(Fail), r.Count(Skip))
	_, err := io.WriteString(w, b.String())
	return err
}

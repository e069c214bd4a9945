// Command benchsummary prints the four performance rows of `make bench` side
// by side, each as an absolute figure and a ratio against its reference path
// measured in the same invocation, with its target:
//
//   - the plugin boundary: bulk through the plugin process vs the adapter
//     linked into the host (loadtest -scenario boundary);
//   - bulk through provisioning-host, accounts/s (the same runs);
//   - one call through the daemon vs through go-plugin directly
//     (BenchmarkCall, via=daemon vs via=goplugin);
//   - cold start, spawn → first answer (BenchmarkColdStart, via=sdk and
//     via=host).
//
// It reads the raw output `make bench` keeps: the Go benchmarks' (-go,
// bench.txt) and the loadtest's (-load, bench-load.txt). Every figure is a
// median over the runs found; a ratio is the median of the per-run ratios,
// the i-th run of one path against the i-th of the other (the boundary
// scenario alternates its two paths; `go test -count` runs each
// sub-benchmark n times in a row), all in one invocation. The machine is
// shared, so the load average at the time of the summary is printed with it,
// and the boundary row adds CPU per account, which the other tenants' load
// moves less than throughput.
//
//	go run ./internal/bench/cmd/benchsummary -go bench.txt -load bench-load.txt
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	goFile := flag.String("go", "bench.txt", "raw `go test -bench` output of ./internal/bench (several -count)")
	loadFile := flag.String("load", "bench-load.txt", "loadtest output with the boundary scenario's runs")
	flag.Parse()
	if err := run(os.Stdout, *goFile, *loadFile); err != nil {
		fmt.Fprintln(os.Stderr, "benchsummary:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, goFile, loadFile string) error {
	var gob, load string
	if b, err := os.ReadFile(goFile); err == nil {
		gob = string(b)
	} else if !os.IsNotExist(err) {
		return err
	}
	if b, err := os.ReadFile(loadFile); err == nil {
		load = string(b)
	} else if !os.IsNotExist(err) {
		return err
	}
	if gob == "" && load == "" {
		return fmt.Errorf("neither %s nor %s holds results: run make bench-go and make bench-load first", goFile, loadFile)
	}
	s := summarize(parseGoBench(strings.NewReader(gob)), parseLoad(strings.NewReader(load)))
	s.LoadAvg = loadAvg()
	s.print(w)
	return nil
}

// loadAvg is /proc/loadavg's first three fields, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

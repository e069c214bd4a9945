package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// benchPkg is the package whose benchmarks hold the call paths and the cold
// start; other packages' benchmarks of the same name (host's ColdStart) are
// not these rows.
const benchPkg = "github.com/cloudbss/provisioning/internal/bench"

// goRuns maps a benchmark's name, without the -GOMAXPROCS suffix, to its
// ns/op figures in the order of the runs.
type goRuns map[string][]float64

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseGoBench reads `go test -bench` output and keeps the ns/op of the
// benchmarks of benchPkg (all of them when no "pkg:" line names a package).
func parseGoBench(r io.Reader) goRuns {
	out := goRuns{}
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") || (pkg != "" && pkg != benchPkg) {
			continue
		}
		f := strings.Fields(line)
		for i := 2; i+1 < len(f); i++ {
			if f[i+1] != "ns/op" {
				continue
			}
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				name := procSuffix.ReplaceAllString(f[0], "")
				out[name] = append(out[name], v)
			}
			break
		}
	}
	return out
}

// loadRuns is what the loadtest output says of the boundary scenario: the
// accounts/s of each run through the plugin process and linked in, by run.
type loadRuns struct {
	plugin, inprocess []float64
	// pluginCPU and inprocessCPU are the same runs' CPU time of every
	// process per account, µs: on a shared machine the steadier figure,
	// since throughput also follows the other tenants' load.
	pluginCPU, inprocessCPU []float64
	// bulk is the bulk scenario's runs (plugin process), a fallback for the
	// second row when no boundary run is found.
	bulk []float64
	// machine is the loadtest's "# ..." line: the machine and its load.
	machine string
}

var (
	boundaryLine  = regexp.MustCompile(`^boundary run \d+, (plugin process|adapter in-process): .*accounts/s=([0-9.]+)`)
	cpuPerAccount = regexp.MustCompile(`\(([0-9.]+)us/account\)`)
	bulkLine      = regexp.MustCompile(`^bulk run \d+: .*accounts/s=([0-9.]+)`)
)

func parseLoad(r io.Reader) loadRuns {
	var l loadRuns
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") && l.machine == "" {
			l.machine = strings.TrimPrefix(line, "# ")
		}
		if m := boundaryLine.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			var cpu float64
			if c := cpuPerAccount.FindStringSubmatch(line); c != nil {
				cpu, _ = strconv.ParseFloat(c[1], 64)
			}
			if m[1] == "plugin process" {
				l.plugin = append(l.plugin, v)
				l.pluginCPU = append(l.pluginCPU, cpu)
			} else {
				l.inprocess = append(l.inprocess, v)
				l.inprocessCPU = append(l.inprocessCPU, cpu)
			}
		}
		if m := bulkLine.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			l.bulk = append(l.bulk, v)
		}
	}
	return l
}

// row is one line of the summary.
type row struct {
	path, measured, ratio, target string
	// met is "yes", "no" or "-" (nothing measured).
	met string
}

type summary struct {
	rows    []row
	machine string
	LoadAvg string
}

const (
	boundaryTarget = 0.15 // of throughput
	bulkTarget     = 2000 // accounts/s
	daemonTarget   = 2.1  // × go-plugin
	coldTarget     = 20e6 // ns
)

func summarize(g goRuns, l loadRuns) summary {
	s := summary{machine: l.machine}

	// 1. The boundary: the per-run cost pairs the runs, which alternate.
	n := min(len(l.plugin), len(l.inprocess))
	if n == 0 {
		s.rows = append(s.rows, row{"plugin boundary: bulk through the plugin process vs the adapter linked in", "no boundary run found", "", "< 15%", "-"})
	} else {
		cost := make([]float64, n)
		for i := range n {
			cost[i] = 1 - l.plugin[i]/l.inprocess[i]
		}
		c := median(cost)
		measured := fmt.Sprintf("%.0f vs %.0f accounts/s (%d runs)", median(l.plugin[:n]), median(l.inprocess[:n]), n)
		ratio := fmt.Sprintf("cost %.1f%%", 100*c)
		if median(l.pluginCPU[:n]) > 0 && median(l.inprocessCPU[:n]) > 0 {
			// The CPU the boundary adds per account, as a share of the
			// plugin path's: the throughput it costs where CPU is the limit.
			extra := make([]float64, n)
			for i := range n {
				extra[i] = 1 - l.inprocessCPU[i]/l.pluginCPU[i]
			}
			measured += fmt.Sprintf("; CPU %.0f vs %.0f µs/account", median(l.pluginCPU[:n]), median(l.inprocessCPU[:n]))
			ratio += fmt.Sprintf(" of throughput, %.1f%% of CPU", 100*median(extra))
		}
		s.rows = append(s.rows, row{
			"plugin boundary: bulk through the plugin process vs the adapter linked in",
			measured, ratio, "< 15%", yesNo(c < boundaryTarget),
		})
	}

	// 2. Bulk through the daemon, with the in-process host beside it.
	switch {
	case len(l.plugin) > 0:
		r := median(l.plugin)
		ratio := "-"
		if len(l.inprocess) > 0 {
			ratio = fmt.Sprintf("%.2fx of in-process (%.0f accounts/s)", r/median(l.inprocess), median(l.inprocess))
		}
		s.rows = append(s.rows, row{"bulk through provisioning-host", fmt.Sprintf("%.0f accounts/s (%d runs)", r, len(l.plugin)), ratio, ">= 2000 accounts/s", yesNo(r >= bulkTarget)})
	case len(l.bulk) > 0:
		r := median(l.bulk)
		s.rows = append(s.rows, row{"bulk through provisioning-host", fmt.Sprintf("%.0f accounts/s (%d runs)", r, len(l.bulk)), "-", ">= 2000 accounts/s", yesNo(r >= bulkTarget)})
	default:
		s.rows = append(s.rows, row{"bulk through provisioning-host", "no bulk run found", "", ">= 2000 accounts/s", "-"})
	}

	// 3. The daemon hop, per RPC.
	var measured, ratios []string
	met := "-"
	for _, rpc := range []string{"GetPluginInfo", "ValidateSyncOptions"} {
		d := g["BenchmarkCall/rpc="+rpc+"/via=daemon"]
		p := g["BenchmarkCall/rpc="+rpc+"/via=goplugin"]
		k := min(len(d), len(p))
		if k == 0 {
			continue
		}
		rs := make([]float64, k)
		for i := range k {
			rs[i] = d[i] / p[i]
		}
		r := median(rs)
		measured = append(measured, fmt.Sprintf("%s %.0f vs %.0f µs (%d runs)", rpc, median(d[:k])/1e3, median(p[:k])/1e3, k))
		ratios = append(ratios, fmt.Sprintf("%.2fx", r))
		if met != "no" {
			met = yesNo(r <= daemonTarget)
		}
	}
	if len(measured) == 0 {
		measured = []string{"no BenchmarkCall run found"}
	}
	s.rows = append(s.rows, row{"one call: daemon vs go-plugin directly", strings.Join(measured, "; "), strings.Join(ratios, "; "), "<= 2.1x", met})

	// 4. Cold start.
	sdk, hst := g["BenchmarkColdStart/via=sdk"], g["BenchmarkColdStart/via=host"]
	if len(sdk) == 0 {
		s.rows = append(s.rows, row{"cold start, spawn -> first answer", "no BenchmarkColdStart run found", "", "<= 20 ms", "-"})
	} else {
		m := fmt.Sprintf("SDK %.1f ms (%d runs)", median(sdk)/1e6, len(sdk))
		ratio, worst := "-", median(sdk)
		if len(hst) > 0 {
			m += fmt.Sprintf(", host library %.1f ms (%d runs)", median(hst)/1e6, len(hst))
			ratio = fmt.Sprintf("host/SDK %.2fx", median(hst)/median(sdk))
			worst = max(worst, median(hst))
		}
		s.rows = append(s.rows, row{"cold start, spawn -> first answer", m, ratio, "<= 20 ms", yesNo(worst <= coldTarget)})
	}
	return s
}

func (s summary) print(w io.Writer) {
	fmt.Fprintf(w, "\nPerformance summary: medians of the runs in this invocation; load average now %s\n", s.LoadAvg)
	if s.machine != "" {
		fmt.Fprintf(w, "loadtest machine line: %s\n", s.machine)
	}
	fmt.Fprintln(w, "| path | measured | ratio | target | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- |")
	for _, r := range s.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.path, r.measured, r.ratio, r.target, r.met)
	}
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

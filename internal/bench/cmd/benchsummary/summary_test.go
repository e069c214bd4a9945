package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const goOut = `goos: linux
pkg: github.com/cloudbss/provisioning/host
BenchmarkColdStart-2   	      10	  99000000 ns/op
pkg: github.com/cloudbss/provisioning/internal/bench
BenchmarkCall/rpc=GetPluginInfo/via=goplugin-2         	    5000	    200000 ns/op	    9000 B/op	     150 allocs/op
BenchmarkCall/rpc=GetPluginInfo/via=daemon-2           	    2000	    500000 ns/op	   20000 B/op	     300 allocs/op
BenchmarkCall/rpc=ValidateSyncOptions/via=goplugin-2   	    5000	    300000 ns/op
BenchmarkCall/rpc=ValidateSyncOptions/via=daemon-2     	    2000	    600000 ns/op
BenchmarkCall/rpc=GetPluginInfo/via=goplugin-2         	    5000	    100000 ns/op
BenchmarkCall/rpc=GetPluginInfo/via=daemon-2           	    2000	    200000 ns/op
BenchmarkCall/rpc=ValidateSyncOptions/via=goplugin-2   	    5000	    300000 ns/op
BenchmarkCall/rpc=ValidateSyncOptions/via=daemon-2     	    2000	    600000 ns/op
BenchmarkCall/rpc=GetPluginInfo/via=goplugin-2         	    5000	    100000 ns/op
BenchmarkCall/rpc=GetPluginInfo/via=daemon-2           	    2000	    300000 ns/op
BenchmarkCall/rpc=ValidateSyncOptions/via=goplugin-2   	    5000	    300000 ns/op
BenchmarkCall/rpc=ValidateSyncOptions/via=daemon-2     	    2000	    600000 ns/op
BenchmarkColdStart/via=sdk-2   	      30	  18000000 ns/op
BenchmarkColdStart/via=host-2  	      30	  25000000 ns/op
BenchmarkColdStart/via=sdk-2   	      30	  19000000 ns/op
BenchmarkColdStart/via=host-2  	      30	  21000000 ns/op
BenchmarkColdStart/via=sdk-2   	      30	  17000000 ns/op
BenchmarkColdStart/via=host-2  	      30	  22000000 ns/op
PASS
`

const loadOut = `# 2026-11-30 05:10 UTC, 2 CPUs (Intel(R) Xeon(R) Processor), 24 GiB RAM, go1.26.8, load average 15.27 13.03 12.53
bulk run 1: accounts=10000 elapsed=5s accounts/s=2000 host_rss=37.8MB
boundary run 1, plugin process: accounts=10000 elapsed=10.679s accounts/s=900 host_rss=37.8MB cpu sim=1s (1000us/account)
boundary run 1, adapter in-process: accounts=10000 elapsed=9.005s accounts/s=1000 host_rss=36.7MB cpu sim=1s (800us/account)
boundary run 2, plugin process: accounts=10000 elapsed=13.004s accounts/s=700 host_rss=40.8MB (1200us/account)
boundary run 2, adapter in-process: accounts=10000 elapsed=11.044s accounts/s=1000 host_rss=38.2MB (900us/account)
boundary run 3, plugin process: accounts=10000 elapsed=11.753s accounts/s=2100 host_rss=38.6MB (1000us/account)
boundary run 3, adapter in-process: accounts=10000 elapsed=8.087s accounts/s=2200 host_rss=37.2MB (900us/account)
RESULT boundary accounts=10000 concurrency=32 runs=3 median: plugin-process=851 accounts/s
`

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		goOut, loadOut string
		want           []row
	}{
		"every row": {
			goOut: goOut, loadOut: loadOut,
			want: []row{
				// Per-run costs 10%, 30%, 4.5%: the median pairs runs; CPU
				// 20%, 25%, 10%.
				{"plugin boundary: bulk through the plugin process vs the adapter linked in", "900 vs 1000 accounts/s (3 runs); CPU 1000 vs 900 µs/account", "cost 10.0% of throughput, 20.0% of CPU", "< 15%", "yes"},
				{"bulk through provisioning-host", "900 accounts/s (3 runs)", "0.90x of in-process (1000 accounts/s)", ">= 2000 accounts/s", "no"},
				// GetPluginInfo per-run ratios 2.5, 2, 3: median 2.5, though
				// the ratio of the medians would be 2.0.
				{"one call: daemon vs go-plugin directly", "GetPluginInfo 300 vs 100 µs (3 runs); ValidateSyncOptions 600 vs 300 µs (3 runs)", "2.50x; 2.00x", "<= 2.1x", "no"},
				{"cold start, spawn -> first answer", "SDK 18.0 ms (3 runs), host library 22.0 ms (3 runs)", "host/SDK 1.22x", "<= 20 ms", "no"},
			},
		},
		"bulk only, no Go benchmarks": {
			loadOut: "bulk run 1: accounts/s=2100\nbulk run 2: accounts/s=1900\nbulk run 3: accounts/s=2050\n",
			want: []row{
				{"plugin boundary: bulk through the plugin process vs the adapter linked in", "no boundary run found", "", "< 15%", "-"},
				{"bulk through provisioning-host", "2050 accounts/s (3 runs)", "-", ">= 2000 accounts/s", "yes"},
				{"one call: daemon vs go-plugin directly", "no BenchmarkCall run found", "", "<= 2.1x", "-"},
				{"cold start, spawn -> first answer", "no BenchmarkColdStart run found", "", "<= 20 ms", "-"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := summarize(parseGoBench(strings.NewReader(tc.goOut)), parseLoad(strings.NewReader(tc.loadOut)))
			if diff := cmp.Diff(tc.want, s.rows, cmp.AllowUnexported(row{})); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGoBenchSkipsOtherPackages(t *testing.T) {
	t.Parallel()
	g := parseGoBench(strings.NewReader(goOut))
	if diff := cmp.Diff([]float64{18e6, 19e6, 17e6}, g["BenchmarkColdStart/via=sdk"]); diff != "" {
		t.Errorf("via=sdk (-want +got):\n%s", diff)
	}
	if _, ok := g["BenchmarkColdStart"]; ok {
		t.Error("host's BenchmarkColdStart was kept; it is another package's")
	}
}

// Package bench holds the Go benchmarks that cross packages: what one
// adapter call costs in-process, over raw gRPC on a unix socket, through
// go-plugin (a plugin subprocess, AutoMTLS), through the host library and
// through the daemon, all in one run so that their ratios are measured on
// the same machine at the same moment; and the cold start of the Panda
// plugin. The throughput of whole batches is measured by
// internal/loadtest/cmd/loadtest.
//
//	go test -run '^$' -bench . -count 6 ./internal/bench | tee bench.txt
//	go tool -modfile=tools/go.mod benchstat -col /via bench.txt
//
// The package has no non-test code: nothing may import it.
package bench

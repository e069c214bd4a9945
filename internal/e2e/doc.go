// Package e2e holds the chaos, reliability and security tests of the whole
// system: real pandasim, real provisioning-host daemon, real Panda plugin
// subprocess, real provctl, all on loopback, started through
// internal/loadtest. The binaries are built once, without the race
// detector, so under `go test -race` only the test driver is instrumented.
//
// `go test ./internal/e2e` (and so `make test`) runs every test at a small
// size, in seconds. `make chaos` runs them at full size; the sizes come from
// the environment:
//
//	CHAOS_ACCOUNTS   accounts in the chaos and daemon-kill batches (default 150; full 2000)
//	CHAOS_KILLS      plugin SIGKILLs during the chaos batch (default 2; full 5)
//	CHAOS_429        fraction of API requests answered 429 at random by a proxy (default 0.05)
//	CHAOS_RATE       pandasim's rate limit in the chaos run, requests/s (default 0: none)
//	CHAOS_SEED       seed of the random kill moments (default: the clock; logged)
//	E2E_VERBOSE=1    echo every log line of the processes
//
// The package has no non-test code on purpose: nothing may import it.
package e2e

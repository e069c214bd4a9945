// Package loadtest drives the real binaries of the project (pandasim,
// provisioning-host with the Panda plugin, provctl) on loopback, the way an
// operator would, and measures them: throughput of provctl sync-batch, peak
// memory (VmHWM) of the daemon and of its plugin process, and the
// simulator's request counters.
//
// It is the harness behind `make bench` (command internal/loadtest/cmd/loadtest)
// and the chaos, reliability and security tests of internal/e2e. Pieces:
//
//   - [Build] compiles the commands once, without the race detector, so a
//     test run under -race instruments only its own driver.
//   - [StartSim] and [StartHost] start pandasim and the daemon on free ports
//     and read their "listening on" lines; every log line goes to a [Logs].
//   - [Hierarchy] writes N resellers × M end customers plus direct customers
//     as the JSON lines provctl sync-batch reads.
//   - [SyncBatch] runs provctl and counts the outcomes.
//   - [Verify] checks the simulator's state and the host's store against
//     the generated accounts: each synchronized exactly once, parents right.
//   - [FaultProxy] sits in front of pandasim and answers a fraction of the
//     API requests 429, the one fault the simulator injects only as a rate
//     limit.
//
// It must not be imported by production code: it kills processes, opens
// files in temporary folders and trusts its inputs.
package loadtest

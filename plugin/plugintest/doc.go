// Package plugintest helps test provisioning plugins: [InProcess] serves an
// adapter over an in-memory gRPC connection for fast unit tests, and [Build]
// with [Launch] compile a plugin's main package and run it as a real
// subprocess through go-plugin with AutoMTLS, as a host would, for
// integration tests.
//
// It is for tests only: nothing here belongs in a production host.
package plugintest

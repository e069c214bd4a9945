// Package adaptermock holds go.uber.org/mock mocks of the generated
// provisioning.v1 client and server interfaces, for unit tests of code that
// calls a plugin (hosts, tools) or wraps an adapter.
//
// The mocks are generated (make generate) and checked up to date by make test.
// Integration tests use a real plugin subprocess instead (see plugintest).
package adaptermock

//go:generate go tool mockgen -typed -destination=adapter.go -package=adaptermock github.com/cloudbss/provisioning/proto/provisioning/v1 ProvisioningAdapterClient,ProvisioningAdapterServer

package pandaapi

// mockgen is a tool in the root go.mod, like the other generators.
//go:generate go tool mockgen -destination=pandamock/api.go -package=pandamock github.com/cloudbss/provisioning/internal/pandaapi API

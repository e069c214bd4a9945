package panda

//go:generate go tool mockgen -destination=pandamock/api.go -package=pandamock github.com/cloudbss/provisioning/internal/panda API

package panda

//go:generate go tool -modfile=../../tools/go.mod mockgen -destination=pandamock/api.go -package=pandamock github.com/cloudbss/provisioning/internal/panda API

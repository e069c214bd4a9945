// Package catalog reads the list of plugins a provisioning host runs: a YAML
// file naming each plugin binary, its optional SHA-256, arguments,
// environment and the settings handed to its Configure RPC, plus an optional
// directory scanned for provisioning-plugin-* binaries.
//
// Setting values written "env:NAME" or "file:PATH" are read from the
// environment or a file when the catalog is loaded, so secrets stay out of the
// file. The catalog never logs a setting value and never puts one in an error.
//
// It only describes plugins: it must not launch, hash-check or talk to them
// (that is the host's supervisor, which enforces [Entry.SHA256] through
// go-plugin's SecureConfig).
package catalog

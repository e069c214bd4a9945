// Command provctl is the command-line client of the provisioning host: it
// lists plugins, shows an account's sync options form, validates and
// synchronizes accounts (one, or a JSON lines batch), and reads the sync
// records the host stores.
//
// It talks to a provisioning-host daemon over gRPC (--host, or PROVCTL_HOST),
// or, with --plugin PATH --settings FILE, runs the host in-process with one
// plugin binary, so a plugin author needs no daemon. Both ways go through the
// same HostService client code.
//
// provctl never prints a secret: the daemon's token, the plugin's settings
// and values of sensitive fields stay out of its output and errors.
//
// See `provctl --help` for the commands and the exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

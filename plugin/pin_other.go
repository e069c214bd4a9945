//go:build !linux

package plugin

import (
	"crypto/sha256"
	"os/exec"

	goplugin "github.com/hashicorp/go-plugin"
)

// pinExec falls back to go-plugin's check of the path before exec: without
// memfd and /proc/self/fd, a swap between the check and the exec is not
// prevented (keep plugin folders writable by root only).
func pinExec(_ *exec.Cmd, _ string, sum []byte) (*goplugin.SecureConfig, func(), error) {
	return &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}, func() {}, nil
}

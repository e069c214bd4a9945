//go:build !unix

package plugin

import (
	"os"
	"os/exec"
	"time"
)

// Without Unix process groups a plugin's children are not tracked: only the
// plugin itself is killed.
func setProcessGroup(*exec.Cmd) {}

// terminate has no graceful form without signals: it kills.
func terminate(pid int) error { return killGroup(pid) }

func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// watchParent is a no-op: without re-parenting, a dead host cannot be seen
// through the parent pid.
func watchParent(chan<- string, time.Duration) {}

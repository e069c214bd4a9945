//go:build unix

package plugin

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// setProcessGroup starts cmd in a process group of its own (its pgid is its
// pid), so that killGroup reaches whatever the plugin spawned.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate sends SIGTERM to the plugin itself, not its group: the SDK
// drains its calls and stops its own children.
func terminate(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }

// killGroup sends SIGKILL to the process group led by pid.
func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

// watchParent notices the death of the host: the plugin is then re-parented
// (to init or a subreaper), so its parent pid changes. go-plugin itself never
// notices a dead host, which leaves orphan plugins behind.
func watchParent(stop chan<- string, every time.Duration) {
	ppid := os.Getppid()
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			select {
			case stop <- fmt.Sprintf("host process %d exited", ppid):
			default:
			}
			return
		}
	}
}

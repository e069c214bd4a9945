//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file in --data-dir whose flock says a daemon owns the
// directory; it holds that daemon's pid, for the message of the next one.
const lockFile = "provisioning-host.lock"

// lockDataDir makes this process the only daemon on dir, as etcd and
// containerd do with their data directories: two daemons on one directory
// would run two copies of every plugin against the same vendor accounts and
// interleave writes to one database. The lock is the kernel's, so it goes
// away with the process however it ends; the pid in the file is only for
// the message. Close the returned file to release it.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
					holder = "provisioning-host pid " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("--data-dir %s is in use by %s (it holds %s): stop it, or give this daemon another --data-dir", dir, holder, path)
		}
		return nil, fmt.Errorf("--data-dir: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

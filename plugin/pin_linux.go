//go:build linux

package plugin

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	goplugin "github.com/hashicorp/go-plugin"
	"golang.org/x/sys/unix"
)

// pinExec makes cmd run exactly the bytes whose SHA-256 is sum.
//
// Hashing the path and then letting exec resolve it again is a race: a
// symlink or a rename swapped in between gets another binary run under a
// verified digest. Instead the file is opened once and copied, hashed on the
// way, into a sealed memory file (memfd, as runc does for itself); only when
// the digest matches does the child exec that memory file through its
// descriptor (/proc/self/fd/N). Nothing on disk is read again: a later swap
// or an in-place write cannot reach what runs. A script (its first bytes
// "#!") is the exception: it runs from its path, verified just before the
// exec, since its interpreter needs that path to find its modules.
//
// It returns no SecureConfig (go-plugin's own check would hash the path
// again) and a release func to call once the process has started.
func pinExec(cmd *exec.Cmd, path string, sum []byte) (*goplugin.SecureConfig, func(), error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open plugin binary: %w", err)
	}
	defer src.Close()
	mem, err := memfd(filepath.Base(path))
	if err != nil {
		return nil, nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(mem, h), src); err != nil {
		mem.Close()
		return nil, nil, fmt.Errorf("copy plugin binary: %w", err)
	}
	if !bytes.Equal(h.Sum(nil), sum) {
		mem.Close()
		return nil, nil, goplugin.ErrChecksumsDoNotMatch
	}
	if script(mem) {
		// An interpreter finds a script's own folder (its modules) from the
		// path it was given: /proc/self/fd/N would lose it. The script runs
		// from its path, checked just now, like the other files it reads.
		mem.Close()
		return nil, func() {}, nil
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, nil, fmt.Errorf("seal the plugin's memory copy: %w", err)
	}
	// In the child the memory file is descriptor 3+i, left open across exec
	// (the parent's copy is close-on-exec).
	fd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, mem)
	cmd.Path = "/proc/self/fd/" + strconv.Itoa(fd)
	return nil, func() { mem.Close() }, nil
}

// script reports whether f holds a script ("#!" first), rather than a
// binary.
func script(f *os.File) bool {
	b := make([]byte, 2)
	n, _ := f.ReadAt(b, 0)
	return n == 2 && string(b) == "#!"
}

// memfd creates an executable, sealable memory file.
func memfd(name string) (*os.File, error) {
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate("plugin:"+name, flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// Kernels before 6.3 know no MFD_EXEC; their memory files are
		// executable anyway.
		fd, err = unix.MemfdCreate("plugin:"+name, flags)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	return os.NewFile(uintptr(fd), "memfd:plugin:"+name), nil
}

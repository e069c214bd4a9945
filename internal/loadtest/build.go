package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries are the paths of the commands a scenario runs.
type Binaries struct {
	PandaSim string // cmd/pandasim
	Host     string // cmd/provisioning-host
	Plugin   string // cmd/provisioning-plugin-panda
	Provctl  string // cmd/provctl
	// InProcessHost is internal/loadtest/cmd/inprocess-host: the host with
	// the Panda adapter linked in. Only [BuildInProcessHost] builds it.
	InProcessHost string
}

// commands are the main packages [Build] compiles, relative to the module
// root, with the file name each gets.
var commands = []struct{ pkg, name string }{
	{"./cmd/pandasim", "pandasim"},
	{"./cmd/provisioning-host", "provisioning-host"},
	{"./cmd/provisioning-plugin-panda", "provisioning-plugin-panda"},
	{"./cmd/provctl", "provctl"},
}

// Build compiles the four commands into dir with one `go build` (no -race:
// the binaries under test run at full speed whatever the test driver is
// built with). The module root is found from the working directory.
func Build(ctx context.Context, dir string) (Binaries, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return Binaries{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binaries{}, err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, c := range commands {
		args = append(args, c.pkg)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Binaries{}, fmt.Errorf("go build: %w\n%s", err, stderr.String())
	}
	return Binaries{
		PandaSim: filepath.Join(dir, "pandasim"),
		Host:     filepath.Join(dir, "provisioning-host"),
		Plugin:   filepath.Join(dir, "provisioning-plugin-panda"),
		Provctl:  filepath.Join(dir, "provctl"),
	}, nil
}

// ModuleRoot is the folder of the go.mod governing the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// BuildInProcessHost compiles internal/loadtest/cmd/inprocess-host into dir
// and sets b.InProcessHost.
func BuildInProcessHost(ctx context.Context, dir string, b *Binaries) error {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "inprocess-host")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./internal/loadtest/cmd/inprocess-host")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build inprocess-host: %w\n%s", err, stderr.String())
	}
	b.InProcessHost = out
	return nil
}

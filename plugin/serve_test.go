package plugin_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudbss/provisioning/plugin"
	"github.com/cloudbss/provisioning/plugin/plugintest"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

const testPluginPkg = "github.com/cloudbss/provisioning/plugin/internal/testplugin"

func TestMain(m *testing.M) {
	if os.Getenv("PLUGIN_TEST_FAKE_HOST") == "1" {
		fakeHost()
		return
	}
	plugintest.Main(m)
}

// fakeHost is a stand-in host process: it launches the plugin, prints the
// plugin's pid and then waits to be killed.
func fakeHost() {
	p, err := plugin.NewLauncher(os.Getenv("PLUGIN_TEST_BINARY"), plugin.WithClientLogger(slog.New(slog.DiscardHandler))).Start()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(p.Pid())
	select {}
}

func TestServeSubprocessAutoMTLS(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, testPluginPkg)
	var logs plugintest.LogBuffer
	p := plugintest.Launch(t, bin, nil, plugin.WithClientLogger(slog.New(slog.NewTextHandler(&logs, nil))))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := p.Client.GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{})
	if err != nil {
		t.Fatalf("GetPluginInfo: %v", err)
	}
	if info.GetName() != "testplugin" {
		t.Errorf("name = %q, want testplugin", info.GetName())
	}
	// The plugin's own log line reaches the host's slog at its level.
	if _, err := p.Client.Probe(ctx, &provisioningv1.ProbeRequest{}); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "probe called") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "probe called") {
		t.Errorf("plugin warning not bridged into the host log; got:\n%s", out)
	}

	p.Process.Kill()
	plugintest.WaitExit(t, p.Pid, 5*time.Second)
}

func TestServeExitsWhenHostDies(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, testPluginPkg)
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), "PLUGIN_TEST_FAKE_HOST=1", "PLUGIN_TEST_BINARY="+bin)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Process.Kill(); _ = host.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading plugin pid from fake host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("fake host said %q", line)
	}
	if !plugintest.Alive(pid) {
		t.Fatalf("plugin %d not running while its host is", pid)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	plugintest.WaitExit(t, pid, 5*time.Second)
}

func TestServeWithoutHandshakeExplainsItself(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, testPluginPkg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = os.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatal("plugin started by hand hung instead of exiting")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v, want a non-zero exit status", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing (stdout is the handshake channel)", stdout.String())
	}
	for _, want := range []string{"is a provisioning plugin", "--debug", plugin.ReattachEnv} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestServeSIGTERMLetsInFlightCallsFinish(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, testPluginPkg)
	p := plugintest.Launch(t, bin, []string{"TESTPLUGIN_PROBE_DELAY=700ms"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type result struct {
		resp *provisioningv1.ProbeResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := p.Client.Probe(ctx, &provisioningv1.ProbeRequest{})
		done <- result{r, err}
	}()
	time.Sleep(200 * time.Millisecond) // let the call reach the plugin
	if err := syscall.Kill(p.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("in-flight Probe cut by SIGTERM: %v", r.err)
	}
	if !r.resp.GetReady() {
		t.Errorf("Probe ready = false")
	}
	plugintest.WaitExit(t, p.Pid, 5*time.Second)
}

func TestServeDebugModeReattach(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, testPluginPkg)
	cmd := exec.Command(bin, "--debug")
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var reattach string
	sc := bufio.NewScanner(stdout)
	prefix := "export " + plugin.ReattachEnv + "='"
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, prefix) {
			reattach = strings.TrimSuffix(strings.TrimPrefix(line, prefix), "'")
			break
		}
	}
	if reattach == "" {
		t.Fatalf("debug mode printed no %s line", plugin.ReattachEnv)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	ri, err := plugin.ParseReattach(reattach)
	if err != nil {
		t.Fatal(err)
	}
	if ri.Plugin != "testplugin" || ri.Pid != cmd.Process.Pid {
		t.Errorf("reattach info = %+v, want plugin testplugin and pid %d", ri, cmd.Process.Pid)
	}
	p, err := plugin.Attach(ri, plugin.WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Adapter().GetPluginInfo(ctx, &provisioningv1.GetPluginInfoRequest{}); err != nil {
		t.Fatalf("GetPluginInfo over reattach: %v", err)
	}
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	p.Kill() // an attached plugin is not ours: neither call may stop it
	if !plugintest.Alive(cmd.Process.Pid) {
		t.Fatal("killing a reattached client killed the debug-mode plugin")
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Errorf("debug-mode plugin exit after Ctrl-C: %v, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("debug-mode plugin ignored SIGINT")
	}
}

func TestParseReattachRejectsIncomplete(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"not json":    "{",
		"bad network": `{"network":"udp","addr":"x","pid":1}`,
		"no addr":     `{"network":"unix","pid":1}`,
		"no pid":      `{"network":"unix","addr":"/tmp/x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := plugin.ParseReattach(in); err == nil {
				t.Errorf("ParseReattach(%q) succeeded", in)
			}
		})
	}
}

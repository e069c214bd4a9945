package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a command started by [Start]: a simulator, a daemon.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	// Addr is what the process printed after "listening on".
	Addr string

	done    chan struct{} // closed when the process has been waited for
	waitErr error
}

// ProcessSpec says how to start a process and how to tell it is ready.
type ProcessSpec struct {
	Name string   // label for log lines and errors
	Path string   // binary
	Args []string // arguments
	Env  []string // added to the environment ("KEY=value")
	// Ready matches the stdout line that announces the address; its first
	// group is the address.
	Ready *regexp.Regexp
	// Logs receives every stdout and stderr line, prefixed with Name.
	Logs *Logs
	// StartTimeout bounds the wait for the Ready line. Default 30s.
	StartTimeout time.Duration
}

var listeningRE = regexp.MustCompile(`listening on (\S+)`)

// Start runs the process and waits for its Ready line.
func Start(ctx context.Context, spec ProcessSpec) (*Process, error) {
	if spec.Ready == nil {
		spec.Ready = listeningRE
	}
	if spec.StartTimeout == 0 {
		spec.StartTimeout = 30 * time.Second
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Process{Name: spec.Name, Cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	copied := make(chan struct{}, 2)
	go func() {
		defer func() { copied <- struct{}{} }()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			spec.Logs.Line(spec.Name, line)
			if m := spec.Ready.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		defer func() { copied <- struct{}{} }()
		spec.Logs.Copy(spec.Name, stderr)
	}()
	go func() {
		// Wait only once the pipes are drained, as os/exec requires.
		<-copied
		<-copied
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	t := time.NewTimer(spec.StartTimeout)
	defer t.Stop()
	select {
	case a := <-addr:
		p.Addr = a
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it listened: %v\n%s", spec.Name, p.waitErr, spec.Logs.Tail(spec.Name, 20))
	case <-t.C:
		p.Kill()
		return nil, fmt.Errorf("%s did not listen within %s\n%s", spec.Name, spec.StartTimeout, spec.Logs.Tail(spec.Name, 20))
	case <-ctx.Done():
		p.Kill()
		return nil, ctx.Err()
	}
}

// Pid is the process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to grace for the exit, then kills.
func (p *Process) Stop(grace time.Duration) error {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		var ee *exec.ExitError
		if errors.As(p.waitErr, &ee) {
			return fmt.Errorf("%s exited: %w", p.Name, p.waitErr)
		}
		return nil
	case <-t.C:
		p.Kill()
		return fmt.Errorf("%s did not stop within %s; killed", p.Name, grace)
	}
}

// PeakRSS is the peak resident set size (VmHWM) of a live process, in bytes.
func PeakRSS(pid int) (int64, error) {
	return statusField(pid, "VmHWM:")
}

// RSS is the current resident set size (VmRSS) of a live process, in bytes.
func RSS(pid int) (int64, error) {
	return statusField(pid, "VmRSS:")
}

func statusField(pid int, key string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), key)
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("pid %d: no %s in /proc status", pid, key)
}

// Children lists the live child processes of pid (scanning /proc, which
// works whatever the kernel's CONFIG_PROC_CHILDREN).
func Children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, ok := procStat(c); ok && ppid == pid && state != "Z" {
			out = append(out, c)
		}
	}
	return out
}

// Alive reports whether pid is a live (not zombie) process.
func Alive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

// procStat reads the parent pid and state of pid from /proc/PID/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, "", false
	}
	// The command name is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}

// Cmdline is the first argument (the binary) of pid's command line.
func Cmdline(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	s, _, _ := strings.Cut(string(b), "\x00")
	return s
}

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// CPUTime is the user + system CPU time pid has used so far.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("pid %d: short /proc stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("pid %d: bad /proc stat", pid)
	}
	return time.Duration(u+k) * time.Second / clockTicks, nil
}

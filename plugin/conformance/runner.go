package conformance

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

// T is the part of [testing.T] the checks use. *testing.T implements it, which
// is how [Run] reports to `go test`; [Check] uses its own implementation that
// fills a [Report]. As with testing.T, Fatalf and Skipf end the check at once
// and must be called from the check's own goroutine.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// ErrInvalidConfig is returned (wrapped) by [Check], and reported by [Run],
// when the [Config] cannot drive a run at all.
var ErrInvalidConfig = errors.New("conformance: invalid config")

// Run runs the suite against client, each check as a subtest of t named after
// the check (see [Checks]). Use `go test -run 'TestConformance/synchronize'`
// to run a group of checks; a check that needs an earlier one skips when that
// one did not run.
func Run(t *testing.T, client provisioningv1.ProvisioningAdapterClient, cfg Config) {
	t.Helper()
	s, err := newSuite(t.Context(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.run(func(name string, fn func(T)) {
		t.Run(name, func(t *testing.T) { fn(t) })
	})
}

// Check runs the suite against client and returns the report; it fails only
// when cfg is unusable ([ErrInvalidConfig]). A check that panics fails with
// the panic's message. ctx bounds the whole run.
func Check(ctx context.Context, client provisioningv1.ProvisioningAdapterClient, cfg Config) (*Report, error) {
	s, err := newSuite(ctx, client, cfg)
	if err != nil {
		return nil, err
	}
	rep := &Report{RunID: s.cfg.RunID}
	s.run(func(name string, fn func(T)) {
		rt := &reportT{}
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				// runtime.Goexit (Fatalf, Skipf) leaves recover() nil.
				if r := recover(); r != nil {
					rt.Errorf("check panicked: %v", r)
				}
			}()
			fn(rt)
		}()
		<-done
		rep.Results = append(rep.Results, rt.result(name, time.Since(start)))
	})
	if s.info != nil {
		rep.Plugin, rep.Version = s.info.GetName(), s.info.GetVersion()
	}
	return rep, nil
}

// reportT is the [T] of [Check].
type reportT struct {
	mu      sync.Mutex
	msgs    []string
	failed  bool
	skipped bool
}

func (t *reportT) Helper() {}

func (t *reportT) Logf(string, ...any) {}

func (t *reportT) Errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
	t.msgs = append(t.msgs, fmt.Sprintf(format, args...))
}

func (t *reportT) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}

func (t *reportT) Skipf(format string, args ...any) {
	t.mu.Lock()
	t.skipped = true
	t.msgs = append(t.msgs, fmt.Sprintf(format, args...))
	t.mu.Unlock()
	runtime.Goexit()
}

func (t *reportT) result(name string, d time.Duration) Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := Pass
	switch {
	case t.failed: // as in testing: an error before a skip still fails
		st = Fail
	case t.skipped:
		st = Skip
	}
	return Result{Name: name, Status: st, Message: strings.Join(t.msgs, "\n"), Duration: d}
}

// run calls each once per check, in order, with the function that performs
// it.
func (s *suite) run(each func(name string, fn func(T))) {
	for _, c := range checks {
		if slices.Contains(s.cfg.Skip, c.Name) {
			each(c.Name, func(t T) { t.Skipf("skipped by the configuration") })
			continue
		}
		each(c.Name, func(t T) { c.run(s, s.redact(t)) })
	}
	if s.cfg.Cleanup != nil {
		each("cleanup", func(t T) {
			t = s.redact(t)
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.cfg.CallTimeout)
			defer cancel()
			if err := s.cfg.Cleanup(ctx, s.synced()); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
}

// redact wraps t so that no sensitive setting's value reaches a report or a
// test log, even when the plugin puts one in an error message the check
// quotes.
func (s *suite) redact(t T) T {
	if s.redactor == nil {
		return t
	}
	return redactT{T: t, r: s.redactor}
}

type redactT struct {
	T
	r *strings.Replacer
}

func (t redactT) Logf(format string, args ...any) {
	t.Helper()
	t.T.Logf("%s", t.r.Replace(fmt.Sprintf(format, args...)))
}

func (t redactT) Errorf(format string, args ...any) {
	t.Helper()
	t.T.Errorf("%s", t.r.Replace(fmt.Sprintf(format, args...)))
}

func (t redactT) Fatalf(format string, args ...any) {
	t.Helper()
	t.T.Fatalf("%s", t.r.Replace(fmt.Sprintf(format, args...)))
}

func (t redactT) Skipf(format string, args ...any) {
	t.Helper()
	t.T.Skipf("%s", t.r.Replace(fmt.Sprintf(format, args...)))
}

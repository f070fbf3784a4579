package harness

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a running command whose combined output the test can wait on.
type Process struct {
	t    testing.TB
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	cond *sync.Cond
	done chan struct{}
	err  error
}

// StartProcess starts cmd (its output is the Process's), kills it when t ends and shows its
// output when t failed. It dies with the test process.
func StartProcess(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{t: t, cmd: cmd, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	go func() {
		s := bufio.NewScanner(pr)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			p.mu.Lock()
			p.out.WriteString(s.Text() + "\n")
			p.cond.Broadcast()
			p.mu.Unlock()
		}
	}()
	go func() {
		err := p.cmd.Wait()
		_ = pw.Close()
		p.mu.Lock()
		p.err = err
		p.cond.Broadcast()
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", cmd, p.Output())
		}
	})
	return p
}

// Output is everything the process printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// WaitOutput waits until the output since offset from matches re, and returns the submatches
// and the offset after the match.
func (p *Process) WaitOutput(re string, from int, timeout time.Duration) ([]string, int) {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		s := p.out.String()
		if from > len(s) {
			from = len(s)
		}
		if loc := rx.FindStringSubmatchIndex(s[from:]); loc != nil {
			var m []string
			for i := 0; i < len(loc); i += 2 {
				if loc[i] >= 0 {
					m = append(m, s[from+loc[i]:from+loc[i+1]])
				} else {
					m = append(m, "")
				}
			}
			return m, from + loc[1]
		}
		if time.Now().After(deadline) || p.exited() {
			p.mu.Unlock()
			p.t.Fatalf("no output matching %q within %s (exited: %v)", re, timeout, p.exitErr())
			p.mu.Lock()
			return nil, from
		}
		p.cond.Wait()
	}
}

func (p *Process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *Process) exitErr() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Stop sends SIGINT, as Ctrl-C does, and returns the exit error.
func (p *Process) Stop(timeout time.Duration) error {
	p.t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		p.t.Fatalf("interrupt: %v", err)
	}
	return p.Wait(timeout)
}

// Wait waits for the process to exit and returns the exit error.
func (p *Process) Wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("still running after %s", timeout)
		return nil
	}
}

// Kill kills the process with SIGKILL and waits until it has exited.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

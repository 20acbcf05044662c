package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one program of the sandbox, started with its output in DIR/logs/NAME.log and its
// pid in DIR/pids/NAME.pid so that a later `down` can stop it.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	// exited is closed when the process ends; err then holds how it ended.
	exited chan struct{}
	err    error
}

// start runs bin with args. With tied set, the process is killed when the starting process
// dies (test harness), else it outlives `sandbox up`.
func (s *Sandbox) start(name, bin string, tied bool, args ...string) (*process, error) {
	logPath := filepath.Join(s.Dir, "logs", name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = s.Dir
	// Own process group: a Ctrl-C in the terminal that ran `up` does not reach the sandbox.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if tied {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	// What Start and Restart need to run it again, on the same ports and data.
	if err := writeCommand(s.Dir, name, command{Bin: bin, Args: args, Tied: tied, Starter: os.Getpid()}); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	p := &process{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	pid := strconv.Itoa(cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(s.Dir, "pids", name+".pid"), []byte(pid+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// died reports the first started process that has exited, if any.
func (s *Sandbox) died() *process {
	for _, p := range s.procs {
		select {
		case <-p.exited:
			return p
		default:
		}
	}
	return nil
}

// deathError describes a process that died, with the last lines of its log.
func (p *process) deathError() error {
	return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.name, p.err, p.log, tail(p.log, 15))
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return "  " + strings.ReplaceAll(tailString(string(b), n), "\n", "\n  ")
}

// recordedPids reads DIR/pids: the processes a sandbox in dir started.
func recordedPids(dir string) map[string]int {
	out := map[string]int{}
	entries, _ := os.ReadDir(filepath.Join(dir, "pids"))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "pids", e.Name()))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			out[strings.TrimSuffix(e.Name(), ".pid")] = pid
		}
	}
	return out
}

// alive tells whether pid runs and is one of ours: its command line mentions dir, so a pid
// recycled by an unrelated program is never signalled.
func alive(pid int, dir string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		// A zombie (state Z) has exited; only its parent's wait is missing.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return bytes.Contains(cmdline, []byte(dir))
}

// stopPids sends SIGTERM to every live recorded process, waits up to grace for them to
// exit, then kills what is left. It returns the names of processes that would not die.
func stopPids(dir string, pids map[string]int, grace time.Duration) []string {
	for _, pid := range pids {
		if alive(pid, dir) {
			_ = syscall.Kill(pid, syscall.SIGCONT) // a frozen component (game day) acts on SIGTERM only once thawed
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if len(living(dir, pids)) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range living(dir, pids) {
		_ = syscall.Kill(pids[name], syscall.SIGKILL)
	}
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if len(living(dir, pids)) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return living(dir, pids)
}

func living(dir string, pids map[string]int) []string {
	var out []string
	for name, pid := range pids {
		if alive(pid, dir) {
			out = append(out, name)
		}
	}
	return out
}

var errAlreadyRunning = errors.New("already running")

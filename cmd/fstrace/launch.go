package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/pkg/tracer"
)

// `fstrace -- COMMAND` starts COMMAND through a copy of itself: the copy
// says it is running (so its own exec is over), then waits on a pipe until
// the parent has registered its pid with the tracer (as "traced from the
// next exec"), then execs COMMAND. The command cannot run a single
// instruction before it is followed, and nothing the copy did before the
// exec is reported. (Arming as soon as exec.Cmd.Start returned raced with
// the copy's own exec: Start returns when exec closes the close-on-exec
// files, before the kernel's exec tracepoint, so the copy's start-up was
// traced now and then.)
const launchEnv = "FSTRACE_LAUNCH_FD"

type launchError struct {
	status int
	msg    string
}

func (e *launchError) Error() string { return e.msg }

type launcher struct {
	argv []string
	path string
	cmd  *exec.Cmd
}

func newLauncher(argv []string) (*launcher, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, &launchError{exitNotFound, fmt.Sprintf("%s: command not found", argv[0])}
		}
		return nil, &launchError{exitNoExec, fmt.Sprintf("%s: %v", argv[0], err)}
	}
	return &launcher{argv: argv, path: path}, nil
}

// start launches the command and returns a channel that yields its exit
// status.
func (l *launcher) start(tr *tracer.Tracer) (<-chan int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", l.argv[0], err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("start %s: %w", l.argv[0], err)
	}
	defer func() { _ = readyR.Close() }()
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	cmd := exec.Command(self, append([]string{l.path}, l.argv...)...)
	cmd.Args = append([]string{"fstrace-launch", l.path}, l.argv...)
	cmd.Env = append(os.Environ(), launchEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r, readyW}
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		_ = readyW.Close()
		return nil, fmt.Errorf("start %s: %w", l.argv[0], err)
	}
	_ = r.Close() // the child holds its own copies of these ends
	_ = readyW.Close()
	l.cmd = cmd
	var b [1]byte
	if n, _ := readyR.Read(b[:]); n != 1 {
		_ = w.Close()
		_ = cmd.Wait() // reaped; the error returned says what went wrong
		return nil, fmt.Errorf("start %s: the launcher died before it ran", l.argv[0])
	}
	if err := tr.FollowExec(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = w.Close()
		_ = cmd.Wait()
		return nil, err
	}
	// A go-ahead that does not arrive is the child's to report: it reads
	// nothing and exits with exitFailure, which the wait below returns.
	_, _ = w.Write([]byte{1})
	_ = w.Close()

	done := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		done <- exitStatus(cmd, err)
	}()
	return done, nil
}

func (l *launcher) signal(s os.Signal) {
	if l.cmd != nil && l.cmd.Process != nil {
		_ = l.cmd.Process.Signal(s) // it may have exited already
	}
}

func exitStatus(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		return exitFailure
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// launch runs in the copy: wait for the go-ahead, then exec the command.
// The launcher's exit statuses for a command that cannot run follow the
// shell's: 127 not found, 126 not executable.
func launch() {
	fd, _ := strconv.Atoi(os.Getenv(launchEnv))
	_ = os.Unsetenv(launchEnv) // fails only for an invalid name
	if len(os.Args) < 3 || fd <= 0 {
		fmt.Fprintln(os.Stderr, "fstrace: internal launcher started without a command")
		os.Exit(exitFailure)
	}
	var b [1]byte
	// Running: the exec that started this copy is over. The parent
	// arms the tracer on this, then gives the go-ahead.
	_, _ = unix.Write(fd+1, b[:]) // a parent that misses it closes the go-ahead pipe
	_ = unix.Close(fd + 1)
	if n, _ := unix.Read(fd, b[:]); n != 1 {
		os.Exit(exitFailure) // the tracer went away before the go-ahead
	}
	_ = unix.Close(fd)
	path, argv := os.Args[1], os.Args[2:]
	err := unix.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "fstrace: %s: %v\n", argv[0], err)
	if errors.Is(err, unix.ENOENT) {
		os.Exit(exitNotFound)
	}
	os.Exit(exitNoExec)
}

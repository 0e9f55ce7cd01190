package tracer

import (
	"io"
	"os"
	"strconv"

	"github.com/fstrace/fstrace/pkg/events"
)

// maxProcs bounds the process table: past it (exit records lost to a full
// ring leave entries behind) it starts again, from /proc.
const maxProcs = 1 << 17

// procs is what each process runs, for Event.Process: from the kernel's
// exec and exit records (bpf/process.bpf.h), applied in the stream's order,
// and for a process that exec'd before tracing began, from /proc. The
// pump's alone: no lock.
type procs struct {
	root string // where /proc is
	m    map[uint32]*events.Process
}

func newProcs() *procs { return &procs{root: "/proc", m: make(map[uint32]*events.Process)} }

// noteKind marks a record that is not an event but travels the merge like
// one, so that it takes effect in time order: no event has this kind.
const noteKind events.Kind = 0xffff

func noteEvent(n events.ProcNote) *events.Event {
	return &events.Event{Kind: noteKind, PID: n.PID, BootNS: n.BootNS, CPU: n.CPU, Process: n.Process}
}

func isNote(ev *events.Event) bool { return ev.Kind == noteKind }

// apply takes the notes out of a batch and gives the events their Process.
func (p *procs) apply(b []*events.Event) []*events.Event {
	k := 0
	for _, ev := range b {
		if isNote(ev) {
			if ev.Process == nil {
				delete(p.m, ev.PID) // exited
			} else {
				p.set(ev.PID, ev.Process)
			}
			continue
		}
		ev.Process = p.of(ev.PID, ev.PPID)
		b[k] = ev
		k++
	}
	clear(b[k:])
	return b[:k]
}

func (p *procs) set(pid uint32, pr *events.Process) {
	if len(p.m) >= maxProcs {
		clear(p.m)
	}
	p.m[pid] = pr
}

// of returns what pid runs. One seen for the first time exec'd before
// tracing began, or forked without exec: /proc says, or where it has gone
// already, its parent's entry or /proc (a fork runs its parent's program). An
// unknown one stays nil until it execs or exits, so that /proc is read
// once per process, not per event.
func (p *procs) of(pid, ppid uint32) *events.Process {
	if pr, ok := p.m[pid]; ok {
		return pr
	}
	pr := p.read(pid)
	if pr == nil {
		var ok bool
		if pr, ok = p.m[ppid]; !ok {
			pr = p.read(ppid)
		}
	}
	p.set(pid, pr)
	return pr
}

// read reads /proc/PID/exe and cmdline; nil if the process is gone.
func (p *procs) read(pid uint32) *events.Process {
	dir := p.root + "/" + strconv.FormatUint(uint64(pid), 10)
	exe, eerr := os.Readlink(dir + "/exe")
	var args []byte
	f, aerr := os.Open(dir + "/cmdline")
	if aerr == nil {
		// As much as an exec record holds, and one byte more to tell.
		args, aerr = io.ReadAll(io.LimitReader(f, events.PathMax+1))
		_ = f.Close() // read-only
	}
	if eerr != nil && (aerr != nil || len(args) == 0) {
		return nil // gone, or a kernel thread
	}
	pr := &events.Process{Exe: exe}
	cut := len(args) > events.PathMax
	if cut {
		args = args[:events.PathMax]
	}
	// A process that rewrote its argv (setproctitle) may end it without
	// a NUL: only a cut is truncation here.
	pr.Cmdline, _ = events.SplitCmdline(args)
	pr.CmdlineTruncated = cut
	return pr
}

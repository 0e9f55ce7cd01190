package tracer

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fstrace/fstrace/pkg/events"
)

// The process table in stream order: exec notes take effect where they
// fall among the events, exits forget, and a process never seen to exec
// is read from /proc once (or, gone, takes its parent's).
func TestProcs(t *testing.T) {
	root := t.TempDir()
	mk := func(pid, exe, args string) {
		d := filepath.Join(root, pid)
		os.MkdirAll(d, 0o755)
		os.Symlink(exe, filepath.Join(d, "exe"))
		os.WriteFile(filepath.Join(d, "cmdline"), []byte(args), 0o644)
	}
	mk("20", "/usr/sbin/nginx", "nginx: worker process") // setproctitle: no NUL
	mk("11", "/bin/bash", "bash\x00-l\x00")
	p := newProcs()
	p.root = root

	ev := func(pid, ppid uint32) *events.Event {
		return &events.Event{Kind: events.KindOpen, PID: pid, PPID: ppid}
	}
	sh := &events.Process{Exe: "/bin/sh", Cmdline: []string{"sh"}}
	out := p.apply([]*events.Event{
		ev(20, 1),
		noteEvent(events.ProcNote{PID: 20, Process: sh}),
		ev(20, 1),
		ev(12, 11), // gone before it was read: its parent's
		noteEvent(events.ProcNote{PID: 20}),
	})
	if len(out) != 3 {
		t.Fatalf("%d events after the notes were taken out, want 3", len(out))
	}
	if want := (&events.Process{Exe: "/usr/sbin/nginx", Cmdline: []string{"nginx: worker process"}}); !reflect.DeepEqual(out[0].Process, want) {
		t.Errorf("from /proc: %+v, want %+v", out[0].Process, want)
	}
	if out[1].Process != sh {
		t.Errorf("after the exec note: %+v", out[1].Process)
	}
	if got := out[2].Process; got == nil || got.Exe != "/bin/bash" || !reflect.DeepEqual(got.Cmdline, []string{"bash", "-l"}) {
		t.Errorf("a gone child: %+v, want its parent's from /proc", got)
	}
	// After the exit, a new pid 20 that /proc does not show, read once.
	os.RemoveAll(filepath.Join(root, "20"))
	if out = p.apply([]*events.Event{ev(20, 1)}); out[0].Process != nil {
		t.Errorf("a new pid 20 after the exit: %+v", out[0].Process)
	}
	mk("20", "/bin/late", "late\x00")
	if out = p.apply([]*events.Event{ev(20, 1)}); out[0].Process != nil {
		t.Errorf("/proc read again for a process already looked up: %+v", out[0].Process)
	}
}

package tracer

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
)

// Events traces for real (syscall mode, which every kernel here allows): a
// canceled ctx is yielded once, breaking out early loses no event, and the
// loop ends without an error once the tracer is closed and drained.
func TestEventsIterator(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tr := newTestTracer(t, Options{
		Events:   events.MaskOf(events.KindCreate),
		Filter:   filters.Set{Path: []filters.Rule[string]{{Value: dir}}},
		HookMode: ModeSyscall,
	})
	if got := tr.HookMode(); got != ModeSyscall {
		t.Fatalf("hook mode %q, want %q", got, ModeSyscall)
	}

	// Nothing is traced yet, so the canceled ctx is all Read sees.
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	for ev, err := range tr.Events(canceled) {
		n++
		if ev != nil || !errors.Is(err, context.Canceled) {
			t.Errorf("canceled ctx: yielded (%v, %v), want (nil, context.Canceled)", ev, err)
		}
	}
	if n != 1 {
		t.Errorf("canceled ctx: %d yields, want 1", n)
	}

	for _, name := range []string{"1", "2", "3"} {
		touch(t, filepath.Join(dir, name))
	}
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	// next reads one create of dir, breaking out of the loop after it.
	next := func() string {
		t.Helper()
		for ev, err := range tr.Events(ctx) {
			if err != nil {
				t.Fatalf("Events: %v", err)
			}
			if ev.Kind != events.KindCreate || filepath.Dir(ev.Path) != dir {
				t.Errorf("unexpected event %v %q", ev.Kind, ev.Path)
				continue
			}
			name := filepath.Base(ev.Path)
			tr.Release(ev)
			return name
		}
		t.Fatal("Events ended before a create")
		return ""
	}
	if got := next(); got != "1" {
		t.Errorf("first create %q, want 1", got)
	}
	if got := next(); got != "2" {
		t.Errorf("second create %q, want 2 (nothing lost by breaking out)", got)
	}

	// Close from inside the loop: the rest is drained, then the loop ends.
	var rest []string
	for ev, err := range tr.Events(ctx) {
		if err != nil {
			t.Fatalf("Events after Close: %v (want the loop to end quietly)", err)
		}
		rest = append(rest, filepath.Base(ev.Path))
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(rest) != 1 || rest[0] != "3" {
		t.Errorf("after Close: creates %v, want [3]", rest)
	}
	if _, err := tr.Read(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after the loop: %v, want ErrClosed", err)
	}
}

package tracer

import (
	"runtime"
	"testing"

	"github.com/fstrace/fstrace/pkg/events"
)

// TestEventPool: released events outlive a garbage collection (what a
// sync.Pool does not promise), the pump takes them poolGrab at a time, and
// the pool keeps at most poolMax.
func TestEventPool(t *testing.T) {
	var p eventPool
	evs := events.MakeEvents(poolGrab+10, 16)
	p.put(evs...)
	runtime.GC()
	runtime.GC()
	got := p.take(nil)
	if len(got) != poolGrab {
		t.Fatalf("took %d after two collections, want %d", len(got), poolGrab)
	}
	seen := map[*events.Event]bool{}
	for _, ev := range evs {
		seen[ev] = true
	}
	for _, ev := range append(got, p.take(nil)...) {
		if !seen[ev] {
			t.Fatalf("took an event that was never put")
		}
		delete(seen, ev)
	}
	if len(seen) != 0 {
		t.Errorf("%d events put were not taken back", len(seen))
	}
	if n := len(p.take(nil)); n != 0 {
		t.Errorf("empty pool gave %d events", n)
	}
	p.put(events.MakeEvents(poolMax+100, 0)...)
	if len(p.free) != poolMax {
		t.Errorf("pool holds %d, want at most %d", len(p.free), poolMax)
	}
}

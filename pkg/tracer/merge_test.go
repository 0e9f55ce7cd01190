package tracer

import (
	"testing"
	"time"

	"github.com/fstrace/fstrace/pkg/events"
)

// The merge stage orders events by kernel time across CPUs and turns each
// CPU's sequence gap (records its ring refused) into the same gap in Seq.
func TestMergeOrderAndGaps(t *testing.T) {
	tr := &Tracer{
		in:     make(chan *events.Event, 16),
		out:    make(chan *events.Event, 16),
		window: time.Hour, // nothing leaves before the input closes
	}
	base := bootNow()
	in := []struct {
		cpu  uint16
		seq  uint64
		boot uint64
	}{
		{cpu: 1, seq: 1, boot: base + 20},
		{cpu: 0, seq: 1, boot: base + 10},
		{cpu: 0, seq: 2, boot: base + 30},
		{cpu: 1, seq: 4, boot: base + 40}, // CPU 1 lost seq 2 and 3
		{cpu: 0, seq: 3, boot: base + 50},
	}
	for _, e := range in {
		tr.in <- &events.Event{CPU: e.cpu, CPUSeq: e.seq, BootNS: e.boot}
	}
	close(tr.in)
	tr.merge()

	want := []struct {
		boot uint64
		seq  uint64
	}{{base + 10, 1}, {base + 20, 2}, {base + 30, 3}, {base + 40, 6}, {base + 50, 7}}
	var got []*events.Event
	for ev := range tr.out {
		got = append(got, ev)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].BootNS != w.boot || got[i].Seq != w.seq {
			t.Errorf("event %d: boot +%d seq %d, want +%d seq %d", i, got[i].BootNS-base, got[i].Seq, w.boot-base, w.seq)
		}
	}
	if tr.delivered != 5 {
		t.Errorf("delivered = %d, want 5", tr.delivered)
	}
}

// Events newer than the reorder window stay until it has passed.
func TestMergeHoldsForWindow(t *testing.T) {
	tr := &Tracer{
		in:     make(chan *events.Event, 4),
		out:    make(chan *events.Event, 4),
		window: 200 * time.Millisecond,
	}
	go tr.merge()
	start := time.Now()
	tr.in <- &events.Event{CPU: 0, CPUSeq: 1, BootNS: bootNow()}
	ev := <-tr.out
	if held := time.Since(start); held < 150*time.Millisecond {
		t.Errorf("event released after %v, before the 200ms window", held)
	}
	if ev.Seq != 1 {
		t.Errorf("seq = %d, want 1", ev.Seq)
	}
	close(tr.in)
	for range tr.out {
	}
}

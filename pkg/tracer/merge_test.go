package tracer

import (
	"testing"

	"github.com/fstrace/fstrace/pkg/events"
)

// The merger orders events by kernel time across CPUs and turns each CPU's
// sequence gap (records its ring refused) into the same gap in Seq.
func TestMergeOrderAndGaps(t *testing.T) {
	var m merger
	in := []struct {
		cpu  uint16
		seq  uint64
		boot uint64
	}{
		{cpu: 1, seq: 1, boot: 20},
		{cpu: 0, seq: 1, boot: 10},
		{cpu: 0, seq: 2, boot: 30},
		{cpu: 1, seq: 4, boot: 40}, // CPU 1 lost seq 2 and 3
		{cpu: 0, seq: 3, boot: 50},
	}
	for _, e := range in {
		m.push(&events.Event{CPU: e.cpu, CPUSeq: e.seq, BootNS: e.boot})
	}
	want := []struct {
		boot uint64
		seq  uint64
	}{{10, 1}, {20, 2}, {30, 3}, {40, 6}, {50, 7}}
	got := m.release(nil, 0, true, 100)
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].BootNS != w.boot || got[i].Seq != w.seq {
			t.Errorf("event %d: boot %d seq %d, want boot %d seq %d", i, got[i].BootNS, got[i].Seq, w.boot, w.seq)
		}
	}
}

// Events stamped after the limit stay; max bounds one batch, and the next
// batch goes on numbering where it stopped.
func TestMergeLimitAndBatch(t *testing.T) {
	var m merger
	for i := uint64(1); i <= 5; i++ {
		m.push(&events.Event{CPU: 0, CPUSeq: i, BootNS: 100 * i})
	}
	b := m.release(nil, 300, false, 2)
	if len(b) != 2 || b[0].BootNS != 100 || b[1].BootNS != 200 {
		t.Fatalf("first batch: %d events, want the two oldest", len(b))
	}
	b = m.release(nil, 300, false, 100)
	if len(b) != 1 || b[0].BootNS != 300 || b[0].Seq != 3 {
		t.Fatalf("second batch: want the event at 300 alone, seq 3")
	}
	if m.Len() != 2 || m.top() != 400 {
		t.Errorf("left %d events, first at %d; want 2, first at 400", m.Len(), m.top())
	}
}

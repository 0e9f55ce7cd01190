package tracer

import (
	"math/rand/v2"
	"testing"
	"time"

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

// Each CPU's events leave in the order they came (their ring's order, which
// is cpu_seq order), whatever their stamps; across CPUs by stamp. With
// every CPU's stamps in order, the whole output is in stamp order.
func TestMergeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, monotonic := range []bool{true, false} {
		var m merger
		var out []*events.Event
		seqs := make([]uint64, 4)
		stamps := make([]uint64, 4)
		pushed := 0
		for round := 0; round < 50; round++ {
			for i := 0; i < r.IntN(200); i++ {
				c := r.IntN(4)
				seqs[c]++
				stamps[c] += uint64(1 + r.IntN(100))
				stamp := stamps[c]
				if !monotonic && r.IntN(10) == 0 {
					stamp -= uint64(r.IntN(300)) % stamp // stamped earlier than the last
				}
				m.push(&events.Event{CPU: uint16(c), BootNS: stamp, CPUSeq: seqs[c]})
				pushed++
			}
			out = m.release(out, uint64(round)*500, false, 1<<30)
		}
		out = m.release(out, 0, true, 1<<30)
		if len(out) != pushed || m.Len() != 0 {
			t.Fatalf("released %d of %d, %d left", len(out), pushed, m.Len())
		}
		last := make([]uint64, 4)
		for i, ev := range out {
			if ev.Seq != uint64(i+1) {
				t.Fatalf("event %d has seq %d: a gap with nothing lost", i, ev.Seq)
			}
			if ev.CPUSeq != last[ev.CPU]+1 {
				t.Fatalf("cpu %d: cpu_seq %d after %d", ev.CPU, ev.CPUSeq, last[ev.CPU])
			}
			last[ev.CPU] = ev.CPUSeq
		}
		if monotonic {
			// Within one release the order is exact.
			var m2 merger
			for _, ev := range out {
				m2.push(ev)
			}
			got := m2.release(nil, 0, true, 1<<30)
			for i := 1; i < len(got); i++ {
				if got[i].BootNS < got[i-1].BootNS {
					t.Fatalf("stamp %d after %d", got[i].BootNS, got[i-1].BootNS)
				}
			}
		}
	}
}

// BenchmarkMerge is the pump's ordering cost per event: events from two
// CPUs, interleaved, pushed and released in batches.
func BenchmarkMerge(b *testing.B) {
	const batch = 1024
	var m merger
	evs := make([]*events.Event, batch)
	for i := range evs {
		evs[i] = &events.Event{CPU: uint16(i % 2)}
	}
	out := make([]*events.Event, 0, batch)
	var stamp uint64
	b.ReportAllocs()
	for i := 0; i < b.N; i += batch {
		for j, ev := range evs {
			stamp++
			ev.BootNS = stamp + uint64(j%2)*3 // the two CPUs a little apart
			ev.CPUSeq = stamp
			m.push(ev)
		}
		out = m.release(out[:0], 0, true, batch)
	}
}

// TestDrainPeriod: half the reorder window, but never 0, which as the
// busy pump's timer interval would leave it without ticks.
func TestDrainPeriod(t *testing.T) {
	for _, c := range []struct{ window, want time.Duration }{
		{20 * time.Millisecond, 10 * time.Millisecond},
		{time.Second, 500 * time.Millisecond},
		{time.Nanosecond, time.Millisecond},
		{time.Millisecond, time.Millisecond},
	} {
		if got := time.Duration((&Tracer{window: c.window}).drainPeriod()); got != c.want {
			t.Errorf("window %v: period %v, want %v", c.window, got, c.want)
		}
	}
}

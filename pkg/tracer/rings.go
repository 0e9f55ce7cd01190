package tracer

import (
	"container/heap"
	"errors"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/pkg/events"
)

// maxPending bounds the events held for reordering and not yet read. Past
// it the ring readers wait, the rings fill, and the kernel counts losses:
// back-pressure ends in the kernel's counters, never in unbounded memory.
const maxPending = 1 << 16

// readRing decodes one CPU's ring until it is flushed after Close.
func (t *Tracer) readRing(rd *ringbuf.Reader) {
	defer t.readWG.Done()
	var rec ringbuf.Record
	for {
		err := rd.ReadInto(&rec)
		if err != nil {
			if errors.Is(err, ringbuf.ErrFlushed) || errors.Is(err, ringbuf.ErrClosed) {
				return
			}
			continue
		}
		ev := t.newEvent()
		if err := t.dec.Decode(rec.RawSample, ev); err != nil {
			t.mu.Lock()
			t.decodeErrors++
			t.mu.Unlock()
			t.Release(ev)
			continue
		}
		t.in <- ev
	}
}

// evHeap orders events by kernel timestamp, then CPU sequence.
type evHeap []*events.Event

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(i, j int) bool {
	if h[i].BootNS != h[j].BootNS {
		return h[i].BootNS < h[j].BootNS
	}
	return h[i].CPUSeq < h[j].CPUSeq
}
func (h evHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *evHeap) Push(x any)   { *h = append(*h, x.(*events.Event)) }
func (h *evHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	*h = old[:len(old)-1]
	return ev
}

func bootNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// merge holds events for the reorder window, then hands them to Read in
// timestamp order, numbering them. A CPU's sequence gap (records its ring
// could not take) becomes the same gap in Seq.
func (t *Tracer) merge() {
	var (
		h       evHeap
		seq     uint64
		lastCPU = map[uint16]uint64{}
		tick    = time.NewTicker(t.window / 2)
		in      = t.in
	)
	defer tick.Stop()
	defer close(t.out)

	release := func(all bool) {
		limit := bootNow() - uint64(t.window)
		for len(h) > 0 && (all || h[0].BootNS <= limit) {
			ev := heap.Pop(&h).(*events.Event)
			// cpu_seq counts from 1 on every CPU.
			last := lastCPU[ev.CPU]
			if ev.CPUSeq > last+1 {
				seq += ev.CPUSeq - last - 1
			}
			if ev.CPUSeq > last {
				lastCPU[ev.CPU] = ev.CPUSeq
			}
			seq++
			ev.Seq = seq
			t.out <- ev
			t.mu.Lock()
			t.delivered++
			t.byKind[ev.Kind&31]++
			t.mu.Unlock()
		}
	}
	for {
		recv := in
		if len(h) >= maxPending {
			recv = nil
			release(true)
			continue
		}
		select {
		case ev, ok := <-recv:
			if !ok {
				release(true)
				return
			}
			heap.Push(&h, ev)
		case <-tick.C:
			release(false)
		}
	}
}

package tracer

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/pkg/events"
)

// How the rings are read. One goroutine, the pump, reads every CPU's ring
// in batches, holds the events for the reorder window and hands them to
// Read in batches: no goroutine or channel per ring or per event.
//
// While events flow the pump drains the rings every drainPeriod and tells
// the kernel so (reader_polling, bpf/lib/emit.h): records then wake
// nobody. When a drain finds nothing it clears the flag, drains once more a
// period later for records written meanwhile, and goes idle: the next
// record, written into an empty ring, wakes it, so a lone event is read at
// once and delivered when the reorder window has passed. A ring filling
// fast forces a wakeup at a quarter full, and the pump drains it at once.
const (
	// maxPending bounds the events held for reordering. Past it the
	// oldest are delivered early, and when Read is not keeping up the pump
	// waits, the rings fill, and the kernel counts losses: back-pressure
	// ends in the kernel's counters, never in unbounded memory.
	maxPending = 1 << 16
	// maxBatch bounds the events handed to Read at once.
	maxBatch = 4096
	// safetyPoll: the rings are drained at least this often whatever the
	// wakeups say.
	safetyPoll = uint64(time.Second)
	// Ids of the epoll events that are not rings; a ring's is its index.
	wakeID  = -1 // Close's eventfd
	timerID = -2 // the pump's timerfd
)

// The pump's modes.
const (
	pumpIdle    = iota // waiting for a wakeup
	pumpBusy           // draining every period; records wake nobody
	pumpCooling        // a drain found nothing: one more period, with wakeups on
)

// drainPeriod is the time between two drains while events flow: half the
// reorder window, so an event waits in its ring for at most that, inside
// the window it is held for anyway; at least a millisecond, as a timer
// interval of 0 would not tick at all.
func (t *Tracer) drainPeriod() uint64 { return uint64(max(t.window/2, time.Millisecond)) }

// startPump sets up the wakeup sources and starts the pump.
func (t *Tracer) startPump() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return os.NewSyscallError("fcntl", err)
	}
	// Waited on through Go's poller, as a socket is: a blocking
	// epoll_wait would keep the runtime's monitor thread polling every
	// 20 µs while it blocks. The file owns the fd.
	t.epfd = epfd
	t.epfile = os.NewFile(uintptr(epfd), "ring-epoll")
	if t.epconn, err = t.epfile.SyscallConn(); err != nil {
		return fmt.Errorf("ring epoll: %w", err)
	}
	if t.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		t.wakefd = -1
		return os.NewSyscallError("eventfd", err)
	}
	if t.timerfd, err = unix.TimerfdCreate(unix.CLOCK_BOOTTIME, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK); err != nil {
		t.timerfd = -1
		return os.NewSyscallError("timerfd_create", err)
	}
	add := func(fd int, id int32, flags uint32) error {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | flags, Fd: id}
		return os.NewSyscallError("epoll_ctl", unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev))
	}
	if err := add(t.wakefd, wakeID, 0); err != nil {
		return err
	}
	if err := add(t.timerfd, timerID, 0); err != nil {
		return err
	}
	past := time.Unix(0, 1) // ReadInto never blocks: the pump waits itself
	for i, m := range t.ringMaps {
		// Edge-triggered: one report per kernel wakeup, not one per
		// wait while records are in the ring.
		if err := add(m.FD(), int32(i), unix.EPOLLET); err != nil {
			return err
		}
		t.readers[i].SetDeadline(past)
	}
	if v := t.objs.ReaderPolling; v.ReadOnly() {
		// Without it (no mmapable maps: before 5.5) records keep
		// waking the pump as they would an idle one.
		t.polling = nil
	} else {
		t.polling = v
	}
	go t.pump()
	return nil
}

// pump reads the rings, orders the events and delivers them, until Close.
//
// While busy, the timer is periodic: set once, not before every wait. In
// a QEMU guest each timerfd_settime reprograms an emulated timer, and
// re-arming it before every wait cost a sixth of the pump's time there.
func (t *Tracer) pump() {
	defer close(t.out)
	var (
		evs       = make([]unix.EpollEvent, len(t.readers)+2)
		period    = t.drainPeriod()
		window    = uint64(t.window)
		mode      = pumpIdle
		clock     bootClock
		now       = clock.now()
		lastDrain = now
		armed     uint64 // idle: the one-shot timer's deadline
		periodic  bool   // the timer ticks every period
	)
	for {
		var err error
		switch {
		case mode != pumpIdle && !periodic:
			err = t.arm(now+period, period)
			periodic, armed = true, 0
		case mode == pumpIdle:
			deadline := lastDrain + safetyPoll
			if t.m.Len() > 0 {
				deadline = min(deadline, t.m.top()+window)
			}
			if periodic || deadline != armed {
				err = t.arm(deadline, 0)
				periodic, armed = false, deadline
			}
		}
		if err != nil {
			t.stop(err)
			return
		}
		n, err := t.wait(evs)
		if err != nil {
			t.stop(err)
			return
		}
		woken, ticked := false, false
		for _, ev := range evs[:n] {
			switch ev.Fd {
			case wakeID:
				t.finish()
				return
			case timerID:
				var buf [8]byte
				_, _ = unix.Read(t.timerfd, buf[:]) // clears the expirations, or epoll reports them again
				ticked = true
			default:
				woken = true
			}
		}
		now = clock.now()
		drain := now >= lastDrain+safetyPoll ||
			(mode == pumpIdle && (woken || (t.m.Len() > 0 && t.m.top()+window <= now))) ||
			(mode != pumpIdle && (ticked || (woken && t.ringsFull())))
		if !drain {
			continue
		}
		got := t.drain()
		lastDrain = now
		switch {
		case got > 0:
			if mode != pumpBusy {
				t.setPolling(1)
			}
			mode = pumpBusy
		case mode == pumpBusy:
			t.setPolling(0)
			mode = pumpCooling
		case mode == pumpCooling:
			mode = pumpIdle
		}
		if t.m.Len() > 0 && t.m.top()+window <= now {
			t.deliver(now-window, false)
		}
	}
}

// arm sets the pump's timer to fire at deadline (boot time), and every
// interval after it when interval is not 0.
func (t *Tracer) arm(deadline, interval uint64) error {
	spec := unix.ItimerSpec{
		Value:    unix.NsecToTimespec(int64(max(deadline, 1))),
		Interval: unix.NsecToTimespec(int64(interval)),
	}
	return os.NewSyscallError("timerfd_settime", unix.TimerfdSettime(t.timerfd, unix.TFD_TIMER_ABSTIME, &spec, nil))
}

// wait collects the wakeups, waiting in Go's poller until there is one.
func (t *Tracer) wait(evs []unix.EpollEvent) (int, error) {
	var (
		n    int
		werr error
	)
	err := t.epconn.Read(func(fd uintptr) bool {
		n, werr = unix.EpollWait(int(fd), evs, 0)
		return n > 0 || (werr != nil && werr != unix.EINTR)
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("wait for ring buffers: %w", err)
	case werr != nil:
		return 0, os.NewSyscallError("epoll_wait", werr)
	}
	return n, nil
}

// setPolling tells the kernel whether the pump is draining on its timer.
func (t *Tracer) setPolling(v uint32) {
	if t.polling != nil {
		_ = t.polling.Set(v)
	}
}

// stop ends the pump on an error that cannot happen with valid
// descriptors, rather than spin: what the rings hold is still delivered.
func (t *Tracer) stop(err error) {
	t.pumpErr = err
	t.setPolling(0)
	t.finish()
}

// ringsFull reports whether a ring holds more than its wakeup threshold.
func (t *Tracer) ringsFull() bool {
	for _, rd := range t.readers {
		if rd.AvailableBytes() >= t.wakeBytes {
			return true
		}
	}
	return false
}

// drain moves every record in the rings into the merge heap and returns
// how many it moved.
func (t *Tracer) drain() int {
	var (
		rec ringbuf.Record
		got int
	)
	for _, rd := range t.readers {
		if rd.AvailableBytes() == 0 {
			continue
		}
		for {
			if t.m.Len() >= maxPending {
				t.deliver(0, true)
			}
			err := rd.ReadInto(&rec)
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, ringbuf.ErrClosed) {
					// A record the ring's own framing does not
					// account for: the rest of this drain's data
					// for the ring is unreadable.
					t.decodeErrors.Add(1)
				}
				break
			}
			got++
			if events.IsProcRecord(rec.RawSample) {
				n, err := events.DecodeProc(rec.RawSample)
				if err != nil {
					t.decodeErrors.Add(1)
					continue
				}
				t.m.push(noteEvent(n))
				continue
			}
			if events.IsCgroupRecord(rec.RawSample) {
				if err := t.cgroups.add(rec.RawSample); err != nil {
					t.decodeErrors.Add(1)
				}
				continue
			}
			ev := t.newEvent()
			if err := t.dec.Decode(rec.RawSample, ev); err != nil {
				t.decodeErrors.Add(1)
				t.Release(ev)
				continue
			}
			t.cgroups.attribute(ev)
			if !t.host.place(ev) {
				t.hostFiltered[ev.Kind&31].Add(1)
				t.Release(ev)
				continue
			}
			t.m.push(ev)
		}
	}
	return got
}

// deliver hands the events up to limit (all: every one) to Read, in
// batches. While Close is under way it keeps them for finish instead of
// waiting for a reader.
func (t *Tracer) deliver(limit uint64, all bool) {
	for t.m.Len() > 0 {
		b := t.newBatch()
		b = t.m.release(b, limit, all, maxBatch)
		if len(b) == 0 {
			t.recycleBatch(b)
			return
		}
		if b = t.procs.apply(b); len(b) == 0 {
			t.recycleBatch(b)
			continue
		}
		t.count(b)
		select {
		case t.out <- b:
		case <-t.closing:
			t.held = append(t.held, b)
		}
	}
}

// finish runs once Close has detached every program: nothing new can
// arrive, so one more drain empties the rings for good. Close waits for
// that (drained), not for the events to be read.
func (t *Tracer) finish() {
	t.drain()
	close(t.drained)
	for _, b := range t.held {
		t.out <- b
	}
	t.held = nil
	for t.m.Len() > 0 {
		b := t.procs.apply(t.m.release(t.newBatch(), 0, true, maxBatch))
		if len(b) == 0 {
			t.recycleBatch(b)
			continue
		}
		t.count(b)
		t.out <- b
	}
}

// count adds a batch to the delivered counters.
func (t *Tracer) count(b []*events.Event) {
	var byKind [32]uint64
	for _, ev := range b {
		byKind[ev.Kind&31]++
	}
	for k, n := range byKind {
		if n > 0 {
			t.byKind[k].Add(n)
		}
	}
	t.delivered.Add(uint64(len(b)))
}

func (t *Tracer) newBatch() []*events.Event {
	select {
	case b := <-t.batches:
		return b[:0]
	default:
		return make([]*events.Event, 0, 256)
	}
}

func (t *Tracer) recycleBatch(b []*events.Event) {
	clear(b)
	select {
	case t.batches <- b[:0]:
	default:
	}
}

// bootClock reads CLOCK_BOOTTIME, the clock of the records' stamps,
// without a system call for each read: Go's monotonic clock (the vDSO)
// plus the boot-time offset, read again once a second since a suspend
// moves it (the monotonic clock stops while suspended, boot time does not).
type bootClock struct {
	base     time.Time // monotonic reading at the last sync
	baseBoot uint64    // boot time then
}

func (c *bootClock) now() uint64 {
	if since := time.Since(c.base); c.baseBoot != 0 && since < time.Second {
		return c.baseBoot + uint64(since)
	}
	c.base, c.baseBoot = time.Now(), bootNow()
	return c.baseBoot
}

func bootNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// merger orders events by kernel timestamp across CPUs and numbers them.
// Each CPU's events stay in the order its ring gave them, which is the
// order of their cpu_seq: a k-way merge of the CPUs' queues by the stamp at
// their heads. So a CPU's sequence gap (records its ring could not take)
// becomes the same gap in Seq, and nothing else does, even when a record's
// stamp is older than the one before it on its CPU (a task preempted
// between stamping and writing it).
type merger struct {
	q       []cpuQueue // by CPU
	heads   []int      // a min-heap of the CPUs whose queue is not empty
	n       int        // events held
	seq     uint64
	lastCPU []uint64 // by CPU: cpu_seq counts from 1 on every CPU
}

// cpuQueue is one CPU's events in ring order; evs[head:] are held.
type cpuQueue struct {
	evs  []*events.Event
	head int
}

func (q *cpuQueue) first() *events.Event { return q.evs[q.head] }

func (m *merger) Len() int    { return m.n }
func (m *merger) top() uint64 { return m.q[m.heads[0]].first().BootNS }

// before orders two CPUs by the events at the heads of their queues.
func (m *merger) before(a, b int) bool {
	x, y := m.q[a].first(), m.q[b].first()
	return x.BootNS < y.BootNS || (x.BootNS == y.BootNS && a < b)
}

func (m *merger) push(ev *events.Event) {
	c := int(ev.CPU)
	if c >= len(m.q) {
		m.q = append(m.q, make([]cpuQueue, c+1-len(m.q))...)
	}
	q := &m.q[c]
	q.evs = append(q.evs, ev)
	m.n++
	if len(q.evs)-q.head == 1 {
		m.heads = append(m.heads, c)
		m.up(len(m.heads) - 1)
	}
}

func (m *merger) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !m.before(m.heads[i], m.heads[p]) {
			return
		}
		m.heads[i], m.heads[p] = m.heads[p], m.heads[i]
		i = p
	}
}

func (m *merger) down(i int) {
	n := len(m.heads)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && m.before(m.heads[c+1], m.heads[c]) {
			c++
		}
		if !m.before(m.heads[c], m.heads[i]) {
			return
		}
		m.heads[i], m.heads[c] = m.heads[c], m.heads[i]
		i = c
	}
}

// pop takes the event at the head of the first CPU's queue.
func (m *merger) pop() *events.Event {
	c := m.heads[0]
	q := &m.q[c]
	ev := q.evs[q.head]
	q.evs[q.head] = nil
	q.head++
	m.n--
	switch {
	case q.head == len(q.evs):
		q.evs, q.head = q.evs[:0], 0
		last := len(m.heads) - 1
		m.heads[0] = m.heads[last]
		m.heads = m.heads[:last]
	case q.head > 1024 && q.head > len(q.evs)/2:
		// Reuse the front of the queue's array.
		k := copy(q.evs, q.evs[q.head:])
		clear(q.evs[k:])
		q.evs, q.head = q.evs[:k], 0
	}
	m.down(0)
	return ev
}

// release appends to b, numbered, up to max events stamped at or before
// limit (all: whatever their stamp), oldest first.
func (m *merger) release(b []*events.Event, limit uint64, all bool, max int) []*events.Event {
	for m.n > 0 && len(b) < max && (all || m.top() <= limit) {
		ev := m.pop()
		if isNote(ev) { // no number
			b = append(b, ev)
			continue
		}
		if int(ev.CPU) >= len(m.lastCPU) {
			m.lastCPU = append(m.lastCPU, make([]uint64, int(ev.CPU)+1-len(m.lastCPU))...)
		}
		last := m.lastCPU[ev.CPU]
		if ev.CPUSeq > last+1 {
			m.seq += ev.CPUSeq - last - 1
		}
		if ev.CPUSeq > last {
			m.lastCPU[ev.CPU] = ev.CPUSeq
		}
		m.seq++
		ev.Seq = m.seq
		b = append(b, ev)
	}
	return b
}

// pumpCounters are the pump's counters, read by Stats without a lock.
type pumpCounters struct {
	delivered    atomic.Uint64
	byKind       [32]atomic.Uint64
	decodeErrors atomic.Uint64
	hostFiltered [32]atomic.Uint64 // dropped by --path on their host paths (hostpath.go)
}

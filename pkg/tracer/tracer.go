package tracer

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
)

// DefaultKinds are the kinds traced when Options.Events is zero: every
// namespace-changing and attribute event, extended attributes (ACLs,
// capabilities, security labels) included.
const DefaultKinds = events.KindMask(1<<events.KindOpen | 1<<events.KindCreate | 1<<events.KindMkdir |
	1<<events.KindMknod | 1<<events.KindSymlink | 1<<events.KindLink | 1<<events.KindUnlink |
	1<<events.KindRmdir | 1<<events.KindRename | 1<<events.KindSetattr | 1<<events.KindMount |
	1<<events.KindUmount | 1<<events.KindXattr)

// SupportedKinds are the kinds this version can trace: the default ones,
// and read, write and close, which are not traced unless asked for.
const SupportedKinds = DefaultKinds | events.KindMask(1<<events.KindRead|1<<events.KindWrite|1<<events.KindClose)

// DefaultReorderWindow is how long an event is held back for ordering.
const DefaultReorderWindow = 20 * time.Millisecond

// Options configure a Tracer. The zero value traces DefaultKinds system-wide.
type Options struct {
	// Events selects the kinds to trace; zero means DefaultKinds.
	Events events.KindMask
	// RingSize is the size of each per-CPU ring buffer in bytes, a power of
	// two and a multiple of the page size; zero picks one from the CPU count.
	RingSize int
	// ReorderWindow is how long events are held back to be delivered in
	// timestamp order across CPUs; zero means DefaultReorderWindow.
	ReorderWindow time.Duration
	// Follow limits tracing to processes added with Follow or FollowExec
	// and all their descendants.
	Follow bool
	// IncludeSelf also reports the tracing process's own activity.
	IncludeSelf bool
	// EachCall lists the kinds among read and write reported on every
	// call. The others are reported on the first call through each open
	// file only, and counted for its close event.
	EachCall events.KindMask
	// Filter selects the events to keep, in the kernel; SetFilter
	// replaces it while tracing.
	Filter filters.Set
	// HookMode forces one way of hooking the kernel: ModeFentry,
	// ModeKprobe or ModeSyscall. Empty (or ModeAuto) tries them in that
	// order and keeps the first the kernel accepts.
	HookMode HookMode
	// RawSyscallTracepoints has the syscall mode hook the raw sys_enter
	// and sys_exit tracepoints even where the per-syscall ones would do:
	// they cost every syscall of the machine a program run, but need
	// neither tracefs nor bpf_task_pt_regs (5.15+). The fstrace command
	// sets it from FSTRACE_SYSCALL_HOOKS=raw.
	RawSyscallTracepoints bool
	// VerifierLog puts the kernel verifier's whole log in the error New
	// returns when it rejects a program. The fstrace command sets it from
	// FSTRACE_VERIFIER_LOG.
	VerifierLog bool
	// DropCapabilities drops every capability the process holds but
	// the one the tracer still needs, once it runs: see the function
	// DropCapabilities.
	DropCapabilities bool
}

// Stats are counters of a Tracer's life so far.
type Stats struct {
	Delivered    uint64                 // events returned by Read
	ByKind       map[events.Kind]uint64 // Delivered, by kind
	Lost         map[events.Kind]uint64 // records a full ring could not take
	Filtered     map[events.Kind]uint64 // events the filters dropped (in the kernel; a container's by its host paths here)
	DecodeErrors uint64                 // records that failed to decode
	// Missed bounds the events that may be gone without a seq gap: runs
	// of fstrace's programs the kernel skipped (the same program was
	// already running on that CPU, in a preempted task; or a kretprobe
	// ran out of instances) that no backup program made up for. Most
	// skipped runs carry no event, so this is an upper bound.
	Missed uint64
	// Skipped counts the programs' runs the kernel skipped in all;
	// Recovered, those a backup program made up for (syscall mode).
	Skipped, Recovered uint64
	// CgroupRecordsLost counts the cgroup records a full ring could not
	// take: events from those cgroups are named from /sys/fs/cgroup, or
	// carry no container fields where the cgroup is gone by then.
	CgroupRecordsLost uint64
}

// Tracer is a running set of BPF programs and the reader of their rings.
type Tracer struct {
	coll     *ebpf.Collection
	objs     *objs // coll's maps and variables
	links    []link.Link
	ringMaps []*ebpf.Map
	readers  []*ringbuf.Reader
	dec      *events.Decoder
	cgroups  *cgroups // the pump's
	procs    *procs   // the pump's
	mode     HookMode
	warning  string
	filter   *filterState
	host     *hostPaths
	attached map[string]string // by program name
	backups  []backupPair

	// The pump (rings.go) and Read.
	window    time.Duration
	wakeBytes int // a ring this full is drained at once
	epfd      int
	epfile    *os.File // epfd, waited on in Go's poller
	epconn    syscall.RawConn
	wakefd    int // eventfd: Close wakes the pump
	timerfd   int // the pump's deadlines
	polling   *ebpf.Variable
	m         merger
	held      [][]*events.Event // batches kept back while Close runs
	pumpErr   error
	out       chan []*events.Event
	batches   chan []*events.Event // recycled batch slices
	free      sync.Pool            // recycled events
	closing   chan struct{}
	drained   chan struct{} // the pump has emptied the rings after Close
	pumpCounters

	rmu    sync.Mutex // Read's current batch
	cur    []*events.Event
	curPos int

	closeOnce sync.Once
	closeErr  error

	// cmu is read-held by the calls that use the collection (SetFilter,
	// Follow, Stats) and write-held by Close to close it: a call racing
	// Close finds it whole or gone, never a descriptor being closed.
	cmu      sync.RWMutex
	collGone bool

	mu          sync.Mutex
	final       *Stats // the kernel's counters, read by Close
	linksMissed uint64 // kprobe misses, read by Close before detaching
}

// New loads and attaches the programs and starts reading.
func New(opts Options) (*Tracer, error) {
	kinds := opts.Events
	switch {
	case kinds == 0:
		kinds = DefaultKinds
	case kinds&events.AllKinds == events.AllKinds:
		kinds = SupportedKinds
	case kinds&^SupportedKinds != 0:
		return nil, fmt.Errorf("event kinds %s: %w yet", kinds&^SupportedKinds, ErrUnsupported)
	}
	if miss := missingCaps(); miss != "" {
		return nil, permissionError(miss)
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, ErrNoBTF
	}
	// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); errors.Is(err, unix.EPERM) {
		return nil, permissionError("CAP_SYS_RESOURCE, which this kernel asks for to lift RLIMIT_MEMLOCK for BPF maps")
	} else if err != nil {
		return nil, fmt.Errorf("raise memlock rlimit: %w", err)
	}
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoBTF, err)
	}
	modes, err := modeOrder(opts.HookMode)
	if err != nil {
		return nil, err
	}
	defer releaseObject()
	var errs []error
	for _, m := range modes {
		if len(modes) > 1 && m == ModeFentry && !fexitDetachSafe(kspec) {
			errs = append(errs, fmt.Errorf("fentry mode: skipped: %w", errUnsafeFexit))
			continue
		}
		shared := m == ModeFentry && haveKprobes()
		t, err := newMode(m, kspec, kinds, opts, shared)
		if shared && errors.Is(err, errSharedKprobe) {
			t, err = newMode(m, kspec, kinds, opts, false)
		}
		if err == nil {
			return t, nil
		}
		if len(modes) == 1 || !errors.Is(err, ErrUnsupported) {
			return nil, err
		}
		errs = append(errs, fmt.Errorf("%s mode: %w", m, err))
	}
	return nil, fmt.Errorf("no hook mode works on this kernel: %w", errors.Join(errs...))
}

// newMode loads and attaches one hook mode's programs and starts reading.
// With sharedFail, fentry mode's lookup-failure returns are one kretprobe
// (sharedFailReturn); errSharedKprobe says it did not attach.
func newMode(mode HookMode, kspec *btf.Spec, kinds events.KindMask, opts Options, sharedFail bool) (*Tracer, error) {
	spec, err := objectSpec()
	if err != nil {
		return nil, err
	}
	progSpecs := make(map[string]*ebpf.ProgramSpec, len(spec.Programs))
	for name, ps := range spec.Programs {
		progSpecs[name] = ps
	}
	progs, err := assignProgs(spec)
	if err != nil {
		return nil, err
	}
	// The syscall mode loads fmode_probe too, to run it once.
	var keep *ebpf.ProgramSpec
	if mode == ModeSyscall {
		keep = progs.FmodeProbe
	}
	attach, userNames, err := plan(spec, progs, kspec, hookTable(mode, progs, sharedFail, opts.RawSyscallTracepoints), kinds, opts.Follow, keep)
	if err != nil {
		return nil, err
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("count CPUs: %w", err)
	}
	ringSize := opts.RingSize
	if ringSize == 0 {
		ringSize = defaultRingSize(ncpu)
	}
	if ringSize <= 0 || ringSize > 1<<31 || ringSize&(ringSize-1) != 0 || ringSize%os.Getpagesize() != 0 {
		return nil, fmt.Errorf("ring size %d: must be a power of two, a multiple of %d, and at most 2 GiB", ringSize, os.Getpagesize())
	}
	specs, err := assignSpecs(spec)
	if err != nil {
		return nil, err
	}
	rings := specs.Rings
	rings.MaxEntries = uint32(ncpu)
	rings.InnerMap.MaxEntries = uint32(ringSize)

	if !haveTaskStorage() {
		// Only the backups use it; the map must still be created.
		m := specs.SysMarks
		m.Type, m.Flags, m.MaxEntries = ebpf.Hash, 0, 1
	}
	self := uint32(os.Getpid())
	if opts.IncludeSelf {
		self = 0
	}
	window := opts.ReorderWindow
	if window <= 0 {
		window = DefaultReorderWindow
	}
	wakeBytes := ringSize / 4 // see bpf/lib/emit.h
	host := newHostPaths(kinds)
	for _, v := range []struct {
		spec *ebpf.VariableSpec
		val  any
	}{
		{specs.WakeBytes, uint64(wakeBytes)}, {specs.SelfTgid, self}, {specs.FollowMode, opts.Follow},
		{specs.UserNames, userNames}, {specs.KindMask, uint32(kinds)}, {specs.EachMask, uint32(opts.EachCall)},
		{specs.PreemptGuard, preemptGuard()}, {specs.BtfCast, btfCast()},
		{specs.TaskLookup, mode == ModeSyscall && taskLookup()}, {specs.SysBackup, syscallBackups(kspec)},
		{specs.HostRootMnt, host.rootMount()}, {specs.FileKey, fileKey()},
	} {
		if err := v.spec.Set(v.val); err != nil {
			host.close()
			return nil, fmt.Errorf("set %s: %w", v.spec.Name, err)
		}
	}

	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		host.close()
		return nil, loadError(mode, err, opts.VerifierLog)
	}
	o, err := assignObjs(coll)
	if err != nil {
		coll.Close()
		host.close()
		return nil, err
	}
	t := &Tracer{
		coll:      coll,
		objs:      o,
		dec:       events.NewDecoder(),
		mode:      mode,
		attached:  attach,
		backups:   backupPairs(progs),
		window:    window,
		wakeBytes: wakeBytes,
		epfd:      -1,
		wakefd:    -1,
		timerfd:   -1,
		out:       make(chan []*events.Event, 16),
		batches:   make(chan []*events.Event, 32),
		closing:   make(chan struct{}),
		drained:   make(chan struct{}),
	}
	t.host = host
	hostMnt, hostCg := hostNS()
	t.cgroups = newCgroups(hostMnt)
	t.procs = newProcs()
	t.filter = &filterState{objs: o, kinds: kinds, host: t.host, hostMnt: hostMnt, hostCg: hostCg}
	if err := t.filter.set(opts.Filter); err != nil {
		t.teardown()
		return nil, err
	}
	if mode == ModeFentry && !fexitDetachSafe(kspec) {
		t.warning = "fentry mode forced on a kernel where " + errUnsafeFexit.Error() + "; --hook-mode kprobe avoids it"
	}
	if mode == ModeSyscall {
		if err := probeFmodeCreated(coll.Programs[keep.Name], o); err != nil {
			t.teardown()
			return nil, err
		}
	}
	if err := t.openRings(ncpu, ringSize); err != nil {
		t.teardown()
		return nil, err
	}
	// In name order: a primary before its backup (bpf/syscall.bpf.h).
	for _, prog := range slices.Sorted(maps.Keys(attach)) {
		ls, err := attachProgram(progSpecs[prog], coll.Programs[prog], attach[prog])
		if err != nil {
			t.teardown()
			if sharedFail && prog == progs.KpFailRet.Name {
				return nil, fmt.Errorf("%w: %w", errSharedKprobe, err)
			}
			// A mode whose programs load but cannot attach is as
			// unsupported as one whose programs the kernel refuses.
			err = loadError(mode, err, opts.VerifierLog)
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrPermission) {
				err = fmt.Errorf("%w: %w", ErrUnsupported, err)
			}
			return nil, fmt.Errorf("attach %s to %s: %w", prog, attach[prog], err)
		}
		t.links = append(t.links, ls...)
	}
	if err := t.startPump(); err != nil {
		t.teardown()
		return nil, err
	}
	if opts.DropCapabilities {
		if err := DropCapabilities(); err != nil {
			_ = t.Close() // DropCapabilities' error is the one to report
			return nil, err
		}
	}
	return t, nil
}

func defaultRingSize(ncpu int) int {
	// 64 MiB in all, between 1 and 16 MiB per CPU.
	size := 1 << 24
	for size > 1<<20 && size*ncpu > 1<<26 {
		size >>= 1
	}
	return size
}

// loadError turns the kernel's refusals into errors a user can act on;
// verifierLog adds the whole log of a verifier's refusal.
func loadError(mode HookMode, err error, verifierLog bool) error {
	what := modePrograms[mode]
	var ve *ebpf.VerifierError
	switch {
	case errors.As(err, &ve) && verifierLog:
		// %+v, not %w: the whole log, where Error gives its last lines; err,
		// which is ve, is wrapped already.
		return fmt.Errorf("kernel verifier rejected a program: %w\nverifier log:\n%+v", err, ve) //nolint:errorlint // see above
	case errors.As(err, &ve):
		return fmt.Errorf("kernel verifier rejected a program: %w", err)
	case errors.Is(err, unix.EPERM) && missingCaps() != "":
		return fmt.Errorf("%w (missing %s: %w)", ErrPermission, missingCaps(), err)
	case errors.Is(err, unix.EACCES) && perfNeedsAdmin():
		return fmt.Errorf("%w (missing CAP_SYS_ADMIN: kernel.perf_event_paranoid is above 2, which leaves the perf events %s attach through to CAP_SYS_ADMIN; at 2, CAP_PERFMON is enough: %w)", ErrPermission, what, err)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%s: %w: the kernel refused them (operation not permitted); it may be locked down", what, ErrUnsupported)
	case errors.Is(err, syscall.Errno(524)), // ENOTSUPP
		errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, os.ErrNotExist),
		errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("%s: %w: %w", what, ErrUnsupported, err)
	}
	return err
}

func (t *Tracer) openRings(ncpu, size int) error {
	outer := t.objs.Rings
	for cpu := 0; cpu < ncpu; cpu++ {
		inner, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: uint32(size)})
		if errors.Is(err, unix.ENOMEM) {
			return fmt.Errorf("create a ring of %d MiB for CPU %d of %d: not enough memory (a smaller ring size would do): %w", size>>20, cpu, ncpu, err)
		}
		if err != nil {
			return fmt.Errorf("create ring for CPU %d: %w", cpu, err)
		}
		// Kept open: the pump waits on it for the kernel's wakeups.
		t.ringMaps = append(t.ringMaps, inner)
		err = outer.Put(uint32(cpu), inner)
		if err == nil {
			var rd *ringbuf.Reader
			rd, err = ringbuf.NewReader(inner)
			if err == nil {
				t.readers = append(t.readers, rd)
			}
		}
		if err != nil {
			return fmt.Errorf("ring for CPU %d: %w", cpu, err)
		}
	}
	return nil
}

// HookMode names how the tracer hooks the kernel: ModeFentry, ModeKprobe
// or ModeSyscall.
func (t *Tracer) HookMode() HookMode { return t.mode }

// Hooks maps each loaded program to the kernel function or tracepoint it is
// attached to.
func (t *Tracer) Hooks() map[string]string {
	m := make(map[string]string, len(t.attached))
	for k, v := range t.attached {
		m[k] = v
	}
	return m
}

// HasBackups reports whether backup copies of programs are attached, which
// take most of the runs the kernel skips (syscall mode, where syscall
// tracepoints are faultable): see Stats.Recovered.
func (t *Tracer) HasBackups() bool {
	return slices.ContainsFunc(t.backups, func(b backupPair) bool { return t.attached[b.backup] != "" })
}

// Read returns the next event. It returns ErrClosed once the tracer is closed
// and drained, or ctx's error. The caller owns the event; Release hands it
// back for reuse.
func (t *Tracer) Read(ctx context.Context) (*events.Event, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	if err := t.fill(ctx); err != nil {
		return nil, err
	}
	ev := t.cur[t.curPos]
	t.cur[t.curPos] = nil
	t.curPos++
	return ev, nil
}

// Events returns an iterator over the events for a range loop: it yields
// what Read returns, one event at a time, with a nil error. The loop ends
// once the tracer is closed and drained (ErrClosed is the normal end and
// is not yielded); if ctx is done first, it yields (nil, ctx's error) once
// and ends. The caller owns each event, as with Read; Release hands it
// back. Breaking out of the loop early is safe and loses nothing: the
// events not yet yielded stay for the next Read or range over Events.
func (t *Tracer) Events(ctx context.Context) iter.Seq2[*events.Event, error] {
	return func(yield func(*events.Event, error) bool) {
		for {
			ev, err := t.Read(ctx)
			if errors.Is(err, ErrClosed) {
				return
			}
			// Read holds no lock across yield, so the loop body may call
			// any method, Close and Read included.
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// ReadBatch appends to dst every event that is ready, waiting for at least
// one, and returns the extended slice. It returns ErrClosed once the tracer
// is closed and drained, or ctx's error. The caller owns the events; events
// are read with one call per batch instead of one per event.
func (t *Tracer) ReadBatch(ctx context.Context, dst []*events.Event) ([]*events.Event, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	if err := t.fill(ctx); err != nil {
		return dst, err
	}
	dst = append(dst, t.cur[t.curPos:]...)
	t.curPos = len(t.cur)
	return dst, nil
}

// Batches returns the channel the tracer delivers events on, in batches
// in Seq order, for a consumer that waits on other channels too (a select
// loop): one hand-off per batch. The channel is closed once the tracer is
// closed and drained. The consumer owns each batch and its events. Use
// either Batches or Read and ReadBatch, not both.
func (t *Tracer) Batches() <-chan []*events.Event { return t.out }

// fill makes sure the current batch has an unread event.
func (t *Tracer) fill(ctx context.Context) error {
	for t.curPos >= len(t.cur) {
		if t.cur != nil {
			t.recycleBatch(t.cur)
			t.cur = nil
		}
		select {
		case b, ok := <-t.out:
			if !ok {
				return ErrClosed
			}
			t.cur, t.curPos = b, 0
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Release returns an event obtained from Read for reuse. The event must not
// be used afterwards. Calling it is optional; it saves an allocation.
func (t *Tracer) Release(ev *events.Event) { t.free.Put(ev) }

// ReleaseBatch returns a batch received from Batches, and every event in
// it, for reuse. Neither may be used afterwards. Calling it is optional;
// it saves their allocations.
func (t *Tracer) ReleaseBatch(b []*events.Event) {
	for _, ev := range b {
		t.free.Put(ev)
	}
	t.recycleBatch(b)
}

func (t *Tracer) newEvent() *events.Event {
	if ev, ok := t.free.Get().(*events.Event); ok {
		return ev
	}
	return new(events.Event)
}

// The states of a process in the followed map: FOLLOW_* in
// bpf/lib/common.h. An armed process becomes traced at its next exec.
const (
	followArmed  uint32 = 1
	followTraced uint32 = 2
)

// Follow adds a running process (a thread group id) and its future
// descendants to the followed set. Requires Options.Follow.
func (t *Tracer) Follow(pid int) error { return t.follow(pid, followTraced) }

// FollowExec adds a process that is traced from its next execve on, with
// its descendants: a launcher can register its child before the child runs
// the command, without its own pre-exec activity being reported.
func (t *Tracer) FollowExec(pid int) error { return t.follow(pid, followArmed) }

func (t *Tracer) follow(pid int, state uint32) error {
	t.cmu.RLock()
	defer t.cmu.RUnlock()
	if t.collGone {
		return ErrClosed
	}
	if err := t.objs.Followed.Put(uint32(pid), state); err != nil {
		return fmt.Errorf("follow pid %d: %w", pid, err)
	}
	return nil
}

// SetFilter replaces the filter set, atomically: every event is judged by
// either the old set or the new one, whole. After Close it returns
// ErrClosed.
func (t *Tracer) SetFilter(s filters.Set) error {
	t.cmu.RLock()
	defer t.cmu.RUnlock()
	if t.collGone {
		return ErrClosed
	}
	return t.filter.set(s)
}

// Stats returns the counters so far; after Close, their final values.
func (t *Tracer) Stats() (Stats, error) {
	st := Stats{Delivered: t.delivered.Load(), DecodeErrors: t.decodeErrors.Load(), ByKind: map[events.Kind]uint64{}}
	for _, k := range events.Kinds() {
		if n := t.byKind[k&31].Load(); n > 0 {
			st.ByKind[k] = n
		}
	}
	t.cmu.RLock()
	defer t.cmu.RUnlock()
	t.mu.Lock()
	final := t.final
	t.mu.Unlock()
	if final != nil {
		st.Lost, st.Filtered = final.Lost, final.Filtered
		st.Missed, st.Skipped, st.Recovered = final.Missed, final.Skipped, final.Recovered
		st.CgroupRecordsLost = final.CgroupRecordsLost
		return st, nil
	}
	if t.coll == nil {
		return st, nil
	}
	var err, err2 error
	st.Lost, err = perKind(t.objs.Lost, "lost")
	st.Filtered, err2 = perKind(t.objs.Filtered, "filtered")
	for _, k := range events.Kinds() {
		if n := t.hostFiltered[k&31].Load(); n > 0 {
			st.Filtered[k] += n
		}
	}
	st.Missed, st.Skipped, st.Recovered = t.missed()
	var err3 error
	var per []uint64 // a per-CPU counter
	if err3 = t.objs.CgLost.Lookup(uint32(0), &per); err3 == nil {
		for _, v := range per {
			st.CgroupRecordsLost += v
		}
	}
	return st, errors.Join(err, err2, err3)
}

// missed bounds the hook runs the kernel skipped that nothing made up for,
// from the programs' recursion-miss counts (Linux 5.12+; zero before). A
// primary's miss that its backup took over is made up for; one the backup
// missed too is not, and at most min(primary misses - taken over, backup
// misses) hits went that way.
func (t *Tracer) missed() (missed, skipped, recovered uint64) {
	misses := map[string]uint64{}
	for name := range t.attached {
		if ps, err := t.coll.Programs[name].Stats(); err == nil {
			misses[name] = ps.RecursionMisses
			skipped += ps.RecursionMisses
		}
	}
	for _, p := range t.backups {
		bm, ok := misses[p.backup]
		if !ok {
			continue
		}
		var per []uint64
		var took uint64
		if t.objs.SysRecovered.Lookup(p.slot, &per) == nil {
			for _, v := range per {
				took += v
			}
		}
		recovered += took
		pm := misses[p.primary]
		misses[p.primary] = min(pm-min(pm, took), bm)
		delete(misses, p.backup)
	}
	for _, v := range misses {
		missed += v
	}
	// kprobes and kretprobes the kernel missed (recursion, or more
	// concurrent calls than a kretprobe has instances): Linux 6.7+.
	kp := t.kprobeMissed()
	return missed + kp, skipped + kp, recovered
}

// kprobeMissed sums the misses of the kprobe links; after Close, their
// last count.
func (t *Tracer) kprobeMissed() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.links == nil {
		return t.linksMissed
	}
	var n uint64
	for _, l := range t.links {
		if info, err := l.Info(); err == nil {
			if pe := info.PerfEvent(); pe != nil {
				if k := pe.Kprobe(); k != nil {
					n += k.Missed
				}
			}
		}
	}
	return n
}

// RingUsage is one per-CPU ring buffer's fill.
type RingUsage struct {
	CPU  int
	Size int // bytes
	Used int // bytes written by the kernel and not yet read
}

// Rings reports how full each ring is; nil once closed.
func (t *Tracer) Rings() []RingUsage {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]RingUsage, 0, len(t.readers))
	for i, rd := range t.readers {
		out = append(out, RingUsage{CPU: i, Size: rd.BufferSize(), Used: rd.AvailableBytes()})
	}
	return out
}

// Healthy reports whether the tracer is attached and its ring readers run.
func (t *Tracer) Healthy() bool {
	select {
	case <-t.closing:
		return false
	case <-t.drained:
		return false
	default:
		return true
	}
}

// perKind sums a per-CPU, per-kind counter map of the kernel side.
func perKind(m *ebpf.Map, name string) (map[events.Kind]uint64, error) {
	out := map[events.Kind]uint64{}
	for _, k := range events.Kinds() {
		var per []uint64
		if err := m.Lookup(uint32(k), &per); err != nil {
			return out, fmt.Errorf("read %s counters: %w", name, err)
		}
		var sum uint64
		for _, v := range per {
			sum += v
		}
		if sum > 0 {
			out[k] = sum
		}
	}
	return out, nil
}

// Close detaches the programs, then drains every ring: events recorded
// before Close remain readable with Read, which returns ErrClosed after the
// last one. Close does not wait for them to be read.
func (t *Tracer) Close() error {
	t.closeOnce.Do(func() {
		var errs []error
		missed := t.kprobeMissed()
		t.mu.Lock()
		errs = append(errs, t.closeLinks()...)
		t.links, t.linksMissed = nil, missed
		t.mu.Unlock()
		// The pump drains every ring once more, then Close goes on; the
		// events stay readable.
		close(t.closing)
		if _, err := unix.Write(t.wakefd, []byte{1, 0, 0, 0, 0, 0, 0, 0}); err != nil {
			errs = append(errs, os.NewSyscallError("wake the ring reader", err))
		}
		<-t.drained
		errs = append(errs, t.pumpErr)
		t.mu.Lock()
		t.closeRings()
		t.mu.Unlock()
		t.host.close()
		st, err := t.Stats()
		errs = append(errs, err)
		t.mu.Lock()
		t.final = &st
		t.mu.Unlock()
		t.cmu.Lock()
		t.coll.Close()
		t.collGone = true
		t.cmu.Unlock()
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
}

// teardown undoes a partly built tracer.
func (t *Tracer) teardown() {
	t.host.close()
	t.closeLinks()
	t.closeRings()
	t.coll.Close()
}

// closeLinks detaches every program. Each detach waits for the kernel's
// RCU grace period (some 50 ms for a tracepoint), so they run side by side:
// the per-syscall tracepoints took 4 s one after the other. Where backup
// programs are attached they go in reverse, a backup before its primary,
// so that it never runs alone and takes hits the kernel did not skip.
func (t *Tracer) closeLinks() []error {
	errs := make([]error, len(t.links))
	if t.HasBackups() {
		for i := len(t.links) - 1; i >= 0; i-- {
			errs[i] = t.links[i].Close()
		}
		return errs
	}
	var wg sync.WaitGroup
	for i, l := range t.links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.Close()
		}()
	}
	wg.Wait()
	return errs
}

// closeRings closes the ring readers, the rings and the pump's descriptors.
func (t *Tracer) closeRings() {
	for _, rd := range t.readers {
		_ = rd.Close()
	}
	for _, m := range t.ringMaps {
		_ = m.Close()
	}
	if t.epfile != nil {
		_ = t.epfile.Close()
	} else if t.epfd >= 0 {
		_ = unix.Close(t.epfd)
	}
	for _, fd := range []int{t.wakefd, t.timerfd} {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
	t.epfile, t.timerfd = nil, -1
	t.readers, t.ringMaps, t.epfd, t.wakefd = nil, nil, -1, -1
}

// fileKey is the key that hides the kernel's struct file addresses in
// file_id (bpf/lib/path.h): drawn from the system's CSPRNG at each start,
// as it stands between a kernel address and the output.
func fileKey() uint64 {
	var b [8]byte
	crand.Read(b[:]) // never fails on Linux (crypto/rand's doc)
	return binary.NativeEndian.Uint64(b[:])
}

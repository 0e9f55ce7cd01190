package mounts

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Mount is one line of a mountinfo file.
type Mount struct {
	ID    int
	Dev   uint64 // user-space st_dev encoding (unix.Mkdev)
	Root  string // the mounted directory's path from its filesystem's root
	Point string // where it is mounted

	// The CLOCK_BOOTTIME span the mount may have been there in, as the
	// Resolver's reads tell: from the last read without it (0: the first
	// read had it) to the read that found it gone (0: not gone).
	since, until uint64
}

// at reports whether the mount may have been there at boot time t.
func (m *Mount) at(t uint64) bool {
	return m.since <= t && (m.until == 0 || t <= m.until)
}

// Table is a mount table in mountinfo order, later mounts last.
type Table struct {
	mounts []Mount
	byDev  map[uint64][]int // indexes into mounts
}

// Parse reads a mountinfo file (proc(5)): "ID PARENT MAJOR:MINOR ROOT
// POINT ...".
func Parse(r io.Reader) (*Table, error) {
	t := &Table{byDev: map[uint64][]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			return nil, fmt.Errorf("mountinfo line %d: %d fields, want at least 5", n, len(f))
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: mount id %q", n, f[0])
		}
		maj, min, ok := strings.Cut(f[2], ":")
		ma, err1 := strconv.ParseUint(maj, 10, 32)
		mi, err2 := strconv.ParseUint(min, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo line %d: device %q", n, f[2])
		}
		m := Mount{ID: id, Dev: unix.Mkdev(uint32(ma), uint32(mi)), Root: unescape(f[3]), Point: unescape(f[4])}
		t.byDev[m.Dev] = append(t.byDev[m.Dev], len(t.mounts))
		t.mounts = append(t.mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return t, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space, \134 for
// a backslash...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Root returns the id of the mount on "/", the last one if several are:
// the root of the process whose table it is (a root that is no mount's
// root, chroot's, does not show).
func (t *Table) Root() (int, bool) {
	for i := len(t.mounts) - 1; i >= 0; i-- {
		if t.mounts[i].Point == "/" {
			return t.mounts[i].ID, true
		}
	}
	return 0, false
}

// Mounts returns the table's mounts, in order.
func (t *Table) Mounts() []Mount { return t.mounts }

// Place returns the host path of the file at rel (absolute, from the root
// of the filesystem dev), and whether there is one: a mount of dev whose
// root holds rel, that no later mount hides. A mount of the filesystem's
// root is preferred to a bind mount of a part of it; among equals, the
// first mounted.
func (t *Table) Place(dev uint64, rel string) (string, bool) { return t.placeAt(dev, rel, 0, false) }

// placeAt is Place among the mounts there at boot time at, when timed:
// device numbers of anonymous filesystems (tmpfs, overlay) are used again
// as soon as they are free.
func (t *Table) placeAt(dev uint64, rel string, at uint64, timed bool) (string, bool) {
	best, bestRoot := "", -1
	for _, i := range t.byDev[dev] {
		m := &t.mounts[i]
		if timed && !m.at(at) {
			continue
		}
		rest, ok := below(rel, m.Root)
		if !ok {
			continue
		}
		// the mount holding more of the filesystem wins: "/" first
		if bestRoot >= 0 && len(m.Root) >= bestRoot {
			continue
		}
		p := join(m.Point, rest)
		if t.hidden(i, p) {
			continue
		}
		best, bestRoot = p, len(m.Root)
	}
	return best, bestRoot >= 0
}

// hidden reports whether p, under mount i's mount point, leads into
// another mount: one on the same point mounted later, or one deeper on
// the way to p.
func (t *Table) hidden(i int, p string) bool {
	point := t.mounts[i].Point
	for j := range t.mounts {
		q := t.mounts[j].Point
		if j == i {
			continue
		}
		if q == point {
			if j > i {
				return true
			}
			continue
		}
		if _, under := below(q, point); under {
			if _, on := below(p, q); on {
				return true
			}
		}
	}
	return false
}

// below reports whether path p is dir or under it, and returns what
// follows dir in p ("" for dir itself, else from its '/').
func below(p, dir string) (string, bool) {
	if dir == "/" {
		if p == "/" {
			return "", true
		}
		return p, strings.HasPrefix(p, "/")
	}
	if !strings.HasPrefix(p, dir) {
		return "", false
	}
	rest := p[len(dir):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	return rest, true
}

func join(point, rest string) string {
	if rest == "" {
		return point
	}
	if point == "/" {
		return rest
	}
	return point + rest
}

// Resolver keeps the host's mount table and places files in it. It reads
// the table again when it changed: told so (Invalidate: fstrace does on
// every mount and umount it sees), or, for a /proc mountinfo file, as
// poll(2) on it says (Watch; else checked on a miss, and at least every
// PollInterval).
// Another file is read again on a miss, at most once per MissInterval: a
// filesystem only a container has mounted misses every time. It is safe
// for concurrent use.
//
// A mount gone from the table (a container's root, unmounted as it
// exits) still places files for GoneFor after the read that found it
// gone, for the events that happened while it was there: where the caller
// reads the table again on every change (Watch), a file of a mount that
// lived for a few milliseconds is placed.
type Resolver struct {
	mu           sync.Mutex
	fd           int // not an *os.File: Go's poller would take the change reports
	stopfd       int // ends Watch
	done         chan struct{}
	proc         bool // f is a /proc file: poll says when the table changed
	t            *Table
	stale        bool
	read, polled time.Time
	readBoot     uint64 // CLOCK_BOOTTIME of the last read
	buf          bytes.Buffer
	gone         []goneMount
	MissInterval time.Duration
	PollInterval time.Duration
	GoneFor      time.Duration
}

type goneMount struct {
	Mount
	at time.Time
}

// Defaults of a Resolver's MissInterval, PollInterval and GoneFor.
const (
	DefaultMissInterval = 100 * time.Millisecond
	DefaultPollInterval = 100 * time.Millisecond
	DefaultGoneFor      = 10 * time.Second
)

// Open returns a Resolver over the mountinfo file at path, normally
// /proc/1/mountinfo: the file stays open, so that the table can be read
// again after the caller dropped the privileges it took to open it.
func Open(path string) (*Resolver, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open mount table: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	var fs unix.Statfs_t
	proc := unix.Fstatfs(fd, &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC
	r := &Resolver{fd: fd, proc: proc, MissInterval: DefaultMissInterval, PollInterval: DefaultPollInterval,
		GoneFor: DefaultGoneFor}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changed() // a fresh open reports no change; be sure
	if err := r.load(); err != nil {
		_ = unix.Close(fd) // read-only; load's error is the one to report
		return nil, err
	}
	return r, nil
}

// Close closes the mountinfo file.
func (r *Resolver) Close() error {
	if r.done != nil {
		_, _ = unix.Write(r.stopfd, []byte{1, 0, 0, 0, 0, 0, 0, 0}) // an eventfd's write fails only on overflow
		<-r.done
		_ = unix.Close(r.stopfd)
		r.done = nil
	}
	return unix.Close(r.fd)
}

// Table returns the current table.
func (r *Resolver) Table() *Table {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.t
}

// Watch reads a /proc table again at each change, from now until Close,
// in a goroutine of its own blocked in poll(2).
func (r *Resolver) Watch() error {
	if !r.proc || r.done != nil {
		return nil
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	r.stopfd, r.done = efd, make(chan struct{})
	go func() {
		defer close(r.done)
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLPRI}, {Fd: int32(efd), Events: unix.POLLIN}}
		for {
			fds[0].Revents, fds[1].Revents = 0, 0
			_, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil || fds[1].Revents != 0 || fds[0].Revents&unix.POLLNVAL != 0 {
				return
			}
			if fds[0].Revents&(unix.POLLPRI|unix.POLLERR) != 0 {
				r.mu.Lock()
				_ = r.loadAt(true)
				r.mu.Unlock()
			}
		}
	}()
	return nil
}

// Refresh reads the table again.
func (r *Resolver) Refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc {
		r.changed()
	}
	_ = r.load() // Refresh returns no error
}

// Invalidate marks the table out of date: the next Place reads it again.
func (r *Resolver) Invalidate() {
	r.mu.Lock()
	r.stale = true
	r.mu.Unlock()
}

// Place is Table.Place on the current table, for a file seen at
// CLOCK_BOOTTIME at (an event's BootNS): a mount the reads say came later
// or went earlier is not its place.
func (r *Resolver) Place(dev uint64, rel string, at uint64) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stale || (r.proc && time.Since(r.polled) >= r.PollInterval && r.changed()) {
		_ = r.load()
	}
	if p, ok := r.t.placeAt(dev, rel, at, true); ok {
		return p, true
	}
	reload := time.Since(r.read) >= r.MissInterval
	if r.proc {
		reload = r.changed()
	}
	if reload && r.load() == nil {
		if p, ok := r.t.placeAt(dev, rel, at, true); ok {
			return p, true
		}
	}
	return r.placeGone(dev, rel, at)
}

// placeGone places a file in the mounts gone of late.
func (r *Resolver) placeGone(dev uint64, rel string, at uint64) (string, bool) {
	var t *Table
	for i := len(r.gone) - 1; i >= 0; i-- { // the last gone first
		g := r.gone[i]
		if g.Dev != dev || time.Since(g.at) > r.GoneFor {
			continue
		}
		if t == nil {
			t = &Table{byDev: map[uint64][]int{}}
		}
		t.byDev[dev] = append(t.byDev[dev], len(t.mounts))
		t.mounts = append(t.mounts, g.Mount)
	}
	if t == nil {
		return "", false
	}
	return t.placeAt(dev, rel, at, true)
}

// changed polls a /proc mountinfo file: the kernel flags it once after
// each change to the namespace's mounts (proc(5)).
func (r *Resolver) changed() bool {
	r.polled = time.Now()
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLPRI}}
	n, err := unix.Poll(fds, 0)
	return err != nil || (n > 0 && fds[0].Revents&(unix.POLLPRI|unix.POLLERR) != 0)
}

// bootNow is CLOCK_BOOTTIME, the clock of events' BootNS.
func bootNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) // fails only for an unknown clock
	return uint64(ts.Nano())
}

// WatchSlack is how long before Watch's read, woken by the change, a
// mount it finds new may have been made: events older than that are not
// placed in it. Reads for other reasons only tell that it came after the
// read before.
const WatchSlack = time.Millisecond

// load reads the table again; on an error the old one stays.
func (r *Resolver) load() error { return r.loadAt(false) }

// loadAt is load; woken: Watch reads at a change it was just told of.
func (r *Resolver) loadAt(woken bool) error {
	r.read = time.Now()
	before := r.readBoot
	r.readBoot = bootNow()
	r.stale = false
	r.buf.Reset()
	if _, err := unix.Seek(r.fd, 0, io.SeekStart); err != nil {
		return fmt.Errorf("read mount table: %w", err)
	}
	for {
		r.buf.Grow(16 << 10)
		b := r.buf.AvailableBuffer()[:16<<10]
		n, err := unix.Read(r.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read mount table: %w", err)
		}
		if n == 0 {
			break
		}
		r.buf.Write(b[:n])
	}
	t, err := Parse(&r.buf)
	if err != nil {
		return err
	}
	if woken && r.readBoot-uint64(WatchSlack) > before {
		before = r.readBoot - uint64(WatchSlack)
	}
	r.forget(t, before)
	r.t = t
	return nil
}

// forget times t's mounts against the table in force, read at boot time
// before: a mount new since then came after it. It keeps the mounts t no
// longer has in r.gone, and drops those gone for longer than GoneFor.
func (r *Resolver) forget(t *Table, before uint64) {
	now := time.Now()
	keep := r.gone[:0]
	for _, g := range r.gone {
		if now.Sub(g.at) <= r.GoneFor {
			keep = append(keep, g)
		}
	}
	r.gone = keep
	if r.t == nil {
		return
	}
	old := make(map[int]*Mount, len(r.t.mounts))
	for i := range r.t.mounts {
		old[r.t.mounts[i].ID] = &r.t.mounts[i]
	}
	for i := range t.mounts {
		m := &t.mounts[i]
		if o := old[m.ID]; o != nil {
			m.since = o.since
			delete(old, m.ID)
		} else {
			m.since = before
			// A filesystem without a device of its own (tmpfs, overlay,
			// major 0) takes the number another just freed: a file of
			// that other, made after the read before, would be placed
			// here. Such a mount is taken to be as new as this read
			// allows (vmtests TestHostPath, 5.10: a namespace's tmpfs
			// given the path of the host's next one).
			if unix.Major(m.Dev) == 0 {
				m.since = max(before, r.readBoot-uint64(WatchSlack))
			}
		}
	}
	for _, m := range r.t.mounts {
		if old[m.ID] != nil {
			m.until = r.readBoot
			r.gone = append(r.gone, goneMount{m, now})
		}
	}
}

package tracer

import (
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
	"github.com/fstrace/fstrace/pkg/mounts"
)

// hostPaths gives the events of processes in containers and chroots their
// host paths (bpf/lib/host.h, pkg/mounts), and holds the share of the
// --path filter those events leave to user space.
type hostPaths struct {
	mounts *mounts.Resolver          // nil: the host's mount table could not be read
	paths  atomic.Pointer[pathRules] // the path filter in force
	kinds  events.KindMask
}

// hostMountTable is the initial mount namespace's table, as pid 1 sees it.
const hostMountTable = "/proc/1/mountinfo"

// rootMount returns the mount id of the host's root, pid 1's (Linux
// 5.8+), from statx of /proc/1/root or else from the host's mount table;
// 0 when it cannot be told, and then no event carries host paths.
func (h *hostPaths) rootMount() int32 {
	var st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, "/proc/1/root", 0, unix.STATX_MNT_ID, &st)
	if err == nil && st.Mask&unix.STATX_MNT_ID != 0 {
		return int32(st.Mnt_id)
	}
	if h.mounts != nil {
		if id, ok := h.mounts.Table().Root(); ok {
			return int32(id)
		}
	}
	return 0
}

func newHostPaths(kinds events.KindMask) *hostPaths {
	h := &hostPaths{kinds: kinds}
	if r, err := mounts.Open(hostMountTable); err == nil {
		h.mounts = r
		_ = r.Watch() // without the watch, Place polls the table
	}
	h.paths.Store(&pathRules{})
	return h
}

func (h *hostPaths) close() {
	if h.mounts != nil {
		_ = h.mounts.Close()
	}
}

// setFilter takes the path rules of a new filter set.
func (h *hostPaths) setFilter(s filters.Set) {
	vals, inc := rules(s.Path, h.kinds)
	h.paths.Store(&pathRules{vals: vals, include: inc})
}

// place sets ev's host paths, and says whether ev is to be kept: one the
// kernel's path filter passed up (HostFilter) is kept when a host path
// matches.
func (h *hostPaths) place(ev *events.Event) bool {
	if (ev.Kind == events.KindMount || ev.Kind == events.KindUmount) && ev.Ret == 0 && h.mounts != nil {
		h.mounts.Invalidate()
	}
	if h.mounts != nil {
		if f := ev.FSPath; f.Path != "" {
			ev.HostPath, _ = h.mounts.Place(f.Dev, f.Path, ev.BootNS)
		}
		if f := ev.FSNewPath; f.Path != "" {
			ev.HostNewPath, _ = h.mounts.Place(f.Dev, f.Path, ev.BootNS)
		}
	}
	if !ev.HostFilter {
		return true
	}
	p := h.paths.Load()
	return (ev.HostPath != "" && p.ok(ev.HostPath, ev.Kind)) ||
		(ev.HostNewPath != "" && p.ok(ev.HostNewPath, ev.Kind))
}

// pathRules is the path dimension of a filter set, judged as the kernel's
// LPM trie does (bpf/lib/filter.h): the longest rule that holds the path
// decides.
type pathRules struct {
	vals    map[string]*bpfFilterVal
	include bool
}

func (p *pathRules) ok(path string, k events.Kind) bool {
	bit := uint32(1) << (uint32(k) & 31)
	var v *bpfFilterVal
	best := -1
	for r, rv := range p.vals {
		if len(r) > best && holds(r, path) {
			v, best = rv, len(r)
		}
	}
	if v != nil && v.Exclude&bit != 0 {
		return false
	}
	if !p.include {
		return true
	}
	return v != nil && v.Include&bit != 0
}

// holds reports whether the subtree dir holds path.
func holds(dir, path string) bool {
	if dir == "/" {
		return true
	}
	return strings.HasPrefix(path, dir) && (len(path) == len(dir) || path[len(dir)] == '/')
}

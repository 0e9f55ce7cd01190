package tracer

import (
	"io/fs"

	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/pkg/container"
	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
)

// hostNS are the inodes of the initial mount and cgroup namespaces: those
// of pid 1, as /proc shows them. Where /proc/1 cannot be read (fstrace in
// a pid namespace of its own, or without the right to look at pid 1) they
// are fstrace's own, and the tracer then takes its own namespaces for the
// host's.
func hostNS() (mnt, cg uint32) {
	ino := func(name string) uint32 {
		var st unix.Stat_t
		for _, p := range []string{"/proc/1/ns/" + name, "/proc/self/ns/" + name} {
			if unix.Stat(p, &st) == nil {
				return uint32(st.Ino)
			}
		}
		return 0
	}
	return ino("mnt"), ino("cgroup")
}

// maxCgroups bounds the cgroups the tracer remembers. Past it one is
// forgotten for each new one; an event from a forgotten cgroup is named
// again from /sys/fs/cgroup.
const maxCgroups = 1 << 16

// cgroups attributes events to containers: the kernel sends a cgroup's
// names on its first sight, before the first event from it in the same
// ring (bpf/lib/container.h), and the pump, which reads each ring in
// order, keeps what they say here. Only the pump uses it.
type cgroups struct {
	byID     map[uint64]*cgroupInfo
	hostMnt  uint32
	resolved int // cgroups named from /sys/fs/cgroup rather than by the kernel
	// The last cgroup attributed: events come in runs from one cgroup, and
	// this spares each a map lookup.
	lastID uint64
	last   *cgroupInfo
}

type cgroupInfo struct {
	container.Info
	ok bool
}

func newCgroups(hostMnt uint32) *cgroups {
	return &cgroups{byID: map[uint64]*cgroupInfo{}, hostMnt: hostMnt}
}

// add notes a cgroup record.
func (c *cgroups) add(raw []byte) error {
	rec, err := events.DecodeCgroup(raw)
	if err != nil {
		return err
	}
	c.put(rec.ID, rec.Path)
	return nil
}

func (c *cgroups) put(id uint64, path string) *cgroupInfo {
	if len(c.byID) >= maxCgroups {
		for k := range c.byID {
			delete(c.byID, k)
			break
		}
	}
	info, ok := container.Parse(path)
	ci := &cgroupInfo{Info: info, ok: ok}
	c.byID[id] = ci
	if id == c.lastID {
		c.last = ci
	}
	return ci
}

// attribute sets ev's container fields, and keeps its MntNS only where
// the event is from a container or from a mount namespace other than the
// initial one.
func (c *cgroups) attribute(ev *events.Event) {
	ci := c.last
	if ci == nil || ev.CgroupID != c.lastID {
		ci = c.byID[ev.CgroupID]
	}
	if ci == nil {
		// The kernel's record was lost (a full ring), or forgotten
		// here: the cgroup may still be there.
		c.resolved++
		ci = c.put(ev.CgroupID, cgroupPath(ev.CgroupID))
	}
	c.lastID, c.last = ev.CgroupID, ci
	if ci.ok {
		ev.ContainerID, ev.ContainerRuntime, ev.PodUID = ci.ID, ci.Runtime, ci.PodUID
		return
	}
	if ev.MntNS == c.hostMnt {
		ev.MntNS = 0
	}
}

// cgroupPath finds the cgroup whose id is id under filters.CgroupRoot (its
// directory's inode number is the id), or returns "" when it is gone.
func cgroupPath(id uint64) string {
	root := filters.CgroupRoot
	found := ""
	// The callback returns no error: unreadable directories are skipped.
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil && st.Ino == id {
			found = strings.TrimPrefix(p, root)
			if found == "" {
				found = "/"
			}
			return fs.SkipAll
		}
		return nil
	})
	return found
}

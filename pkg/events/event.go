package events

import (
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Event is one decoded filesystem event.
//
// The strings of an Event decoded by Decoder.Decode (Comm, Path, NewPath,
// Target, Source, FSType, XattrName) point into a buffer the Event owns and reuses: they
// stay valid only until the Event is decoded into again. Use Clone to keep an
// Event, or strings.Clone to keep one of its strings. For the same reason,
// copy an Event with Clone, not by value.
type Event struct {
	Time           time.Time // wall clock, from the kernel's boot-time stamp
	BootNS         uint64    // raw bpf_ktime_get_boot_ns value (for ordering)
	Seq            uint64    // set by the tracer, not by Decode
	CPU            uint16
	CPUSeq         uint64
	Kind           Kind
	PID, TID, PPID uint32
	UID, GID       uint32 // real ids
	EUID, EGID     uint32 // effective ids: a setuid program's are not its caller's
	// AUID is the login uid, auditd's auid: who logged in, kept across su
	// and sudo. HasAUID is false where it is unset (4294967295: a daemon
	// started at boot) or the kernel keeps none (no CONFIG_AUDIT).
	AUID    uint32
	HasAUID bool
	Comm    string
	// Process is the program the process runs. The Tracer sets it (nil
	// where it cannot tell); Decode does not. The events of a process
	// share one Process until it execs again; do not modify it.
	Process  *Process
	CgroupID uint64
	// Who, for a containerised process (pkg/container): ContainerID is
	// the full 64-hex id, ContainerRuntime docker, containerd, cri-o,
	// podman or cgroup, PodUID the Kubernetes pod's uid (dashed) where
	// the cgroup path is a Kubernetes one. They are empty for a host
	// process. The Tracer sets them; Decode does not.
	ContainerID      string
	ContainerRuntime string
	PodUID           string
	// MntNS is the inode of the process's mount namespace, as lsns shows
	// it. Decode always sets it; the Tracer keeps it only where the event
	// has a ContainerID or the namespace is not the initial one (the
	// mount namespace of pid 1), and sets 0 otherwise.
	MntNS uint32
	// Names (Path, NewPath, Target, Source, Comm) hold the kernel's bytes
	// as they are, valid UTF-8 or not.
	Path             string
	PathTruncated    bool
	NewPath          string // rename, link
	NewPathTruncated bool   // str 1 (NewPath, Target or Source) was truncated
	// PathUnknown: fstrace could not tell which file the name designates.
	// Either the name the process passed could not be read (a bad
	// pointer, or a page the kernel could not fault in for fstrace), and
	// Path is empty rather than a guess; or it is a /proc magic link
	// (/proc/PID/fd/N, /proc/PID/cwd...) whose process or fd is gone, and
	// Path is the name as passed. NewPathUnknown: the same for NewPath or
	// Target.
	PathUnknown    bool
	NewPathUnknown bool
	// HostPath is, for a process whose root or mount namespace is not
	// the host's (a container, a chroot, unshare -m), the path of the
	// same file from the host's root in the initial mount namespace;
	// HostNewPath the same for NewPath. Empty for host processes, and
	// where the file's filesystem is not mounted on the host (a tmpfs
	// only a container sees). The tracer sets them from FSPath and
	// FSNewPath; Decode leaves them empty.
	HostPath    string
	HostNewPath string
	// FSPath and FSNewPath are where the kernel found Path and NewPath
	// of such a process: the filesystem and the path from its root.
	FSPath, FSNewPath FSPath
	// HostFilter: the kernel's path filter matched neither Path nor
	// NewPath; the event is to be kept only if HostPath or HostNewPath
	// matches it (the tracer does this).
	HostFilter bool
	Target     string // symlink
	Source     string // mount
	FSType     string // mount
	// XattrName is the extended attribute an xattr event set or removed
	// ("user.foo", "system.posix_acl_access"), as the kernel's bytes.
	XattrName     string
	XattrOp       XattrOp // xattr
	XattrSize     uint64  // xattr set: the value's size in bytes (the value is never recorded)
	Ret           int32   // 0 or positive on success, -errno on failure
	Flags         uint64  // open: O_* flags; rename: RENAME_*; mount: MS_*; umount: MNT_*; xattr set: XATTR_*
	Mode          uint32  // valid when HasMode
	HasMode       bool
	Ino           uint64 // valid when HasIno
	Dev           uint64 // user-space st_dev encoding (as stat(2)/unix.Mkdev), valid when HasIno
	HasIno        bool
	Attrs         Attrs  // setattr only
	Offset, Bytes uint64 // read/write per call
	BytesRead     uint64 // close: bytes read through the open file
	BytesWritten  uint64 // close: bytes written through the open file
	// FD and FileID tie the events of one open file together (open,
	// read, write, close). FD is the file descriptor, where the hook
	// mode sees it (syscall mode; HasFD says). FileID names the open
	// file description itself, in every mode: no two files open at
	// once share one, and a dup'd fd shares its file's. Both are
	// reused, once the file is released. 0: unknown.
	FD     int32
	HasFD  bool
	FileID uint64
	// OpenedForWrite (close): the file was opened with write access, as
	// fanotify's CLOSE_WRITE (against CLOSE_NOWRITE) says; whether any
	// byte was written is BytesWritten's business.
	OpenedForWrite bool

	buf []byte // backing store for the strings above
}

// Process is what a process runs, as it was at its exec: what
// /proc/PID/exe and /proc/PID/cmdline give.
type Process struct {
	Exe     string   // the executable's absolute path; "" if unknown
	Cmdline []string // argv, argv[0] first; nil if unknown
	// CmdlineTruncated: the arguments were longer than 4096 bytes, and
	// Cmdline stops there.
	CmdlineTruncated bool
}

// FSPath is a file's place in its filesystem: Path from the root of the
// filesystem whose device is Dev (user-space st_dev encoding). The zero
// FSPath is none.
type FSPath struct {
	Dev  uint64
	Path string
}

// XattrOp is what an xattr event did to the attribute (enum fst_xattr_op).
type XattrOp uint8

// The xattr operations.
const (
	XattrSet    XattrOp = 1 // setxattr, lsetxattr, fsetxattr, setxattrat
	XattrRemove XattrOp = 2 // removexattr, lremovexattr, fremovexattr, removexattrat
)

// String returns "set" or "remove", the JSON "op" values.
func (o XattrOp) String() string {
	switch o {
	case XattrSet:
		return "set"
	case XattrRemove:
		return "remove"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// AttrMask says which attributes a setattr changed (enum fst_attr).
type AttrMask uint32

// The attribute bits.
const (
	AttrMode     AttrMask = 1 << 0
	AttrUID      AttrMask = 1 << 1
	AttrGID      AttrMask = 1 << 2
	AttrSize     AttrMask = 1 << 3
	AttrAtime    AttrMask = 1 << 4
	AttrMtime    AttrMask = 1 << 5
	AttrAtimeNow AttrMask = 1 << 6 // atime set to "now": Atime unused
	AttrMtimeNow AttrMask = 1 << 7 // mtime set to "now": Mtime unused
)

// Attrs are the attributes a setattr changed. A field is valid when its bit
// is set in Mask.
type Attrs struct {
	Mask               AttrMask
	Mode               uint32
	UID, GID           uint32
	Size               uint64
	Atime, Mtime       time.Time
	AtimeNow, MtimeNow bool
}

// Failed reports whether the operation returned an error.
func (e *Event) Failed() bool { return e.Ret < 0 }

// ErrorName returns the errno name of a failed operation ("ENOENT"), "E<num>"
// for an unknown errno, and "" when the operation succeeded.
func (e *Event) ErrorName() string {
	if e.Ret >= 0 {
		return ""
	}
	if name := unix.ErrnoName(syscall.Errno(-int64(e.Ret))); name != "" {
		return name
	}
	return "E" + strconv.FormatInt(-int64(e.Ret), 10)
}

// appendErrno appends ErrorName for ret < 0 without allocating.
func appendErrno(dst []byte, ret int32) []byte {
	if name := unix.ErrnoName(syscall.Errno(-int64(ret))); name != "" {
		return append(dst, name...)
	}
	return strconv.AppendInt(append(dst, 'E'), -int64(ret), 10)
}

// Clone returns a deep copy of e whose strings do not share memory with e.
func (e *Event) Clone() *Event {
	c := *e
	c.buf = nil
	for _, s := range []*string{&c.Comm, &c.Path, &c.NewPath, &c.Target, &c.Source, &c.FSType, &c.XattrName,
		&c.HostPath, &c.HostNewPath, &c.FSPath.Path, &c.FSNewPath.Path} {
		*s = strings.Clone(*s)
	}
	return &c
}

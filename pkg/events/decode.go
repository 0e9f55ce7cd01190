package events

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Decode errors. Errors returned by Decode wrap one of these.
var (
	ErrShortRecord   = errors.New("short record")
	ErrCorruptRecord = errors.New("corrupt record")
)

// Decoder turns raw ring-buffer records into Events. It is safe for
// concurrent use.
type Decoder struct {
	bootToWall int64 // CLOCK_REALTIME - CLOCK_BOOTTIME, ns
}

// NewDecoder returns a Decoder that converts the kernel's boot-time stamps to
// wall-clock time with the current CLOCK_REALTIME - CLOCK_BOOTTIME offset.
// The offset is fixed at this point: a later step of the wall clock is not
// reflected.
func NewDecoder() *Decoder { return &Decoder{bootToWall: measureBootToWall()} }

// NewDecoderWithOffset returns a Decoder that adds ns to the boot-time stamp
// to get Unix nanoseconds.
func NewDecoderWithOffset(ns int64) *Decoder { return &Decoder{bootToWall: ns} }

// Offset returns the boot-time to wall-clock offset in nanoseconds.
func (d *Decoder) Offset() int64 { return d.bootToWall }

// measureBootToWall samples REALTIME, BOOTTIME, REALTIME a few times and keeps
// the sample whose two REALTIME reads were closest together.
func measureBootToWall() int64 {
	var off int64
	best := int64(math.MaxInt64)
	for range 5 {
		var r1, b, r2 unix.Timespec
		if unix.ClockGettime(unix.CLOCK_REALTIME, &r1) != nil ||
			unix.ClockGettime(unix.CLOCK_BOOTTIME, &b) != nil ||
			unix.ClockGettime(unix.CLOCK_REALTIME, &r2) != nil {
			continue
		}
		if lat := r2.Nano() - r1.Nano(); lat >= 0 && lat < best {
			best = lat
			off = r1.Nano() + lat/2 - b.Nano()
		}
	}
	return off
}

// Decode decodes the record raw into ev, overwriting every field of ev but
// Seq, which it leaves alone. raw must hold exactly one record: the header
// and its strings, nothing more. Decode does not retain raw; the strings of
// ev stay valid until ev is decoded into again (see Event).
func (d *Decoder) Decode(raw []byte, ev *Event) error {
	if len(raw) < HeaderSize {
		return fmt.Errorf("%w: %d bytes, header is %d", ErrShortRecord, len(raw), HeaderSize)
	}
	ne := binary.NativeEndian
	kind := Kind(ne.Uint16(raw[offKind:]))
	if !kind.Valid() {
		return fmt.Errorf("%w: kind %d", ErrCorruptRecord, kind)
	}
	var lens [NumStr]int
	size := HeaderSize
	for i := range lens {
		n := int(ne.Uint16(raw[offStrLen+2*i:]))
		max := PathMax
		if i >= strHost {
			max += 4 // the device first
		}
		if n > max {
			return fmt.Errorf("%w: string %d is %d bytes, max %d", ErrCorruptRecord, i, n, max)
		}
		lens[i] = n
		size += n
	}
	if len(raw) < size {
		return fmt.Errorf("%w: %d bytes, header and strings need %d", ErrShortRecord, len(raw), size)
	}
	if len(raw) > size {
		return fmt.Errorf("%w: %d trailing bytes after %d", ErrCorruptRecord, len(raw)-size, size)
	}

	comm := raw[offComm : offComm+CommLen]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	buf := append(append(ev.buf[:0], comm...), raw[HeaderSize:]...)
	*ev = Event{Seq: ev.Seq, buf: buf}

	ev.Comm = view(buf, 0, len(comm))
	ev.Path = view(buf, len(comm), lens[0])
	ev.FSPath = fsPath(recordStr(ev, raw, strHost))

	ev.BootNS = ne.Uint64(raw[offTS:])
	ev.Time = time.Unix(0, int64(ev.BootNS)+d.bootToWall).UTC()
	ev.CPU = ne.Uint16(raw[offCPU:])
	ev.CPUSeq = ne.Uint64(raw[offCPUSeq:])
	ev.Kind = kind
	ev.PID = ne.Uint32(raw[offPID:])
	ev.TID = ne.Uint32(raw[offTID:])
	ev.PPID = ne.Uint32(raw[offPPID:])
	ev.UID = ne.Uint32(raw[offUID:])
	ev.GID = ne.Uint32(raw[offGID:])
	ev.EUID = ne.Uint32(raw[offEUID:])
	ev.EGID = ne.Uint32(raw[offEGID:])
	if auid := ne.Uint32(raw[offAUID:]); auid != noAUID {
		ev.AUID, ev.HasAUID = auid, true
	}
	ev.CgroupID = ne.Uint64(raw[offCgroupID:])
	ev.MntNS = ne.Uint32(raw[offMntNS:])
	ev.Ret = int32(ne.Uint32(raw[offRet:]))
	ev.Flags = ne.Uint64(raw[offFlags:])

	rflags := ne.Uint16(raw[offRflags:])
	ev.PathTruncated = rflags&rfPathTrunc != 0
	ev.NewPathTruncated = rflags&rfPath2Trunc != 0
	ev.PathUnknown = rflags&rfPathUnk != 0
	ev.NewPathUnknown = rflags&rfPath2Unk != 0
	ev.HostFilter = rflags&rfHostFilter != 0
	if rflags&rfHasMode != 0 {
		ev.Mode, ev.HasMode = ne.Uint32(raw[offMode:]), true
	}
	if rflags&rfHasIno != 0 {
		dev := ne.Uint32(raw[offDev:])
		ev.Ino = ne.Uint64(raw[offIno:])
		ev.Dev = unix.Mkdev(dev>>20, dev&(1<<20-1))
		ev.HasIno = true
	}

	for _, d := range kinds[kind].details {
		if d.decode != nil {
			if err := d.decode(ev, raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordStr returns string i of raw, which Decode has checked and copied
// after ev.Comm into ev's buffer: a view of that copy.
func recordStr(ev *Event, raw []byte, i int) string {
	ne := binary.NativeEndian
	off := len(ev.Comm)
	for j := range i {
		off += int(ne.Uint16(raw[offStrLen+2*j:]))
	}
	return view(ev.buf, off, int(ne.Uint16(raw[offStrLen+2*i:])))
}

// strHost is the first of the strings that place the path strings in
// their filesystems (str 3 and 4 of bpf/fstrace.h).
const strHost = 3

// fsPath decodes one of them: the kernel's dev_t, then the path.
func fsPath(s string) FSPath {
	if len(s) < 5 || s[4] != '/' {
		return FSPath{}
	}
	dev := binary.NativeEndian.Uint32([]byte(s[:4]))
	return FSPath{Dev: unix.Mkdev(dev>>20, dev&(1<<20-1)), Path: s[4:]}
}

// CgroupRecord is a record the kernel writes on the first sight of a
// cgroup, before the first event from it in the same ring: not an event.
type CgroupRecord struct {
	ID        uint64 // cgroup v2 id, as Event.CgroupID
	Path      string // "/system.slice/docker-<id>.scope"
	Truncated bool   // the path was too deep or too long: its top is missing
}

// IsCgroupRecord reports whether raw is a cgroup record rather than an
// event.
func IsCgroupRecord(raw []byte) bool {
	return len(raw) >= HeaderSize && binary.NativeEndian.Uint16(raw[offKind:]) == recCgroup
}

// DecodeCgroup decodes a cgroup record. The kernel writes the names leaf
// first, each followed by '/'; Path has them root first.
func DecodeCgroup(raw []byte) (CgroupRecord, error) {
	if !IsCgroupRecord(raw) {
		return CgroupRecord{}, fmt.Errorf("%w: not a cgroup record", ErrCorruptRecord)
	}
	ne := binary.NativeEndian
	n := int(ne.Uint16(raw[offStrLen:]))
	if len(raw) != HeaderSize+n {
		return CgroupRecord{}, fmt.Errorf("%w: cgroup record of %d bytes, header and names need %d", ErrCorruptRecord, len(raw), HeaderSize+n)
	}
	names := bytes.Split(bytes.TrimSuffix(raw[HeaderSize:], []byte{'/'}), []byte{'/'})
	var p []byte
	for i := len(names) - 1; i >= 0; i-- {
		if len(names[i]) > 0 {
			p = append(append(p, '/'), names[i]...)
		}
	}
	if len(p) == 0 {
		p = []byte{'/'}
	}
	return CgroupRecord{
		ID:        ne.Uint64(raw[offCgroupID:]),
		Path:      string(p),
		Truncated: ne.Uint16(raw[offRflags:])&rfPathTrunc != 0,
	}, nil
}

// A ProcNote is a record that is not an event: a process exec'd (Process
// is what it runs now) or exited (Process is nil), at BootNS.
type ProcNote struct {
	PID     uint32
	BootNS  uint64
	CPU     uint16
	Process *Process
}

// IsProcRecord reports whether raw is an exec or exit record rather than
// an event.
func IsProcRecord(raw []byte) bool {
	if len(raw) < HeaderSize {
		return false
	}
	k := binary.NativeEndian.Uint16(raw[offKind:])
	return k == recExec || k == recExit
}

// DecodeProc decodes an exec or exit record: the executable's path as str
// 0, the argv (NUL-separated) as str 1.
func DecodeProc(raw []byte) (ProcNote, error) {
	if !IsProcRecord(raw) {
		return ProcNote{}, fmt.Errorf("%w: not a process record", ErrCorruptRecord)
	}
	ne := binary.NativeEndian
	n := ProcNote{PID: ne.Uint32(raw[offPID:]), BootNS: ne.Uint64(raw[offTS:]), CPU: ne.Uint16(raw[offCPU:])}
	if ne.Uint16(raw[offKind:]) == recExit {
		return n, nil
	}
	elen, alen := int(ne.Uint16(raw[offStrLen:])), int(ne.Uint16(raw[offStrLen+2:]))
	if elen > PathMax || alen > PathMax || len(raw) != HeaderSize+elen+alen {
		return ProcNote{}, fmt.Errorf("%w: exec record of %d bytes, strings of %d and %d", ErrCorruptRecord, len(raw), elen, alen)
	}
	p := &Process{Exe: string(raw[HeaderSize : HeaderSize+elen])}
	p.Cmdline, p.CmdlineTruncated = SplitCmdline(raw[HeaderSize+elen:])
	if ne.Uint16(raw[offRflags:])&rfPath2Trunc != 0 {
		p.CmdlineTruncated = true
	}
	n.Process = p
	return n, nil
}

// SplitCmdline splits NUL-separated arguments, as /proc/PID/cmdline holds
// them; a last argument without its NUL was cut (truncated is then true).
func SplitCmdline(b []byte) (args []string, truncated bool) {
	if len(b) == 0 {
		return nil, false
	}
	truncated = b[len(b)-1] != 0
	for _, a := range bytes.Split(bytes.TrimSuffix(b, []byte{0}), []byte{0}) {
		args = append(args, string(a))
	}
	return args, truncated
}

// view returns the n bytes of b at off as a string sharing b's memory.
func view(b []byte, off, n int) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&b[off], n)
}

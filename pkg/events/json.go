package events

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// timeLayout is RFC 3339 with exactly nine fractional digits.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AppendJSON appends e to dst as one JSON object followed by '\n' and returns
// the extended buffer. It does not allocate when dst has room.
//
// The field names and their order are a public contract:
//
//	time       RFC 3339 UTC, nine fractional digits
//	seq event pid tid ppid uid gid euid egid
//	auid       the login uid, only where it is set
//	comm
//	exe        the executable's path, where known
//	cgroup_id
//	container_id container_runtime pod_uid   only for a containerised process, pod_uid
//	           only in Kubernetes (see Event)
//	mntns      with a container_id, or where the mount namespace is not the initial one
//	cmdline    the arguments, an array of strings: JSONEncoder gives it at
//	           a process's first event and again after it execs (see
//	           CmdlineMode); AppendJSON with every event that has it.
//	           cmdline_truncated: true after it where it was cut at 4096 bytes
//	path ret
//	host_path  after path, only for a process whose root or mount namespace
//	           is not the host's, and only where the file's filesystem is
//	           mounted on the host: the file's path from the host's root
//	error      errno name, only when ret < 0
//	flags      open: "O_WRONLY|O_CREAT|..."; rename, mount, umount, xattr: names, omitted when 0
//	mode       open, create, mkdir, mknod when known: "0644" (mode & 07777)
//	file_type  mknod: regular, fifo, socket, char or block
//	new_path   rename, link; host_new_path after it, as host_path
//	target     symlink
//	attrs      setattr: {"mode","uid","gid","size","atime","mtime"}, changed keys only;
//	           times as RFC 3339 strings or "now"
//	source fstype             mount
//	op name size flags        xattr: op "set" or "remove"; name the attribute's name;
//	           size (set only) the value's size, the value is never recorded;
//	           flags (set only, omitted when 0) "XATTR_CREATE" or "XATTR_REPLACE"
//	offset bytes              read, write
//	bytes_read bytes_written opened_for_write   close (opened_for_write: true or false)
//	fd                        open, read, write, close: where the mode sees it
//	file_id                   open, read, write, close: the open file, 16 hex digits
//	ino dev                   when known; dev as user-space st_dev
//	path_truncated, new_path_truncated   true, only when set
//
//	comm_hex, path_hex, new_path_hex, target_hex, source_hex, name_hex, host_path_hex, host_new_path_hex
//	           the exact bytes in hex, only when the name is not valid UTF-8
//
// Strings are escaped as encoding/json does with SetEscapeHTML(false); invalid
// UTF-8 bytes become U+FFFD, and the name's KEY_hex then gives its bytes.
func AppendJSON(dst []byte, e *Event) []byte { return appendJSON(dst, e, nil) }

// JSONEncoder writes events as AppendJSON does, but for cmdline, which it
// gives only where Cmdline says (by default at a process's first event),
// and faster for a stream of them: what repeats from one event to the next (who did it,
// the time to the second, an open's flags) is copied from the event
// before rather than formatted again. In the QEMU guests, where every
// instruction of the reader counts against the workload, formatting was
// most of fstrace's cost. The zero value is ready to use; it is not safe
// for concurrent use.
type JSONEncoder struct {
	// Cmdline says which events carry cmdline.
	Cmdline CmdlineMode
	shown   map[uint32]*Process // the Process whose cmdline was last given, by pid

	who     whoKey
	whoJSON []byte // ,"pid":…,"cgroup_id":N of who
	sec     int64  // the Unix second of secJSON
	secJSON []byte // 2006-01-02T15:04:05. (UTC)
	flags   [4]cachedFlags
	next    int // the flags entry to replace
}

// CmdlineMode chooses the events that carry the command line.
type CmdlineMode uint8

// The command line modes.
const (
	CmdlineFirst CmdlineMode = iota // a process's first event, and its first after an exec
	CmdlineEvery                    // every event
	CmdlineNever
)

// wantCmdline reports whether e's line gives its command line.
func (c *JSONEncoder) wantCmdline(e *Event) bool {
	return c.Cmdline.want(&c.shown, e)
}

func (m CmdlineMode) want(shown *map[uint32]*Process, e *Event) bool {
	if e.Process == nil || e.Process.Cmdline == nil {
		return false
	}
	switch m {
	case CmdlineEvery:
		return true
	case CmdlineNever:
		return false
	}
	if (*shown)[e.PID] == e.Process {
		return false
	}
	if *shown == nil || len(*shown) >= 1<<16 {
		// Bounded: a forgotten process's command line is given once more.
		*shown = make(map[uint32]*Process)
	}
	(*shown)[e.PID] = e.Process
	return true
}

// whoKey is what the who block of a line is made of.
type whoKey struct {
	pid, tid, ppid, uid, gid uint32
	euid, egid, auid         uint32
	hasAUID                  bool
	proc                     *Process
	cgroup                   uint64
	container, runtime, pod  string
	mntns                    uint32
	commLen                  int
	comm                     [CommLen]byte
	valid                    bool
}

type cachedFlags struct {
	v    uint64
	json []byte // O_RDONLY|O_CLOEXEC
	ok   bool
}

// Append appends e to dst as AppendJSON does.
func (c *JSONEncoder) Append(dst []byte, e *Event) []byte { return appendJSON(dst, e, c) }

func (c *JSONEncoder) appendWho(dst []byte, e *Event) []byte {
	w := &c.who
	if w.valid && w.pid == e.PID && w.tid == e.TID && w.ppid == e.PPID && w.uid == e.UID &&
		w.gid == e.GID && w.euid == e.EUID && w.egid == e.EGID && w.auid == e.AUID && w.hasAUID == e.HasAUID &&
		w.proc == e.Process && w.cgroup == e.CgroupID && string(w.comm[:w.commLen]) == e.Comm &&
		w.mntns == e.MntNS && w.container == e.ContainerID && w.runtime == e.ContainerRuntime && w.pod == e.PodUID {
		return append(dst, c.whoJSON...)
	}
	start := len(dst)
	dst = appendWho(dst, e)
	if len(e.Comm) <= CommLen {
		*w = whoKey{pid: e.PID, tid: e.TID, ppid: e.PPID, uid: e.UID, gid: e.GID, cgroup: e.CgroupID,
			euid: e.EUID, egid: e.EGID, auid: e.AUID, hasAUID: e.HasAUID, proc: e.Process,
			container: e.ContainerID, runtime: e.ContainerRuntime, pod: e.PodUID, mntns: e.MntNS, valid: true}
		w.commLen = copy(w.comm[:], e.Comm)
		c.whoJSON = append(c.whoJSON[:0], dst[start:]...)
	}
	return dst
}

func (c *JSONEncoder) appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec == c.sec && len(c.secJSON) > 0 {
		return appendNanos(append(dst, c.secJSON...), t.Nanosecond())
	}
	start := len(dst)
	dst = appendTime(dst, t)
	// Kept only where the format is the fixed-width one (years 0-9999).
	if len(dst)-start == len("2006-01-02T15:04:05.000000000Z") {
		c.sec = t.Unix()
		c.secJSON = append(c.secJSON[:0], dst[start:start+len("2006-01-02T15:04:05.")]...)
	}
	return dst
}

func (c *JSONEncoder) appendOpenFlags(dst []byte, v uint64) []byte {
	for i := range c.flags {
		if f := &c.flags[i]; f.ok && f.v == v {
			return append(dst, f.json...)
		}
	}
	start := len(dst)
	dst = appendOpenFlags(dst, v)
	f := &c.flags[c.next]
	c.next = (c.next + 1) % len(c.flags)
	f.v, f.ok, f.json = v, true, append(f.json[:0], dst[start:]...)
	return dst
}

// appendWho appends the fields from pid to mntns.
func appendWho(dst []byte, e *Event) []byte {
	dst = jsonUint(dst, "pid", uint64(e.PID))
	dst = jsonUint(dst, "tid", uint64(e.TID))
	dst = jsonUint(dst, "ppid", uint64(e.PPID))
	dst = jsonUint(dst, "uid", uint64(e.UID))
	dst = jsonUint(dst, "gid", uint64(e.GID))
	dst = jsonUint(dst, "euid", uint64(e.EUID))
	dst = jsonUint(dst, "egid", uint64(e.EGID))
	if e.HasAUID {
		dst = jsonUint(dst, "auid", uint64(e.AUID))
	}
	dst = jsonName(dst, "comm", e.Comm)
	if e.Process != nil && e.Process.Exe != "" {
		dst = jsonName(dst, "exe", e.Process.Exe)
	}
	dst = jsonUint(dst, "cgroup_id", e.CgroupID)
	if e.ContainerID != "" {
		dst = jsonString(dst, "container_id", e.ContainerID)
		dst = jsonString(dst, "container_runtime", e.ContainerRuntime)
		if e.PodUID != "" {
			dst = jsonString(dst, "pod_uid", e.PodUID)
		}
	}
	if e.MntNS != 0 {
		dst = jsonUint(dst, "mntns", uint64(e.MntNS))
	}
	return dst
}

// appendJSON is AppendJSON, with c's copies of what repeats where c is
// not nil.
func appendJSON(dst []byte, e *Event, c *JSONEncoder) []byte {
	dst = append(dst, `{"time":"`...)
	if c != nil {
		dst = c.appendTime(dst, e.Time)
	} else {
		dst = appendTime(dst, e.Time)
	}
	dst = jsonUint(append(dst, '"'), "seq", e.Seq)
	dst = append(appendKind(append(dst, `,"event":"`...), e.Kind), '"')
	if c != nil {
		dst = c.appendWho(dst, e)
		if c.wantCmdline(e) {
			dst = jsonCmdline(dst, e.Process)
		}
	} else {
		dst = appendWho(dst, e)
		if e.Process != nil && e.Process.Cmdline != nil {
			dst = jsonCmdline(dst, e.Process)
		}
	}
	dst = jsonName(dst, "path", e.Path)
	if e.HostPath != "" {
		dst = jsonName(dst, "host_path", e.HostPath)
	}
	dst = strconv.AppendInt(append(dst, `,"ret":`...), int64(e.Ret), 10)
	if e.Ret < 0 {
		dst = append(appendErrno(append(dst, `,"error":"`...), e.Ret), '"')
	}

	for _, d := range e.Kind.spec().details {
		dst = d.json(dst, e, c)
	}

	if e.HasIno {
		dst = jsonUint(dst, "ino", e.Ino)
		dst = jsonUint(dst, "dev", e.Dev)
	}
	if e.PathTruncated {
		dst = append(dst, `,"path_truncated":true`...)
	}
	if e.NewPathTruncated {
		dst = append(dst, `,"new_path_truncated":true`...)
	}
	if e.PathUnknown {
		dst = append(dst, `,"path_unknown":true`...)
	}
	if e.NewPathUnknown {
		dst = append(dst, `,"new_path_unknown":true`...)
	}
	return append(dst, "}\n"...)
}

func jsonUint(dst []byte, key string, v uint64) []byte {
	dst = append(append(append(dst, `,"`...), key...), `":`...)
	return strconv.AppendUint(dst, v, 10)
}

// jsonName writes a name the kernel reported: a path, a symlink target, a
// mount source, a comm. Names are bytes, not text: where they are not valid
// UTF-8, the string (with U+FFFD for each invalid byte) is followed by
// KEY_hex, the exact bytes in lowercase hex, so that two files whose names
// differ only in such bytes never look the same.
func jsonName(dst []byte, key, s string) []byte {
	dst = append(append(append(dst, `,"`...), key...), `":`...)
	dst, valid := appendJSONText(dst, s)
	if valid {
		return dst
	}
	dst = append(append(append(dst, `,"`...), key...), `_hex":"`...)
	for i := 0; i < len(s); i++ {
		dst = append(dst, hexDigits[s[i]>>4], hexDigits[s[i]&0xf])
	}
	return append(dst, '"')
}

// appendFileID writes a FileID as 16 hex digits: a string in JSON, as a
// 64-bit number would lose digits in jq and JavaScript.
func appendFileID(dst []byte, id uint64) []byte {
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hexDigits[id>>uint(i)&0xf])
	}
	return dst
}

func jsonCmdline(dst []byte, p *Process) []byte {
	dst = append(dst, `,"cmdline":[`...)
	for i, a := range p.Cmdline {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, a)
	}
	dst = append(dst, ']')
	if p.CmdlineTruncated {
		dst = append(dst, `,"cmdline_truncated":true`...)
	}
	return dst
}

func jsonString(dst []byte, key, s string) []byte {
	dst = append(append(append(dst, `,"`...), key...), `":`...)
	return appendJSONString(dst, s)
}

func appendJSONAttrs(dst []byte, a *Attrs) []byte {
	sep := "{"
	key := func(k string) {
		dst = append(append(append(append(dst, sep...), '"'), k...), `":`...)
		sep = ","
	}
	if a.Mask&AttrMode != 0 {
		key("mode")
		dst = append(appendMode(append(dst, '"'), a.Mode), '"')
	}
	if a.Mask&AttrUID != 0 {
		key("uid")
		dst = strconv.AppendUint(dst, uint64(a.UID), 10)
	}
	if a.Mask&AttrGID != 0 {
		key("gid")
		dst = strconv.AppendUint(dst, uint64(a.GID), 10)
	}
	if a.Mask&AttrSize != 0 {
		key("size")
		dst = strconv.AppendUint(dst, a.Size, 10)
	}
	if a.Mask&(AttrAtime|AttrAtimeNow) != 0 {
		key("atime")
		dst = jsonTime(dst, a.Atime, a.AtimeNow)
	}
	if a.Mask&(AttrMtime|AttrMtimeNow) != 0 {
		key("mtime")
		dst = jsonTime(dst, a.Mtime, a.MtimeNow)
	}
	if sep == "{" {
		dst = append(dst, '{')
	}
	return append(dst, '}')
}

func jsonTime(dst []byte, t time.Time, now bool) []byte {
	if now {
		return append(dst, `"now"`...)
	}
	return append(appendTime(append(dst, '"'), t), '"')
}

// appendTime appends t in UTC as RFC 3339 with nine fractional digits; it is
// t.UTC().AppendFormat(dst, timeLayout), faster.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, timeLayout)
	}
	h, mi, s := t.Clock()
	dst = append2(append(dst, byte('0'+y/1000), byte('0'+y/100%10)), y%100, '-')
	dst = append2(append2(append2(append2(append2(dst, int(mo), '-'), d, 'T'), h, ':'), mi, ':'), s, '.')
	return appendNanos(dst, t.Nanosecond())
}

// appendNanos appends the nine fractional digits of n and the 'Z'.
func appendNanos(dst []byte, n int) []byte {
	var ns [9]byte
	for i := len(ns) - 1; i >= 0; i, n = i-1, n/10 {
		ns[i] = byte('0' + n%10)
	}
	return append(append(dst, ns[:]...), 'Z')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped exactly as
// encoding/json does with SetEscapeHTML(false): '"', '\\' and control
// characters are escaped, each invalid UTF-8 byte becomes \ufffd, and U+2028
// and U+2029 are escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst, _ = appendJSONText(dst, s)
	return dst
}

// appendJSONText writes s as a JSON string, and reports whether s was valid
// UTF-8 (every invalid byte became U+FFFD).
func appendJSONText(dst []byte, s string) ([]byte, bool) {
	valid := true
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
			valid = false
		case r == '\u2028' || r == '\u2029':
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(dst, s[start:]...), '"'), valid
}

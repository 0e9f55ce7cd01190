package events

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
)

// What the package knows of each event kind is in one table, kinds: its
// name, its colour, the names of its flags, its details (the fields only
// that kind carries) and the words the README's table of fields gives it.
// Decode, AppendJSON, JSONEncoder and TextFormat walk a kind's details in
// order; TestREADMEKinds holds the README to the table. A new detail is a
// detail value below, its place in the kinds that carry it, and the Event
// field it fills.

// kindSpec describes one kind.
type kindSpec struct {
	name  string
	color string    // ANSI colour of the EVENT column (see TextFormat.Color)
	flags flagTable // the names of Event.Flags' bits, where the kind reports them by name
	// details in JSON order; text is the text line's order where it
	// differs, and lead is written before the path there.
	details []*detail
	text    []*detail
	lead    *detail
	doc     string // the README's cell: the kind's details in words
}

// A detail is one part of an event that only some kinds carry: where
// Decode finds it in a record, and how each format writes it.
type detail struct {
	key    string                            // the JSON key
	decode func(ev *Event, raw []byte) error // nil: the header's common fields hold it
	json   func(dst []byte, e *Event, c *JSONEncoder) []byte
	text   func(dst []byte, e *Event, loc *time.Location) []byte // nil: not on the text line
}

// Colours by family: green for what creates a name, red for what removes
// one, yellow for rename, cyan for attributes, magenta for mounts, blue
// for reading and writing.
const (
	colorCreate = "\x1b[32m"
	colorRemove = "\x1b[31m"
	colorRename = "\x1b[33m"
	colorAttr   = "\x1b[36m"
	colorMount  = "\x1b[35m"
	colorIO     = "\x1b[34m"
)

// kinds is filled by init: its details' functions look it up.
var kinds [kindMax]kindSpec

func init() {
	kinds = [kindMax]kindSpec{
		KindOpen: {name: "open", details: []*detail{&dOpenFlags, &dMode, &dFD, &dFileID},
			doc: "`flags` (\"O_WRONLY\\|O_CREAT\\|O_TRUNC\"), `mode` with O_CREAT/O_TMPFILE; on success `file_id`, and `fd` in syscall mode"},
		KindCreate: {name: "create", color: colorCreate, details: []*detail{&dMode},
			doc: "`mode` — a regular file created by open(O_CREAT), creat or mknod"},
		KindMkdir: {name: "mkdir", color: colorCreate, details: []*detail{&dMode},
			doc: "`mode`"},
		KindMknod: {name: "mknod", color: colorCreate, details: []*detail{&dMode, &dFileType},
			doc: "`mode`, `file_type` (fifo, socket, char, block)"},
		KindSymlink: {name: "symlink", color: colorCreate, details: []*detail{&dTarget},
			doc: "`target` as given; `path` is the new link"},
		KindLink: {name: "link", color: colorCreate, details: []*detail{&dNewPath},
			doc: "`path` the existing name, `new_path` the new one; `host_new_path` after it, as `host_path`"},
		KindUnlink: {name: "unlink", color: colorRemove, doc: "—"},
		KindRmdir:  {name: "rmdir", color: colorRemove, doc: "—"},
		KindRename: {name: "rename", color: colorRename, flags: renameFlags,
			details: []*detail{&dFlags, &dNewPath}, text: []*detail{&dNewPath, &dFlags},
			doc: "`new_path`, and `host_new_path` after it as `host_path`; `flags` (RENAME_NOREPLACE\\|RENAME_EXCHANGE\\|RENAME_WHITEOUT) when set"},
		KindSetattr: {name: "setattr", color: colorAttr, details: []*detail{&dAttrs},
			doc: "`attrs`: only what changed, of `mode` (\"0600\"), `uid`, `gid`, `size`, `atime`, `mtime` (RFC 3339, or \"now\")"},
		KindMount: {name: "mount", color: colorMount, flags: mountFlags,
			details: []*detail{&dFlags, &dSource, &dFSType}, text: []*detail{&dFSType, &dFlags}, lead: &dSource,
			doc: "`path` the mount point, `source`, `fstype`, `flags` (MS_*)"},
		KindUmount: {name: "umount", color: colorMount, flags: umountFlags, details: []*detail{&dFlags},
			doc: "`path` the mount point, `flags` (MNT_*) when set"},
		KindRead: {name: "read", color: colorIO, details: []*detail{&dOffset, &dBytes, &dFD, &dFileID},
			doc: "`bytes` moved by the call, `offset` where it started; `fd` (syscall mode) and `file_id`, as for open and close (see Reads, writes and closes)"},
		KindWrite: {name: "write", color: colorIO, details: []*detail{&dOffset, &dBytes, &dFD, &dFileID},
			doc: "`bytes` moved by the call, `offset` where it started; `fd` (syscall mode) and `file_id`, as for open and close (see Reads, writes and closes)"},
		KindClose: {name: "close", color: colorIO, details: []*detail{&dBytesRead, &dBytesWritten, &dOpenedForWrite, &dFD, &dFileID},
			doc: "`bytes_read` and `bytes_written` (byte counts) through that open file; `opened_for_write`, true or false: the file was opened with write access (fanotify's CLOSE_WRITE against CLOSE_NOWRITE), whether or not a byte was written; `file_id`, and `fd` in syscall mode"},
		KindXattr: {name: "xattr", color: colorAttr, flags: xattrFlags,
			details: []*detail{&dXattrOp, &dXattrName, &dXattrSize, &dXattrFlags},
			doc:     "`op`: \"set\" or \"remove\"; `name` the attribute's name (\"user.foo\", \"system.posix_acl_access\", \"security.capability\"), with `name_hex` after it when it is not valid UTF-8; for a set, `size` (the value's size in bytes: the value is never recorded) and `flags` (\"XATTR_CREATE\" or \"XATTR_REPLACE\") when set. setxattr, lsetxattr, fsetxattr, setxattrat and the removexattr family, succeeded or failed (ENODATA for a missing name, EEXIST under XATTR_CREATE): ACLs (`setfacl`, `cp -a`), file capabilities and security labels, what inotify calls ATTRIB"},
	}
}

// The details.
var (
	dOpenFlags = detail{key: "flags",
		json: func(dst []byte, e *Event, c *JSONEncoder) []byte {
			dst = append(dst, `,"flags":"`...)
			if c != nil {
				dst = c.appendOpenFlags(dst, e.Flags)
			} else {
				dst = appendOpenFlags(dst, e.Flags)
			}
			return append(dst, '"')
		},
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			return appendOpenFlags(append(dst, " flags="...), e.Flags)
		}}
	// dFlags: Event.Flags by the kind's names, when any is set.
	dFlags = detail{key: "flags",
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			if e.Flags == 0 {
				return dst
			}
			return append(appendFlags(append(dst, `,"flags":"`...), e.Flags, kindFlags(e.Kind), ""), '"')
		},
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			if e.Flags == 0 {
				return dst
			}
			return appendFlags(append(dst, " flags="...), e.Flags, kindFlags(e.Kind), "")
		}}
	dMode = detail{key: "mode",
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			if !e.HasMode {
				return dst
			}
			return append(appendMode(append(dst, `,"mode":"`...), e.Mode), '"')
		},
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			if !e.HasMode {
				return dst
			}
			return appendMode(append(dst, " mode="...), e.Mode)
		}}
	dFileType = detail{key: "file_type",
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			if t := fileType(e.Mode); e.HasMode && t != "" {
				dst = append(append(append(dst, `,"file_type":"`...), t...), '"')
			}
			return dst
		},
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			if t := fileType(e.Mode); e.HasMode && t != "" {
				dst = append(append(dst, " type="...), t...)
			}
			return dst
		}}
	dTarget = detail{key: "target",
		decode: func(ev *Event, raw []byte) error { ev.Target = recordStr(ev, raw, 1); return nil },
		json:   func(dst []byte, e *Event, _ *JSONEncoder) []byte { return jsonName(dst, "target", e.Target) },
		// The target is what the link holds, not a name of the
		// file: a key, not an arrow.
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			return appendTextPath(append(dst, " target="...), e.Target, e.NewPathTruncated, e.NewPathUnknown)
		}}
	// dNewPath: a rename's or link's second name, with where the host
	// sees it.
	dNewPath = detail{key: "new_path",
		decode: func(ev *Event, raw []byte) error {
			ev.NewPath = recordStr(ev, raw, 1)
			ev.FSNewPath = fsPath(recordStr(ev, raw, strHost+1))
			return nil
		},
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			dst = jsonName(dst, "new_path", e.NewPath)
			if e.HostNewPath != "" {
				dst = jsonName(dst, "host_new_path", e.HostNewPath)
			}
			return dst
		},
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			dst = appendTextPath(append(dst, " -> "...), e.NewPath, e.NewPathTruncated, e.NewPathUnknown)
			if e.HostNewPath != "" {
				dst = appendQuoted(append(dst, " host="...), e.HostNewPath)
			}
			return dst
		}}
	dAttrs = detail{key: "attrs",
		decode: decodeAttrs,
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			return appendJSONAttrs(append(dst, `,"attrs":`...), &e.Attrs)
		},
		text: func(dst []byte, e *Event, loc *time.Location) []byte { return appendTextAttrs(dst, &e.Attrs, loc) }}
	dSource = detail{key: "source",
		decode: func(ev *Event, raw []byte) error { ev.Source = recordStr(ev, raw, 1); return nil },
		json:   func(dst []byte, e *Event, _ *JSONEncoder) []byte { return jsonName(dst, "source", e.Source) },
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			return append(appendQuoted(dst, e.Source), " on "...)
		}}
	dFSType = detail{key: "fstype",
		decode: func(ev *Event, raw []byte) error { ev.FSType = recordStr(ev, raw, 2); return nil },
		json:   func(dst []byte, e *Event, _ *JSONEncoder) []byte { return jsonString(dst, "fstype", e.FSType) },
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			return appendQuoted(append(dst, " type "...), e.FSType)
		}}
	dXattrOp = detail{key: "op",
		decode: func(ev *Event, raw []byte) error {
			ne := binary.NativeEndian
			switch op := XattrOp(ne.Uint32(raw[offAttrMask:])); op {
			case XattrSet:
				ev.XattrSize = ne.Uint64(raw[offSize:])
				ev.XattrOp = op
			case XattrRemove:
				ev.XattrOp = op
			default:
				return fmt.Errorf("%w: xattr operation %d", ErrCorruptRecord, uint32(op))
			}
			return nil
		},
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			return append(append(append(dst, `,"op":"`...), e.XattrOp.String()...), '"')
		},
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			return append(append(dst, ' '), e.XattrOp.String()...)
		}}
	dXattrName = detail{key: "name",
		decode: func(ev *Event, raw []byte) error { ev.XattrName = recordStr(ev, raw, 2); return nil },
		json:   func(dst []byte, e *Event, _ *JSONEncoder) []byte { return jsonName(dst, "name", e.XattrName) },
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			return appendQuoted(append(dst, ' '), e.XattrName)
		}}
	dXattrSize = detail{key: "size",
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			if e.XattrOp != XattrSet {
				return dst
			}
			return jsonUint(dst, "size", e.XattrSize)
		},
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			if e.XattrOp != XattrSet {
				return dst
			}
			return strconv.AppendUint(append(dst, " size="...), e.XattrSize, 10)
		}}
	// dXattrFlags: a set's XATTR_CREATE or XATTR_REPLACE.
	dXattrFlags = detail{key: "flags",
		json: func(dst []byte, e *Event, c *JSONEncoder) []byte {
			if e.XattrOp != XattrSet {
				return dst
			}
			return dFlags.json(dst, e, c)
		},
		text: func(dst []byte, e *Event, loc *time.Location) []byte {
			if e.XattrOp != XattrSet {
				return dst
			}
			return dFlags.text(dst, e, loc)
		}}
	dOffset = uintDetail("offset", func(e *Event) *uint64 { return &e.Offset }, offOffset)
	dBytes  = uintDetail("bytes", func(e *Event) *uint64 { return &e.Bytes }, offBytes)
	// A close's totals: the bytes read and written through the file.
	dBytesRead      = uintDetail("bytes_read", func(e *Event) *uint64 { return &e.BytesRead }, offBytes)
	dBytesWritten   = uintDetail("bytes_written", func(e *Event) *uint64 { return &e.BytesWritten }, offBytes2)
	dOpenedForWrite = detail{key: "opened_for_write",
		decode: func(ev *Event, raw []byte) error {
			ev.OpenedForWrite = binary.NativeEndian.Uint16(raw[offRflags:])&rfWritten != 0
			return nil
		},
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			return strconv.AppendBool(append(dst, `,"opened_for_write":`...), e.OpenedForWrite)
		},
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			if e.OpenedForWrite {
				dst = append(dst, " opened_for_write"...)
			}
			return dst
		}}
	// dFD and dFileID tie an open file's events together; the text line
	// gives them with the rest of who did it (TextFormat.Extended).
	dFD = detail{key: "fd",
		decode: func(ev *Event, raw []byte) error {
			if fd := int32(binary.NativeEndian.Uint32(raw[offFD:])); fd >= 0 {
				ev.FD, ev.HasFD = fd, true
			}
			return nil
		},
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			if !e.HasFD {
				return dst
			}
			return strconv.AppendInt(append(dst, `,"fd":`...), int64(e.FD), 10)
		}}
	dFileID = detail{key: "file_id",
		decode: func(ev *Event, raw []byte) error {
			ev.FileID = binary.NativeEndian.Uint64(raw[offFileID:])
			return nil
		},
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte {
			if e.FileID == 0 {
				return dst
			}
			return append(appendFileID(append(dst, `,"file_id":"`...), e.FileID), '"')
		}}
)

// uintDetail is a count the record holds at off, written key=N.
func uintDetail(key string, field func(*Event) *uint64, off int) detail {
	return detail{key: key,
		decode: func(ev *Event, raw []byte) error {
			*field(ev) = binary.NativeEndian.Uint64(raw[off:])
			return nil
		},
		json: func(dst []byte, e *Event, _ *JSONEncoder) []byte { return jsonUint(dst, key, *field(e)) },
		text: func(dst []byte, e *Event, _ *time.Location) []byte {
			return strconv.AppendUint(append(append(append(dst, ' '), key...), '='), *field(e), 10)
		}}
}

// decodeAttrs reads a setattr's changed attributes.
func decodeAttrs(ev *Event, raw []byte) error {
	ne := binary.NativeEndian
	a := &ev.Attrs
	a.Mask = AttrMask(ne.Uint32(raw[offAttrMask:]))
	if a.Mask&AttrMode != 0 {
		a.Mode = ne.Uint32(raw[offMode:])
	}
	if a.Mask&AttrUID != 0 {
		a.UID = ne.Uint32(raw[offAttrUID:])
	}
	if a.Mask&AttrGID != 0 {
		a.GID = ne.Uint32(raw[offAttrGID:])
	}
	if a.Mask&AttrSize != 0 {
		a.Size = ne.Uint64(raw[offSize:])
	}
	a.AtimeNow = a.Mask&AttrAtimeNow != 0
	a.MtimeNow = a.Mask&AttrMtimeNow != 0
	if a.Mask&AttrAtime != 0 && !a.AtimeNow {
		a.Atime = time.Unix(int64(ne.Uint64(raw[offAtimeSec:])), int64(ne.Uint32(raw[offAtimeNsec:]))).UTC()
	}
	if a.Mask&AttrMtime != 0 && !a.MtimeNow {
		a.Mtime = time.Unix(int64(ne.Uint64(raw[offMtimeSec:])), int64(ne.Uint32(raw[offMtimeNsec:]))).UTC()
	}
	return nil
}

// spec returns k's entry; an unknown kind has none of the details.
func (k Kind) spec() *kindSpec {
	if k.Valid() {
		return &kinds[k]
	}
	return &kinds[0]
}

// textDetails returns the details of k's text line, in its order.
func (s *kindSpec) textDetails() []*detail {
	if s.text != nil {
		return s.text
	}
	return s.details
}

// kindFlags returns the names of k's flags, nil where it has none.
func kindFlags(k Kind) flagTable { return k.spec().flags }

package events

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Column widths of the text format.
const (
	wEvent = 7
	wPID   = 7
	wComm  = 16
	wRet   = 7
)

// TextHeader returns the column header line for AppendText, without '\n'.
func TextHeader() string {
	return "TIME         EVENT       PID COMM             RET     PATH"
}

// AppendText appends e to dst as one human-readable line, aligned under
// TextHeader and ending in '\n', with the time in time.Local.
func AppendText(dst []byte, e *Event) []byte { return AppendTextIn(dst, e, time.Local) }

// AppendTextIn is AppendText with the times shown in loc, which must not be
// nil.
//
// The line has the columns TIME (HH:MM:SS.mmm), EVENT, PID, COMM and RET (the
// return value, or the errno name of a failure), then the path and the
// details of the kind: "path -> new_path" for rename and link, "path ->
// target" for symlink, "source on path type fstype" for mount, and
// key=value pairs such as flags=O_RDONLY or mode=0644. Bytes that are not
// printable or not UTF-8 are escaped as \n, \t, \r, \\ or \xNN, so an event is
// always one line. It does not allocate when dst has room.
func AppendTextIn(dst []byte, e *Event, loc *time.Location) []byte {
	t := e.Time.In(loc)
	h, m, s := t.Clock()
	dst = append2(append2(append2(dst, h, ':'), m, ':'), s, '.')
	ms := t.Nanosecond() / 1e6
	dst = append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), ' ')

	start := len(dst)
	dst = pad(appendKind(dst, e.Kind), start, wEvent)
	var num [20]byte
	pid := strconv.AppendUint(num[:0], uint64(e.PID), 10)
	for i := len(pid); i < wPID; i++ {
		dst = append(dst, ' ')
	}
	dst = append(append(dst, pid...), ' ')
	start = len(dst)
	dst = pad(appendTextEscaped(dst, e.Comm), start, wComm)
	start = len(dst)
	if e.Ret < 0 {
		dst = appendErrno(dst, e.Ret)
	} else {
		dst = strconv.AppendInt(dst, int64(e.Ret), 10)
	}
	dst = pad(dst, start, wRet)

	if e.Kind == KindMount {
		dst = append(appendTextEscaped(dst, e.Source), " on "...)
	}
	dst = appendTextPath(dst, e.Path, e.PathTruncated)
	switch e.Kind {
	case KindOpen:
		dst = appendOpenFlags(append(dst, " flags="...), e.Flags)
		dst = textMode(dst, e)
	case KindCreate, KindMkdir:
		dst = textMode(dst, e)
	case KindMknod:
		dst = textMode(dst, e)
		if t := fileType(e.Mode); e.HasMode && t != "" {
			dst = append(append(dst, " type="...), t...)
		}
	case KindSymlink:
		dst = appendTextPath(append(dst, " -> "...), e.Target, e.NewPathTruncated)
	case KindLink, KindRename:
		dst = appendTextPath(append(dst, " -> "...), e.NewPath, e.NewPathTruncated)
		dst = textFlags(dst, e)
	case KindSetattr:
		dst = appendTextAttrs(dst, &e.Attrs, loc)
	case KindMount:
		dst = appendTextEscaped(append(dst, " type "...), e.FSType)
		dst = textFlags(dst, e)
	case KindUmount:
		dst = textFlags(dst, e)
	case KindRead, KindWrite:
		dst = strconv.AppendUint(append(dst, " offset="...), e.Offset, 10)
		dst = strconv.AppendUint(append(dst, " bytes="...), e.Bytes, 10)
	case KindClose:
		dst = strconv.AppendUint(append(dst, " bytes_read="...), e.BytesRead, 10)
		dst = strconv.AppendUint(append(dst, " bytes_written="...), e.BytesWritten, 10)
		if e.OpenedForWrite {
			dst = append(dst, " opened_for_write"...)
		}
	}
	return append(dst, '\n')
}

// append2 appends v as two digits and then sep.
func append2(dst []byte, v int, sep byte) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10), sep)
}

// pad pads the column that starts at dst[start] to width runes and appends
// the column separator.
func pad(dst []byte, start, width int) []byte {
	for n := utf8.RuneCount(dst[start:]); n < width; n++ {
		dst = append(dst, ' ')
	}
	return append(dst, ' ')
}

func appendTextPath(dst []byte, p string, truncated bool) []byte {
	dst = appendTextEscaped(dst, p)
	if truncated {
		dst = append(dst, " (truncated)"...)
	}
	return dst
}

func textMode(dst []byte, e *Event) []byte {
	if !e.HasMode {
		return dst
	}
	return appendMode(append(dst, " mode="...), e.Mode)
}

func textFlags(dst []byte, e *Event) []byte {
	if e.Flags == 0 {
		return dst
	}
	return appendFlags(append(dst, " flags="...), e.Flags, kindFlags(e.Kind), "")
}

func appendTextAttrs(dst []byte, a *Attrs, loc *time.Location) []byte {
	if a.Mask&AttrMode != 0 {
		dst = appendMode(append(dst, " mode="...), a.Mode)
	}
	if a.Mask&AttrUID != 0 {
		dst = strconv.AppendUint(append(dst, " uid="...), uint64(a.UID), 10)
	}
	if a.Mask&AttrGID != 0 {
		dst = strconv.AppendUint(append(dst, " gid="...), uint64(a.GID), 10)
	}
	if a.Mask&AttrSize != 0 {
		dst = strconv.AppendUint(append(dst, " size="...), a.Size, 10)
	}
	if a.Mask&(AttrAtime|AttrAtimeNow) != 0 {
		dst = textTime(append(dst, " atime="...), a.Atime, a.AtimeNow, loc)
	}
	if a.Mask&(AttrMtime|AttrMtimeNow) != 0 {
		dst = textTime(append(dst, " mtime="...), a.Mtime, a.MtimeNow, loc)
	}
	return dst
}

func textTime(dst []byte, t time.Time, now bool, loc *time.Location) []byte {
	if now {
		return append(dst, "now"...)
	}
	return t.In(loc).AppendFormat(dst, timeLayout)
}

// appendTextEscaped appends s with backslash, control characters, invalid
// UTF-8 and non-printable runes escaped, in the manner of ls -b.
func appendTextEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b >= ' ' && b < 0x7f && b != '\\' {
			i++
			continue
		}
		size := 1
		if b >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if size > 1 && unicode.IsPrint(r) {
				i += size
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			for _, c := range []byte(s[i : i+size]) {
				dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			}
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

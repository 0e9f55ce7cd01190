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
	// wRet fits the longest errno name (ENOTRECOVERABLE, EPROTONOSUPPORT,
	// ESOCKTNOSUPPORT: 15 bytes) and any byte count of a read or write.
	wRet = 15
)

// TimeStyle chooses the TIME column of the text format.
type TimeStyle uint8

// The time styles. Each has microseconds.
const (
	TimeLocal    TimeStyle = iota // time of day in TextFormat.Location: 15:04:05.000000
	TimeUTC                       // UTC date and time: 2006-01-02T15:04:05.000000Z
	TimeRelative                  // seconds since TextFormat.Start: 12.345678
	TimeNone                      // no TIME column
)

// timeWidth is the width of the TIME column in each style; a relative time
// past 99999 s is wider, and shifts its line.
var timeWidth = [...]int{TimeLocal: 15, TimeUTC: 27, TimeRelative: 12}

// TextFormat is a choice of text output. The zero TextFormat is local time of
// day, no colour.
type TextFormat struct {
	Time     TimeStyle
	Location *time.Location // TimeLocal, and setattr's times; nil means time.Local
	Start    time.Time      // TimeRelative's zero
	// Color adds ANSI colours: the event kind by family, and the errno
	// name of a failure in red.
	Color bool
	// Extended adds who did it in full, after the rest: uid, gid,
	// euid, egid, auid where set, an open file's fd and file_id, exe
	// where known, and last the command line, on the events Cmdline says.
	Extended bool
	Cmdline  CmdlineMode
	shown    map[uint32]*Process
}

// TextHeader returns the column header line for AppendText, without '\n'.
func TextHeader() string { return (&TextFormat{}).Header() }

// Header returns the column header line for f.Append, without '\n'.
func (f *TextFormat) Header() string {
	var b []byte
	if f.Time != TimeNone {
		b = pad(append(b, "TIME"...), 0, timeWidth[f.Time])
	}
	b = pad(append(b, "EVENT"...), len(b), wEvent)
	b = append(b, "    PID "...)
	b = pad(append(b, "COMM"...), len(b), wComm)
	b = pad(append(b, "RET"...), len(b), wRet)
	return string(append(b, "PATH"...))
}

// AppendText appends e to dst as one human-readable line, aligned under
// TextHeader and ending in '\n', with the time of day in time.Local.
func AppendText(dst []byte, e *Event) []byte {
	f := TextFormat{}
	return f.Append(dst, e)
}

// AppendTextIn is AppendText with the times shown in loc, which must not be
// nil.
func AppendTextIn(dst []byte, e *Event, loc *time.Location) []byte {
	f := TextFormat{Location: loc}
	return f.Append(dst, e)
}

// Append appends e to dst as one line, aligned under f.Header and ending in
// '\n'. It does not allocate when dst has room.
//
// The line has the columns TIME (see TimeStyle), EVENT, PID, COMM and RET
// (the return value, or the errno name of a failure), then the path and the
// details of the kind: "path -> new_path" for rename and link (the arrow
// always points from the old name to the new one), "path target=T" for
// symlink, "source on path type fstype" for mount, "path set NAME size=N"
// and "path remove NAME" for xattr, and key=value pairs such
// as flags=O_RDONLY or mode=0644; last, for a containerised process,
// container=ID (the 12-digit short id docker ps shows), then pod=UID in
// Kubernetes, and mntns=N where Event.MntNS is set.
//
// Names (paths, symlink targets, mount sources and types, attribute names,
// comm) are quoted as `ls --quoting-style=shell-escape` does when they hold
// anything but plain characters — a space, '=', a quote, a backslash, a
// shell special character ('>' of an arrow among them), a control
// character, a byte that is not UTF-8 or a rune that is not printable — so a
// name never looks like two, or like a key=value, and an event is always
// one line.
func (f *TextFormat) Append(dst []byte, e *Event) []byte {
	loc := f.Location
	if loc == nil {
		loc = time.Local
	}
	if f.Time == TimeUTC {
		loc = time.UTC
	}
	if f.Time != TimeNone {
		start := len(dst)
		dst = f.appendTime(dst, e.Time, loc)
		dst = pad(dst, start, timeWidth[f.Time])
	}

	spec := e.Kind.spec()
	dst = f.colored(dst, spec.color, wEvent, func(dst []byte) []byte { return appendKind(dst, e.Kind) })
	var num [20]byte
	pid := strconv.AppendUint(num[:0], uint64(e.PID), 10)
	for i := len(pid); i < wPID; i++ {
		dst = append(dst, ' ')
	}
	dst = append(append(dst, pid...), ' ')
	start := len(dst)
	dst = pad(appendQuoted(dst, e.Comm), start, wComm)
	if e.Ret < 0 {
		dst = f.colored(dst, colorFailed, wRet, func(dst []byte) []byte { return appendErrno(dst, e.Ret) })
	} else {
		start = len(dst)
		dst = pad(strconv.AppendInt(dst, int64(e.Ret), 10), start, wRet)
	}

	if spec.lead != nil {
		dst = spec.lead.text(dst, e, loc)
	}
	dst = appendTextPath(dst, e.Path, e.PathTruncated, e.PathUnknown)
	if e.HostPath != "" {
		dst = appendQuoted(append(dst, " host="...), e.HostPath)
	}
	for _, d := range spec.textDetails() {
		if d.text != nil {
			dst = d.text(dst, e, loc)
		}
	}
	if e.ContainerID != "" {
		id := e.ContainerID
		if len(id) > 12 {
			id = id[:12]
		}
		dst = append(append(dst, " container="...), id...)
		if e.PodUID != "" {
			dst = append(append(dst, " pod="...), e.PodUID...)
		}
	}
	if e.MntNS != 0 {
		dst = strconv.AppendUint(append(dst, " mntns="...), uint64(e.MntNS), 10)
	}
	if f.Extended {
		dst = f.appendWho(dst, e)
	}
	return append(dst, '\n')
}

// appendWho appends Extended's fields. The command line comes last, its
// arguments quoted one by one: everything after "cmdline=" is it.
func (f *TextFormat) appendWho(dst []byte, e *Event) []byte {
	dst = strconv.AppendUint(append(dst, " uid="...), uint64(e.UID), 10)
	dst = strconv.AppendUint(append(dst, " gid="...), uint64(e.GID), 10)
	dst = strconv.AppendUint(append(dst, " euid="...), uint64(e.EUID), 10)
	dst = strconv.AppendUint(append(dst, " egid="...), uint64(e.EGID), 10)
	if e.HasAUID {
		dst = strconv.AppendUint(append(dst, " auid="...), uint64(e.AUID), 10)
	}
	if e.HasFD {
		dst = strconv.AppendInt(append(dst, " fd="...), int64(e.FD), 10)
	}
	if e.FileID != 0 {
		dst = appendFileID(append(dst, " file_id="...), e.FileID)
	}
	if e.Process == nil {
		return dst
	}
	if e.Process.Exe != "" {
		dst = appendQuoted(append(dst, " exe="...), e.Process.Exe)
	}
	if f.Cmdline.want(&f.shown, e) {
		dst = append(dst, " cmdline="...)
		for i, a := range e.Process.Cmdline {
			if i > 0 {
				dst = append(dst, ' ')
			}
			if a == "" {
				dst = append(dst, "''"...)
				continue
			}
			dst = appendQuoted(dst, a)
		}
		if e.Process.CmdlineTruncated {
			dst = append(dst, "..."...)
		}
	}
	return dst
}

func (f *TextFormat) appendTime(dst []byte, t time.Time, loc *time.Location) []byte {
	switch f.Time {
	case TimeRelative:
		d := t.Sub(f.Start)
		if d < 0 {
			d = 0 // an event read just before Start was taken
		}
		us := d.Microseconds()
		dst = strconv.AppendInt(dst, us/1e6, 10)
		return appendMicros(append(dst, '.'), int(us%1e6))
	case TimeUTC:
		t = t.UTC()
		y, mo, d := t.Date()
		if y < 0 || y > 9999 {
			return t.AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
		}
		dst = append2(append(dst, byte('0'+y/1000), byte('0'+y/100%10)), y%100, '-')
		dst = append2(append2(dst, int(mo), '-'), d, 'T')
	default:
		t = t.In(loc)
	}
	h, m, s := t.Clock()
	dst = append2(append2(append2(dst, h, ':'), m, ':'), s, '.')
	dst = appendMicros(dst, t.Nanosecond()/1e3)
	if f.Time == TimeUTC {
		dst = append(dst, 'Z')
	}
	return dst
}

func appendMicros(dst []byte, us int) []byte {
	var b [6]byte
	for i := len(b) - 1; i >= 0; i, us = i-1, us/10 {
		b[i] = byte('0' + us%10)
	}
	return append(dst, b[:]...)
}

// ANSI colours (SGR parameters).
const (
	colorReset  = "\x1b[0m"
	colorFailed = "\x1b[1;31m" // bold red
)

// colored appends a column of width written by fn, in color when f.Color
// and color is set; the padding stays outside the colour.
func (f *TextFormat) colored(dst []byte, color string, width int, fn func([]byte) []byte) []byte {
	if !f.Color || color == "" {
		start := len(dst)
		return pad(fn(dst), start, width)
	}
	dst = append(dst, color...)
	start := len(dst)
	dst = fn(dst)
	n := utf8.RuneCount(dst[start:])
	dst = append(dst, colorReset...)
	for ; n < width; n++ {
		dst = append(dst, ' ')
	}
	return append(dst, ' ')
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

// appendTextPath writes a path; one that could not be read is "(unknown)",
// which no real path can be mistaken for: paths are absolute, and a name
// with parentheses is quoted. A name kept as passed because fstrace could
// not tell the file it designates (a /proc magic link of a process gone) is
// followed by " (unresolved)".
func appendTextPath(dst []byte, p string, truncated, unknown bool) []byte {
	if unknown && p == "" {
		return append(dst, "(unknown)"...)
	}
	dst = appendQuoted(dst, p)
	if truncated {
		dst = append(dst, " (truncated)"...)
	}
	if unknown {
		dst = append(dst, " (unresolved)"...)
	}
	return dst
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

// shellSpecial marks the ASCII bytes that make a name need quoting (as
// gnulib's quotearg does for ls's shell-escape style); '#' and '~' count
// only at the start of a name.
var shellSpecial = func() (t [128]bool) {
	for _, c := range " !\"$&'()*;<=>?[\\^`|" {
		t[c] = true
	}
	for c := 0; c < ' '; c++ {
		t[c] = true
	}
	t[0x7f] = true
	return t
}()

// needsQuote reports whether s must be quoted.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == '#' || s[0] == '~' {
		return true
	}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if shellSpecial[b] {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if size == 1 || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendQuoted appends s bare when it is plain, and otherwise quoted as
// `ls --quoting-style=shell-escape` does, which a POSIX shell (with $'…',
// as bash, zsh and ksh have) reads back as the same bytes: between single
// quotes, a quote as \', and control characters, bytes that are not UTF-8
// and runes that are not printable as $'\n', $'\t', $'\r' or $'\xNN'.
func appendQuoted(dst []byte, s string) []byte {
	if !needsQuote(s) {
		return append(dst, s...)
	}
	if s == "" {
		return append(dst, '\'', '\'')
	}
	const (
		bare = iota
		single
		dollar
	)
	state := bare
	enter := func(st int) {
		if state == st {
			return
		}
		if state != bare {
			dst = append(dst, '\'')
		}
		switch st {
		case single:
			dst = append(dst, '\'')
		case dollar:
			dst = append(dst, '$', '\'')
		}
		state = st
	}
	for i := 0; i < len(s); {
		b := s[i]
		size := 1
		printable := b >= ' ' && b < 0x7f
		if b >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			printable = size > 1 && unicode.IsPrint(r)
		}
		switch {
		case b == '\'':
			enter(bare)
			dst = append(dst, '\\', '\'')
		case printable:
			enter(single)
			dst = append(dst, s[i:i+size]...)
		default:
			enter(dollar)
			switch b {
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
		}
		i += size
	}
	enter(bare)
	return dst
}

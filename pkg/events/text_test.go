package events

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestAppendTextGolden(t *testing.T) {
	want := map[Kind]string{
		KindOpen:    "08:05:00.123456 open       1234 cat              3               /home/user/projects/fstrace/pkg/events.go flags=O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC mode=0644",
		KindCreate:  "08:05:00.123456 create     1234 cat              0               /tmp/new mode=0600",
		KindMkdir:   "08:05:00.123456 mkdir      1234 cat              0               /tmp/dir mode=01777",
		KindMknod:   "08:05:00.123456 mknod      1234 cat              0               /tmp/fifo mode=0640 type=fifo",
		KindSymlink: "08:05:00.123456 symlink    1234 cat              0               /tmp/link target=../target",
		KindLink:    "08:05:00.123456 link       1234 cat              0               /tmp/a -> /tmp/hard",
		KindUnlink:  "08:05:00.123456 unlink     1234 cat              ENOENT          /tmp/gone",
		KindRmdir:   "08:05:00.123456 rmdir      1234 cat              ENOTEMPTY       /tmp/dir",
		KindRename:  "08:05:00.123456 rename     1234 cat              0               /tmp/a -> /tmp/b flags=RENAME_NOREPLACE",
		KindSetattr: "08:05:00.123456 setattr    1234 cat              0               /tmp/f mode=0600 uid=1000 gid=100 size=3 atime=now mtime=2025-01-02T03:04:05.000000006Z",
		KindMount:   "08:05:00.123456 mount      1234 mount            0               /dev/sda1 on /mnt type ext4 flags=MS_RDONLY|MS_NOSUID|MS_RELATIME",
		KindUmount:  "08:05:00.123456 umount     1234 umount           0               /mnt flags=MNT_DETACH",
		KindRead:    "08:05:00.123456 read       1234 cat              1024            /etc/passwd offset=4096 bytes=1024",
		KindWrite:   "08:05:00.123456 write      1234 cat              17              /tmp/log offset=0 bytes=17",
		KindClose:   "08:05:00.123456 close      1234 cat              0               /tmp/log (truncated) bytes_read=10 bytes_written=17 opened_for_write",
		KindXattr:   "08:05:00.123456 xattr      1234 setfattr         0               /tmp/f set user.foo size=5 flags=XATTR_CREATE",
	}
	for _, r := range sampleRecs() {
		got := string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
		if w := want[r.Kind] + "\n"; got != w {
			t.Errorf("%s:\ngot  %q\nwant %q", r.Kind, got, w)
		}
	}
}

// The time styles, each with microseconds, and no column at all.
func TestTextTimeStyles(t *testing.T) {
	r := baseRec(KindUnlink)
	r.Str[0] = "/a"
	ev := mustDecode(t, r) // 08:05:00.123456789 UTC
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	rest := "unlink     1234 cat              0               /a\n"
	for _, tc := range []struct {
		f    TextFormat
		want string
	}{
		{TextFormat{Location: paris}, "09:05:00.123456 " + rest},
		{TextFormat{Time: TimeUTC, Location: paris}, "2026-11-27T08:05:00.123456Z " + rest},
		{TextFormat{Time: TimeRelative, Start: ev.Time.Add(-61*time.Second - 500*time.Microsecond)}, "61.000500    " + rest},
		{TextFormat{Time: TimeRelative, Start: ev.Time.Add(time.Second)}, "0.000000     " + rest},
		{TextFormat{Time: TimeNone}, rest},
	} {
		if got := string(tc.f.Append(nil, ev)); got != tc.want {
			t.Errorf("%+v:\ngot  %q\nwant %q", tc.f.Time, got, tc.want)
		}
	}
}

// Colour: the kind by family, a failure's errno in bold red; the padding
// stays outside the colour, so columns line up as without it.
func TestTextColor(t *testing.T) {
	r := baseRec(KindUnlink)
	r.Str[0], r.Ret = "/a", -int32(unix.ENOENT)
	f := TextFormat{Location: time.UTC, Color: true}
	got := string(f.Append(nil, mustDecode(t, r)))
	want := "08:05:00.123456 \x1b[31munlink\x1b[0m     1234 cat              \x1b[1;31mENOENT\x1b[0m          /a\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	r = baseRec(KindOpen)
	r.Str[0], r.Ret, r.Flags = "/a", 3, 0
	got = string(f.Append(nil, mustDecode(t, r)))
	if strings.Contains(got, "\x1b") {
		t.Errorf("a successful open is not coloured: %q", got)
	}
	f.Color = false
	r = baseRec(KindUnlink)
	r.Str[0], r.Ret = "/a", -int32(unix.ENOENT)
	if got := string(f.Append(nil, mustDecode(t, r))); strings.Contains(got, "\x1b") {
		t.Errorf("colour without Color: %q", got)
	}
}

func TestTextHeaderAligned(t *testing.T) {
	for _, style := range []TimeStyle{TimeLocal, TimeUTC, TimeRelative, TimeNone} {
		f := TextFormat{Time: style, Location: time.UTC}
		r := baseRec(KindOpen)
		r.Str[0], r.Ret = "/x", -int32(unix.EACCES)
		ev := mustDecode(t, r)
		f.Start = ev.Time.Add(-time.Second)
		line := string(f.Append(nil, ev))
		h := f.Header()
		t.Logf("\n%s\n%s", h, line)
		// Each left-aligned header column starts where its field starts.
		for _, col := range []struct{ head, field string }{{"EVENT", "open"}, {"COMM", "cat"}, {"RET", "EACCES"}, {"PATH", "/x"}} {
			if hi, li := strings.Index(h, col.head), strings.Index(line, col.field); hi != li {
				t.Errorf("time style %d: %s at %d, %q at %d", style, col.head, hi, col.field, li)
			}
		}
		// PID is right-aligned.
		if hi, li := strings.Index(h, "PID")+3, strings.Index(line, " 1234 ")+5; hi != li {
			t.Errorf("time style %d: PID ends at %d, value at %d", style, hi, li)
		}
	}
}

// The RET column holds every errno name the kernel has without shifting the
// path.
func TestTextRetWidth(t *testing.T) {
	longest := ""
	for e := 1; e < 4096; e++ {
		if n := unix.ErrnoName(syscall.Errno(e)); len(n) > len(longest) {
			longest = n
		}
	}
	if len(longest) > wRet {
		t.Errorf("errno %s is %d bytes, the RET column %d", longest, len(longest), wRet)
	}
	r := baseRec(KindRmdir)
	r.Str[0], r.Ret = "/d", -int32(unix.ENOTEMPTY)
	line := string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
	if hi, li := strings.Index(TextHeader(), "PATH"), strings.Index(line, "/d"); hi != li {
		t.Errorf("ENOTEMPTY shifts the path: PATH at %d, path at %d\n%s", hi, li, line)
	}
}

var quoteTests = []struct{ in, want string }{
	{"/plain/path-with_dots.v1,2+3%@:{x}]", "/plain/path-with_dots.v1,2+3%@:{x}]"},
	{"/a~b#c", "/a~b#c"},
	{"~x", "'~x'"},
	{"#x", "'#x'"},
	{"", "''"},
	{"/tmp/x mode=0600", "'/tmp/x mode=0600'"},
	{"/a=b", "'/a=b'"},
	{"/y -> z", "'/y -> z'"},
	{"/a>b", "'/a>b'"},
	{`/back\slash`, `'/back\slash'`},
	{`/dq"x`, `'/dq"x'`},
	{"/it's", `'/it'\''s'`},
	{"'", `\'`},
	{"/glob*?[x]", "'/glob*?[x]'"},
	{"/$HOME;`x`|&()<!^", "'/$HOME;`x`|&()<!^'"},
	{"new\nline\ttab\rcr", `'new'$'\n''line'$'\t''tab'$'\r''cr'`},
	{"\x00\x1b[31m\x7f", `$'\x00\x1b''[31m'$'\x7f'`},
	{"bad\xffutf8\xc3", `'bad'$'\xff''utf8'$'\xc3'`},
	{"héllo世界\uFFFD", "héllo世界\uFFFD"},
	{"héllo 世界", "'héllo 世界'"},
	{"bidi\u202eevil\u2028", `'bidi'$'\xe2\x80\xae''evil'$'\xe2\x80\xa8'`},
}

func TestTextQuote(t *testing.T) {
	for _, tt := range quoteTests {
		if got := string(appendQuoted(nil, tt.in)); got != tt.want {
			t.Errorf("appendQuoted(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// A quoted name is shell input that gives back the name's bytes.
func TestTextQuoteRoundTrip(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to check the quoting: ", err)
	}
	for _, tt := range quoteTests {
		if strings.ContainsRune(tt.in, 0) {
			continue // no shell passes a NUL in an argument
		}
		out, err := exec.Command(bash, "-c", "printf %s "+tt.want).Output()
		if err != nil || string(out) != tt.in {
			t.Errorf("bash reads %s as %q (%v), want %q", tt.want, out, err, tt.in)
		}
	}
}

// Names in the text line: a path that looks like more fields is quoted,
// and so are a second name, a symlink target and a comm.
func TestTextQuotedFields(t *testing.T) {
	r := baseRec(KindRename)
	r.Str[0], r.Str[1], r.Comm = "/w/y -> z", "/w/x mode=0600", "Web Content"
	got := string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
	want := "08:05:00.123456 rename     1234 'Web Content'    0               '/w/y -> z' -> '/w/x mode=0600'\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	r = baseRec(KindSymlink)
	r.Str[0], r.Str[1] = "/w/l", "a b"
	got = string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
	if want := "08:05:00.123456 symlink    1234 cat              0               /w/l target='a b'\n"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestTextCommPadding(t *testing.T) {
	r := baseRec(KindUnlink)
	r.Str[0], r.Comm = "/a", "zé\n"
	got := string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
	if want := "08:05:00.123456 unlink     1234 'zé'$'\\n'        0               /a\n"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func BenchmarkAppendText(b *testing.B) {
	ev := mustDecode(b, benchRec())
	buf := make([]byte, 0, 1024)
	buf = AppendText(buf, ev) // load the local zone
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendText(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}

func TestTextUnknownPath(t *testing.T) {
	ev := &Event{Kind: KindRename, Path: "/a b", NewPathUnknown: true, Ret: -14}
	got := string(AppendText(nil, ev))
	if !strings.Contains(got, `'/a b' -> (unknown)`) {
		t.Errorf("rename to an unreadable name: %q", got)
	}
	ev = &Event{Kind: KindMkdir, PathUnknown: true, Ret: -14}
	if got := string(AppendText(nil, ev)); !strings.Contains(got, "EFAULT") || !strings.HasSuffix(strings.TrimSpace(got), "(unknown)") && !strings.Contains(got, "(unknown) ") {
		t.Errorf("mkdir of an unreadable name: %q", got)
	}
}

// A /proc magic link fstrace could not follow keeps the name as passed,
// marked.
func TestTextUnresolvedPath(t *testing.T) {
	ev := &Event{Kind: KindSetattr, Path: "/proc/77/fd/3", PathUnknown: true, Ret: -2}
	if got := string(AppendText(nil, ev)); !strings.Contains(got, "/proc/77/fd/3 (unresolved)") {
		t.Errorf("setattr through a dead process's fd: %q", got)
	}
	ev = &Event{Kind: KindRename, Path: "/a", NewPath: "/proc/self/fd/9/b", NewPathUnknown: true, Ret: -2}
	if got := string(AppendText(nil, ev)); !strings.Contains(got, "/a -> /proc/self/fd/9/b (unresolved)") {
		t.Errorf("rename to a name through a closed fd: %q", got)
	}
}

// A process in a container or a chroot: its host paths after its paths.
func TestTextHostPath(t *testing.T) {
	ev := &Event{Kind: KindRename, Path: "/a", HostPath: "/srv/c/a", NewPath: "/b c", HostNewPath: "/srv/c/b c"}
	if got := string(AppendText(nil, ev)); !strings.Contains(got, `/a host=/srv/c/a -> '/b c' host='/srv/c/b c'`) {
		t.Errorf("rename in a container: %q", got)
	}
	ev = &Event{Kind: KindCreate, Path: "/t/x"}
	if got := string(AppendText(nil, ev)); strings.Contains(got, "host=") {
		t.Errorf("create without a host path: %q", got)
	}
}

// An xattr remove names the attribute and nothing else; a name that is not
// plain is quoted like a path.
func TestTextXattr(t *testing.T) {
	r := baseRec(KindXattr)
	r.Str[0], r.Str[2], r.Ret = "/tmp/f", "user.a b", -61
	r.AttrMask, r.Flags = AttrMask(XattrRemove), 0
	got := string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
	want := "08:05:00.123456 xattr      1234 cat              ENODATA         /tmp/f remove 'user.a b'\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	r.AttrMask, r.Ret, r.Size, r.Flags, r.Str[2] = AttrMask(XattrSet), 0, 0, unix.XATTR_REPLACE, "security.capability"
	got = string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
	want = "08:05:00.123456 xattr      1234 cat              0               /tmp/f set security.capability size=0 flags=XATTR_REPLACE\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

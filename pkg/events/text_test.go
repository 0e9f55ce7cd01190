package events

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestAppendTextGolden(t *testing.T) {
	want := map[Kind]string{
		KindOpen:    "08:05:00.123 open       1234 cat              3       /home/user/projects/fstrace/pkg/events.go flags=O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC mode=0644",
		KindCreate:  "08:05:00.123 create     1234 cat              0       /tmp/new mode=0600",
		KindMkdir:   "08:05:00.123 mkdir      1234 cat              0       /tmp/dir mode=01777",
		KindMknod:   "08:05:00.123 mknod      1234 cat              0       /tmp/fifo mode=0640 type=fifo",
		KindSymlink: "08:05:00.123 symlink    1234 cat              0       /tmp/link -> ../target",
		KindLink:    "08:05:00.123 link       1234 cat              0       /tmp/a -> /tmp/hard",
		KindUnlink:  "08:05:00.123 unlink     1234 cat              ENOENT  /tmp/gone",
		KindRmdir:   "08:05:00.123 rmdir      1234 cat              ENOTEMPTY /tmp/dir",
		KindRename:  "08:05:00.123 rename     1234 cat              0       /tmp/a -> /tmp/b flags=RENAME_NOREPLACE",
		KindSetattr: "08:05:00.123 setattr    1234 cat              0       /tmp/f mode=0600 uid=1000 gid=100 size=3 atime=now mtime=2025-01-02T03:04:05.000000006Z",
		KindMount:   "08:05:00.123 mount      1234 mount            0       /dev/sda1 on /mnt type ext4 flags=MS_RDONLY|MS_NOSUID|MS_RELATIME",
		KindUmount:  "08:05:00.123 umount     1234 umount           0       /mnt flags=MNT_DETACH",
		KindRead:    "08:05:00.123 read       1234 cat              1024    /etc/passwd offset=4096 bytes=1024",
		KindWrite:   "08:05:00.123 write      1234 cat              17      /tmp/log offset=0 bytes=17",
		KindClose:   "08:05:00.123 close      1234 cat              0       /tmp/log (truncated) bytes_read=10 bytes_written=17 opened_for_write",
	}
	for _, r := range sampleRecs() {
		got := string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
		if w := want[r.Kind] + "\n"; got != w {
			t.Errorf("%s:\ngot  %q\nwant %q", r.Kind, got, w)
		}
	}
}

func TestTextHeaderAligned(t *testing.T) {
	r := baseRec(KindOpen)
	r.Str[0], r.Ret = "/x", -int32(unix.EACCES)
	line := string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
	t.Logf("\n%s\n%s", TextHeader(), line)
	h := TextHeader()
	// Each left-aligned header column starts where its field starts.
	for _, col := range []struct{ head, field string }{{"EVENT", "open"}, {"COMM", "cat"}, {"RET", "EACCES"}, {"PATH", "/x"}} {
		if hi, li := strings.Index(h, col.head), strings.Index(line, col.field); hi != li {
			t.Errorf("%s at %d, %q at %d", col.head, hi, col.field, li)
		}
	}
	// PID is right-aligned.
	if hi, li := strings.Index(h, "PID")+3, strings.Index(line, "1234")+4; hi != li {
		t.Errorf("PID ends at %d, value at %d", hi, li)
	}
}

func TestTextEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain/path with spaces", "plain/path with spaces"},
		{"new\nline\ttab\rcr", `new\nline\ttab\rcr`},
		{`back\slash`, `back\\slash`},
		{"\x00\x1b[31m\x7f", `\x00\x1b[31m\x7f`},
		{"bad\xffutf8\xc3", `bad\xffutf8\xc3`},
		{"héllo 世界 \uFFFD", "héllo 世界 \uFFFD"},
		{"bidi\u202eevil\u2028", `bidi\xe2\x80\xaeevil\xe2\x80\xa8`},
	}
	for _, tt := range tests {
		if got := string(appendTextEscaped(nil, tt.in)); got != tt.want {
			t.Errorf("appendTextEscaped(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTextCommPadding(t *testing.T) {
	r := baseRec(KindUnlink)
	r.Str[0], r.Comm = "/a", "zé\n"
	got := string(AppendTextIn(nil, mustDecode(t, r), time.UTC))
	if want := "08:05:00.123 unlink     1234 zé\\n             0       /a\n"; got != want {
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

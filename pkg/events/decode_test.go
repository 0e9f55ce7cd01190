package events

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDecodeAllFields(t *testing.T) {
	r := rec{
		TS: testBoot, CPUSeq: 0x0102030405060708, CgroupID: 0x1112131415161718,
		Ino: 0x2122232425262728, Flags: 0x3132333435363738, Size: 0x4142434445464748,
		Offset: 0x5152535455565758, Bytes: 0x6162636465666768, Bytes2: 0x7172737475767778,
		PID: 0x81828384, TID: 0x91929394, PPID: 0xa1a2a3a4, UID: 0xb1b2b3b4, GID: 0xc1c2c3c4,
		EUID: 0xe1e2e3e4, EGID: 0xf1f2f3f4, AUID: 0, HasAUID: true,
		Dev: kernelDev(0xabc, 0xdef01), Mode: 0o104755, Ret: -0x7ffffff0,
		Kind: KindOpen, Rflags: rfPathTrunc | rfPath2Trunc | rfHasIno | rfHasMode, CPU: 0xd1d2,
		Comm: "0123456789abcdef", Str: [NumStr]string{"/p", "ignored", "x"},
	}
	got := mustDecode(t, r)
	want := &Event{
		Time: testWall, BootNS: testBoot, CPU: 0xd1d2, CPUSeq: r.CPUSeq, Kind: KindOpen,
		PID: r.PID, TID: r.TID, PPID: r.PPID, UID: r.UID, GID: r.GID,
		EUID: r.EUID, EGID: r.EGID, AUID: 0, HasAUID: true,
		Comm: "0123456789abcdef", CgroupID: r.CgroupID, Path: "/p",
		PathTruncated: true, NewPathTruncated: true, Ret: r.Ret, Flags: r.Flags,
		Mode: 0o104755, HasMode: true, Ino: r.Ino, Dev: unix.Mkdev(0xabc, 0xdef01), HasIno: true,
	}
	compareEvents(t, got, want)
}

func compareEvents(t *testing.T, got, want *Event) {
	t.Helper()
	g := *got
	g.buf = nil
	if !reflect.DeepEqual(&g, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", g, *want)
	}
}

func TestDecodeKinds(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	base := func(k Kind) Event {
		return Event{Time: testWall, BootNS: testBoot, CPUSeq: 7, CgroupID: 4242, CPU: 2, Kind: k,
			PID: 1234, TID: 1235, PPID: 1, UID: 1000, GID: 1000, EUID: 1000, EGID: 1000, Comm: "cat"}
	}
	for _, r := range sampleRecs() {
		want := base(r.Kind)
		want.Path = r.Str[0]
		want.Ret = r.Ret
		want.Flags = r.Flags
		want.PathTruncated = r.Rflags&rfPathTrunc != 0
		if r.Rflags&rfHasMode != 0 {
			want.Mode, want.HasMode = r.Mode, true
		}
		if r.Rflags&rfHasIno != 0 {
			want.Ino, want.Dev, want.HasIno = 131, unix.Mkdev(259, 2), true
		}
		switch r.Kind {
		case KindSymlink:
			want.Target = r.Str[1]
		case KindLink, KindRename:
			want.NewPath = r.Str[1]
		case KindSetattr:
			want.Attrs = Attrs{Mask: r.AttrMask, Mode: 0o100600, UID: 1000, GID: 100, Size: 3,
				AtimeNow: true, Mtime: at.Truncate(time.Second).Add(6)}
		case KindMount:
			want.Source, want.FSType, want.Comm = "/dev/sda1", "ext4", "mount"
		case KindUmount:
			want.Comm = "umount"
		case KindRead, KindWrite:
			want.Offset, want.Bytes = r.Offset, r.Bytes
		case KindClose:
			want.BytesRead, want.BytesWritten, want.OpenedForWrite = 10, 17, true
		case KindXattr:
			want.XattrOp, want.XattrName, want.XattrSize, want.Comm = XattrSet, "user.foo", 5, "setfattr"
		}
		t.Run(r.Kind.String(), func(t *testing.T) { compareEvents(t, mustDecode(t, r), &want) })
	}
}

// fsStr is a host string as bpf/lib/host.h writes it.
func fsStr(dev uint32, p string) string {
	b := binary.NativeEndian.AppendUint32(nil, dev)
	return string(b) + p
}

func TestDecodeHostStrings(t *testing.T) {
	r := baseRec(KindRename)
	r.Str = [NumStr]string{"/a", "/b", "", fsStr(kernelDev(0, 52), "/srv/a"), fsStr(kernelDev(8, 1), "/b")}
	r.Rflags = rfHostFilter
	ev := mustDecode(t, r)
	if want := (FSPath{Dev: unix.Mkdev(0, 52), Path: "/srv/a"}); ev.FSPath != want {
		t.Errorf("FSPath = %+v, want %+v", ev.FSPath, want)
	}
	if want := (FSPath{Dev: unix.Mkdev(8, 1), Path: "/b"}); ev.FSNewPath != want {
		t.Errorf("FSNewPath = %+v, want %+v", ev.FSNewPath, want)
	}
	if !ev.HostFilter || ev.Path != "/a" || ev.NewPath != "/b" || ev.HostPath != "" {
		t.Errorf("HostFilter %v, Path %q, NewPath %q, HostPath %q", ev.HostFilter, ev.Path, ev.NewPath, ev.HostPath)
	}
	// a create: no second; a string without its path is none
	r = baseRec(KindCreate)
	r.Str = [NumStr]string{"/x", "", "", "\x01\x00\x00"}
	if ev := mustDecode(t, r); ev.FSPath != (FSPath{}) || ev.FSNewPath != (FSPath{}) {
		t.Errorf("short host string: %+v %+v", ev.FSPath, ev.FSNewPath)
	}
}

func TestDecodeReuse(t *testing.T) {
	long, short := baseRec(KindRename), baseRec(KindMount)
	long.Str[0], long.Str[1] = strings.Repeat("a", 300), strings.Repeat("b", 300)
	long.Rflags = rfPathTrunc | rfHasIno
	short.Str = [NumStr]string{"/m", "src", "tmpfs"}
	short.Comm = "mount"

	var ev Event
	ev.Seq = 99
	if err := testDec.Decode(long.encode(), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Seq != 99 {
		t.Errorf("Seq = %d, Decode must leave it alone", ev.Seq)
	}
	kept := ev.Clone()
	if err := testDec.Decode(short.encode(), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Path != "/m" || ev.Source != "src" || ev.FSType != "tmpfs" || ev.Comm != "mount" ||
		ev.NewPath != "" || ev.PathTruncated || ev.HasIno {
		t.Errorf("second decode left stale fields: %+v", ev)
	}
	if kept.Path != long.Str[0] || kept.NewPath != long.Str[1] || kept.Comm != "cat" || !kept.PathTruncated {
		t.Errorf("clone changed by a later decode: %+v", kept)
	}
}

func TestDecodeErrors(t *testing.T) {
	valid := baseRec(KindOpen)
	valid.Str[0] = "/etc/passwd"
	good := valid.encode()
	with := func(f func(r *rec)) []byte { r := valid; f(&r); return r.encode() }
	tests := []struct {
		name string
		raw  []byte
		is   error
		msg  string
	}{
		{"empty", nil, ErrShortRecord, "short record: 0 bytes, header is 200"},
		{"header cut", good[:HeaderSize-1], ErrShortRecord, "199 bytes"},
		{"strings cut", good[:len(good)-1], ErrShortRecord, "210 bytes, header and strings need 211"},
		{"kind 0", with(func(r *rec) { r.Kind = 0 }), ErrCorruptRecord, "corrupt record: kind 0"},
		{"kind max", with(func(r *rec) { r.Kind = kindMax }), ErrCorruptRecord, "kind 17"},
		{"xattr op", with(func(r *rec) { r.Kind, r.AttrMask = KindXattr, 3 }), ErrCorruptRecord, "xattr operation 3"},
		{"kind huge", with(func(r *rec) { r.Kind = 0xffff }), ErrCorruptRecord, "kind 65535"},
		{"str too long", with(func(r *rec) { r.StrLen = &[NumStr]uint16{11, PathMax + 1, 0} }),
			ErrCorruptRecord, "string 1 is 4097 bytes, max 4096"},
		{"str past end", with(func(r *rec) { r.StrLen = &[NumStr]uint16{11, 0, 5} }),
			ErrShortRecord, "header and strings need 216"},
		{"trailing", append(good, 0), ErrCorruptRecord, "1 trailing bytes after 211"},
		{"padded to 8", append(good, 0, 0, 0, 0, 0), ErrCorruptRecord, "5 trailing bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev Event
			err := testDec.Decode(tt.raw, &ev)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %v containing %q", err, tt.is, tt.msg)
			}
		})
	}
}

func TestNewDecoderOffset(t *testing.T) {
	var r, b unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &r); err != nil {
		t.Skip(err)
	}
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &b)
	var ev Event
	rc := baseRec(KindOpen)
	rc.TS = uint64(b.Nano())
	if err := NewDecoder().Decode(rc.encode(), &ev); err != nil {
		t.Fatal(err)
	}
	if d := ev.Time.Sub(time.Unix(0, r.Nano())).Abs(); d > 50*time.Millisecond {
		t.Errorf("event time %v is %v away from now", ev.Time, d)
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range sampleRecs() {
		f.Add(r.encode())
	}
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev Event
		if err := testDec.Decode(raw, &ev); err != nil {
			if !errors.Is(err, ErrShortRecord) && !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		line := AppendJSON(nil, &ev)
		if !json.Valid(line) || strings.Count(string(line), "\n") != 1 {
			t.Fatalf("bad JSON line %q", line)
		}
		text := AppendTextIn(nil, &ev, time.UTC)
		if strings.Count(string(text), "\n") != 1 || text[len(text)-1] != '\n' {
			t.Fatalf("text is not one line: %q", text)
		}
		c := ev.Clone()
		ev2 := ev
		ev2.buf = nil
		if !reflect.DeepEqual(c, &ev2) {
			t.Fatalf("clone differs")
		}
	})
}

func TestZeroAllocs(t *testing.T) {
	raws := make([][]byte, 0)
	for _, r := range sampleRecs() {
		raws = append(raws, r.encode())
	}
	unk := baseRec(KindUnlink)
	unk.Ret = -4000 // unknown errno: "E4000"
	unk.Str[0] = "bad\xff\n\u2028name"
	raws = append(raws, unk.encode())

	var ev Event
	buf := make([]byte, 0, 4096)
	for _, raw := range raws { // grow the buffers, load the local zone
		testDec.Decode(raw, &ev)
		buf = AppendText(AppendJSON(buf[:0], &ev), &ev)
	}
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		raw := raws[i%len(raws)]
		i++
		if err := testDec.Decode(raw, &ev); err != nil {
			t.Fatal(err)
		}
		buf = AppendJSON(buf[:0], &ev)
		buf = AppendText(buf[:0], &ev)
	})
	if allocs != 0 {
		t.Errorf("Decode+AppendJSON+AppendText: %v allocs per event, want 0", allocs)
	}
}

// benchRec is a realistic open record with a 40-byte path.
func benchRec() rec {
	r := baseRec(KindOpen)
	r.Str[0] = "/home/user/src/fstrace/pkg/events/x.go" + "ab"
	r.Flags = unix.O_RDONLY | unix.O_CLOEXEC
	r.Rflags = rfHasIno
	r.Ino, r.Dev, r.Ret = 131, kernelDev(259, 2), 3
	return r
}

func BenchmarkDecode(b *testing.B) {
	raw := benchRec().encode()
	var ev Event
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := testDec.Decode(raw, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

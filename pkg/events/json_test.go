package events

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

const jsonHead = `{"time":"2026-11-27T08:05:00.123456789Z","seq":17,`

func TestAppendJSONGolden(t *testing.T) {
	tests := []struct {
		name string
		rec  func(r *rec)
		want string
	}{
		{"open error", func(r *rec) {
			r.Kind, r.Str[0], r.Ret = KindOpen, "/etc/shadow", -13
			r.Flags = unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC
			r.Mode, r.Rflags = 0o100644, rfHasMode
		}, `"event":"open","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/etc/shadow","ret":-13,"error":"EACCES","flags":"O_WRONLY|O_CREAT|O_TRUNC","mode":"0644"}`},
		{"open ok", func(r *rec) {
			r.Kind, r.Str[0], r.Ret, r.Comm = KindOpen, "/etc/passwd", 3, `a"b\c`
			r.Flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW
			r.Ino, r.Dev, r.Rflags = 131, kernelDev(8, 1), rfHasIno
		}, `"event":"open","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"a\"b\\c","cgroup_id":4242,"path":"/etc/passwd","ret":3,"flags":"O_RDONLY|O_NOFOLLOW|O_CLOEXEC","ino":131,"dev":2049}`},
		{"rename flags", func(r *rec) {
			r.Kind, r.Str[0], r.Str[1], r.Comm = KindRename, "/tmp/a", "/tmp/b", "mv"
			r.Flags = unix.RENAME_NOREPLACE | unix.RENAME_WHITEOUT
			r.Ino, r.Dev, r.Rflags = 7, kernelDev(0, 33), rfHasIno|rfPath2Trunc
		}, `"event":"rename","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"mv","cgroup_id":4242,"path":"/tmp/a","ret":0,"flags":"RENAME_NOREPLACE|RENAME_WHITEOUT","new_path":"/tmp/b","ino":7,"dev":33,"new_path_truncated":true}`},
		{"rename plain", func(r *rec) {
			r.Kind, r.Str[0], r.Str[1], r.Ret = KindRename, "/tmp/a", "/x/b", -18
		}, `"event":"rename","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/tmp/a","ret":-18,"error":"EXDEV","new_path":"/x/b"}`},
		{"symlink", func(r *rec) {
			r.Kind, r.Str[0], r.Str[1], r.Comm = KindSymlink, "/home/u/link", "../target dir/ü", "ln"
		}, `"event":"symlink","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"ln","cgroup_id":4242,"path":"/home/u/link","ret":0,"target":"../target dir/ü"}`},
		{"setattr", func(r *rec) {
			r.Kind, r.Str[0], r.Comm = KindSetattr, "/tmp/f", "chmod"
			r.AttrMask = AttrMode | AttrUID | AttrSize | AttrAtime | AttrAtimeNow | AttrMtime
			r.Mode, r.AttrUID, r.AttrGID, r.Size = 0o100600, 0, 5, 3
			r.MtimeSec, r.MtimeNsec = 1735787045, 6
		}, `"event":"setattr","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"chmod","cgroup_id":4242,"path":"/tmp/f","ret":0,"attrs":{"mode":"0600","uid":0,"size":3,"atime":"now","mtime":"2025-01-02T03:04:05.000000006Z"}}`},
		{"setattr gid mtime now", func(r *rec) {
			r.Kind, r.Str[0] = KindSetattr, "/tmp/f"
			r.AttrMask, r.AttrGID = AttrGID|AttrMtimeNow, 5
		}, `"event":"setattr","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/tmp/f","ret":0,"attrs":{"gid":5,"mtime":"now"}}`},
		{"mount", func(r *rec) {
			r.Kind, r.Str, r.Comm = KindMount, [NumStr]string{"/mnt/usb", "/dev/sdb1", "vfat"}, "mount"
			r.Flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_RELATIME | 1<<40
		}, `"event":"mount","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"mount","cgroup_id":4242,"path":"/mnt/usb","ret":0,"flags":"MS_RDONLY|MS_NOSUID|MS_NODEV|MS_RELATIME|0x10000000000","source":"/dev/sdb1","fstype":"vfat"}`},
		{"umount", func(r *rec) {
			r.Kind, r.Str[0], r.Flags, r.Ret = KindUmount, "/mnt/usb", unix.MNT_DETACH, -16
		}, `"event":"umount","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/mnt/usb","ret":-16,"error":"EBUSY","flags":"MNT_DETACH"}`},
		{"mknod", func(r *rec) {
			r.Kind, r.Str[0], r.Mode, r.Rflags = KindMknod, "/dev/x", unix.S_IFCHR|0o620, rfHasMode
		}, `"event":"mknod","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/dev/x","ret":0,"mode":"0620","file_type":"char"}`},
		{"mkdir", func(r *rec) {
			r.Kind, r.Str[0], r.Mode, r.Rflags = KindMkdir, "/tmp", unix.S_IFDIR|0o1777, rfHasMode|rfPathTrunc
		}, `"event":"mkdir","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/tmp","ret":0,"mode":"01777","path_truncated":true}`},
		{"link", func(r *rec) {
			r.Kind, r.Str[0], r.Str[1] = KindLink, "/a", "/b"
		}, `"event":"link","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/a","ret":0,"new_path":"/b"}`},
		{"unlink unknown errno", func(r *rec) {
			r.Kind, r.Str[0], r.Ret = KindUnlink, "/a", -4000
		}, `"event":"unlink","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/a","ret":-4000,"error":"E4000"}`},
		{"write", func(r *rec) {
			r.Kind, r.Str[0], r.Offset, r.Bytes, r.Ret = KindWrite, "/log", 100, 20, 20
		}, `"event":"write","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/log","ret":20,"offset":100,"bytes":20}`},
		{"open of a name that could not be read", func(r *rec) {
			r.Kind, r.Ret, r.Rflags = KindOpen, -14, rfPathUnk
		}, `"event":"open","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"","ret":-14,"error":"EFAULT","flags":"O_RDONLY","path_unknown":true}`},
		{"rename to a name that could not be read", func(r *rec) {
			r.Kind, r.Str[0], r.Ret, r.Rflags = KindRename, "/a", -14, rfPath2Unk
		}, `"event":"rename","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/a","ret":-14,"error":"EFAULT","new_path":"","new_path_unknown":true}`},
		{"rename in a container", func(r *rec) {
			r.Kind, r.Str[0], r.Str[1] = KindRename, "/a", "/b"
		}, `"event":"rename","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/a","host_path":"/c/a","ret":0,"new_path":"/b","host_new_path":"/c/b"}`},
		{"xattr set", func(r *rec) {
			r.Kind, r.Str[0], r.Str[2], r.Comm = KindXattr, "/tmp/f", "system.posix_acl_access", "cp"
			r.AttrMask, r.Size = AttrMask(XattrSet), 28
		}, `"event":"xattr","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cp","cgroup_id":4242,"path":"/tmp/f","ret":0,"op":"set","name":"system.posix_acl_access","size":28}`},
		{"xattr set exclusive", func(r *rec) {
			r.Kind, r.Str[0], r.Str[2], r.Ret = KindXattr, "/tmp/f", "user.foo", -17
			r.AttrMask, r.Size, r.Flags = AttrMask(XattrSet), 5, unix.XATTR_CREATE
		}, `"event":"xattr","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/tmp/f","ret":-17,"error":"EEXIST","op":"set","name":"user.foo","size":5,"flags":"XATTR_CREATE"}`},
		{"xattr remove", func(r *rec) {
			r.Kind, r.Str[0], r.Str[2], r.Ret = KindXattr, "/tmp/f", "user.\xff", -61
			r.AttrMask = AttrMask(XattrRemove)
		}, `"event":"xattr","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/tmp/f","ret":-61,"error":"ENODATA","op":"remove","name":"user.\ufffd","name_hex":"757365722eff"}`},
		{"close", func(r *rec) {
			r.Kind, r.Str[0], r.Bytes, r.Bytes2, r.Rflags = KindClose, "/log", 1, 0, rfWritten
		}, `"event":"close","pid":1234,"tid":1235,"ppid":1,"uid":1000,"gid":1000,"euid":1000,"egid":1000,"comm":"cat","cgroup_id":4242,"path":"/log","ret":0,"bytes_read":1,"bytes_written":0,"opened_for_write":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := baseRec(0)
			tt.rec(&r)
			ev := mustDecode(t, r)
			ev.Seq = 17
			if tt.name == "rename in a container" { // the tracer's part
				ev.HostPath, ev.HostNewPath = "/c/a", "/c/b"
			}
			got := string(AppendJSON(nil, ev))
			if want := jsonHead + tt.want + "\n"; got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestAppendJSONValid(t *testing.T) {
	common := []string{"time", "seq", "event", "pid", "tid", "ppid", "uid", "gid", "euid", "egid", "comm", "cgroup_id", "path", "ret"}
	extra := map[Kind][]string{
		KindOpen:    {"flags", "mode", "ino", "dev"},
		KindCreate:  {"mode"},
		KindMkdir:   {"mode"},
		KindMknod:   {"mode", "file_type"},
		KindSymlink: {"target"},
		KindLink:    {"new_path"},
		KindUnlink:  {"error"},
		KindRmdir:   {"error"},
		KindRename:  {"flags", "new_path"},
		KindSetattr: {"attrs"},
		KindMount:   {"flags", "source", "fstype"},
		KindUmount:  {"flags"},
		KindRead:    {"offset", "bytes"},
		KindWrite:   {"offset", "bytes"},
		KindClose:   {"bytes_read", "bytes_written", "opened_for_write", "path_truncated"},
		KindXattr:   {"op", "name", "size", "flags"},
	}
	for _, r := range sampleRecs() {
		ev := mustDecode(t, r)
		line := AppendJSON(nil, ev)
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("%s: not one line: %q", r.Kind, line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s: %v: %s", r.Kind, err, line)
		}
		keys := jsonKeys(t, line)
		want := append(append([]string(nil), common...), extra[r.Kind]...)
		if !reflect.DeepEqual(keys, want) {
			t.Errorf("%s keys %v, want %v", r.Kind, keys, want)
		}
		check := map[string]any{
			"time": "2026-11-27T08:05:00.123456789Z", "event": r.Kind.String(),
			"pid": 1234.0, "tid": 1235.0, "ppid": 1.0, "uid": 1000.0, "gid": 1000.0,
			"comm": r.Comm, "cgroup_id": 4242.0, "path": r.Str[0], "ret": float64(r.Ret),
		}
		switch r.Kind {
		case KindSymlink:
			check["target"] = r.Str[1]
		case KindLink, KindRename:
			check["new_path"] = r.Str[1]
		case KindMount:
			check["source"], check["fstype"] = r.Str[1], r.Str[2]
		case KindRead, KindWrite:
			check["offset"], check["bytes"] = float64(r.Offset), float64(r.Bytes)
		case KindSetattr:
			check["attrs"] = map[string]any{"mode": "0600", "uid": 1000.0, "gid": 100.0, "size": 3.0,
				"atime": "now", "mtime": "2025-01-02T03:04:05.000000006Z"}
		}
		for k, v := range check {
			if !reflect.DeepEqual(m[k], v) {
				t.Errorf("%s: %q = %#v, want %#v", r.Kind, k, m[k], v)
			}
		}
	}
}

// jsonKeys returns the top-level keys of the object in line, in order.
func jsonKeys(t *testing.T, line []byte) []string {
	t.Helper()
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.Token() // {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// stdJSONString is what encoding/json makes of s with HTML escaping off.
func stdJSONString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	fixed := []string{"", "plain", "\x00\x01\x1f\x7f", "\b\f\n\r\t\"\\", "<>&", "\u2028\u2029",
		"\xff", "\xe2\x80", "\xed\xa0\x80", "\uFFFD", "é€𝄞", "a\xc3", "\xf4\x90\x80\x80"}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("a/\"\\\x00\x1f\x7f\n\xc3\xa9\xe2\x80\xa8\xa9\xf0\x9d\x84\x9e\xff\xed")
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			if rng.IntN(2) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = byte(rng.UintN(256))
			}
		}
		fixed = append(fixed, string(b))
	}
	for _, s := range fixed {
		if got, want := string(appendJSONString(nil, s)), stdJSONString(s); got != want {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json: %s", s, got, want)
		}
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a\x00\"\\\u2028\xff", "é\xe2\x80", "\t\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONString(nil, s)), stdJSONString(s); got != want {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json: %s", s, got, want)
		}
		if utf8.ValidString(s) {
			var back string
			if err := json.Unmarshal(appendJSONString(nil, s), &back); err != nil || back != s {
				t.Fatalf("round trip of %q: %q, %v", s, back, err)
			}
		}
	})
}

func TestOpenFlags(t *testing.T) {
	tests := []struct {
		flags uint64
		want  string
	}{
		{unix.O_RDONLY, "O_RDONLY"},
		{unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, "O_WRONLY|O_CREAT|O_TRUNC"},
		{unix.O_RDWR | unix.O_EXCL | unix.O_APPEND | unix.O_NONBLOCK | unix.O_NOCTTY, "O_RDWR|O_EXCL|O_NOCTTY|O_APPEND|O_NONBLOCK"},
		{unix.O_SYNC, "O_RDONLY|O_SYNC"},
		{unix.O_DSYNC, "O_RDONLY|O_DSYNC"},
		{unix.O_SYNC &^ unix.O_DSYNC, "O_RDONLY|0x100000"},
		{unix.O_RDWR | unix.O_TMPFILE, "O_RDWR|O_TMPFILE"},
		{unix.O_DIRECTORY | unix.O_PATH, "O_RDONLY|O_DIRECTORY|O_PATH"},
		{oLargefile | unix.O_DIRECT | unix.O_NOATIME | unix.O_ASYNC, "O_RDONLY|O_ASYNC|O_DIRECT|O_LARGEFILE|O_NOATIME"},
		{unix.O_ACCMODE | 1<<33, "0x3|0x200000000"},
		{unix.O_WRONLY | 1<<40 | 1<<33, "O_WRONLY|0x10200000000"},
	}
	for _, tt := range tests {
		if got := string(appendOpenFlags(nil, tt.flags)); got != tt.want {
			t.Errorf("appendOpenFlags(%#x) = %s, want %s", tt.flags, got, tt.want)
		}
	}
}

func TestAppendMode(t *testing.T) {
	for m, want := range map[uint32]string{0: "0000", 0o7: "0007", 0o10: "0010", 0o644: "0644",
		0o100755: "0755", 0o41777: "01777", 0o6711: "06711", 0o177777: "07777"} {
		if got := string(appendMode(nil, m)); got != want {
			t.Errorf("appendMode(%#o) = %s, want %s", m, got, want)
		}
	}
}

func TestAppendTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ts := []time.Time{{}, time.Unix(0, 0), testWall, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 1, 2, 3, 4, time.FixedZone("X", 3600))}
	for range 10000 {
		ts = append(ts, time.Unix(0, rng.Int64()))
	}
	for _, tm := range ts {
		if got, want := string(appendTime(nil, tm)), tm.UTC().Format(timeLayout); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	ev := mustDecode(b, benchRec())
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}

// Names are bytes: every name that is not valid UTF-8 carries its exact
// bytes in KEY_hex, and each line stays one JSON object whatever the name.
func TestJSONExactNames(t *testing.T) {
	for _, c := range []struct {
		name, path string
		hex        bool
	}{
		{"plain", "/tmp/plain", false},
		{"utf-8", "/tmp/caf\u00e9 \u65e5\u672c", false},
		{"invalid bytes", "/tmp/bad\xff\xfe", true},
		{"lone continuation", "/tmp/\x80x", true},
		{"overlong slash", "/tmp/\xc0\xaf", true},
		{"surrogate half", "/tmp/\xed\xa0\x80", true},
		{"binary junk", "/tmp/\x01\x02\x7f\x9b\xc3", true},
		{"looks like JSON", `/tmp/","event":"unlink","path":"/etc/passwd`, false},
		{"looks like a text line", "/tmp/x\n22:00:00.000000 unlink 1 rm 0 /etc/passwd", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := baseRec(0)
			r.Kind, r.Str[0], r.Str[1] = KindRename, c.path, c.path+"\xff"
			line := AppendJSON(nil, mustDecode(t, r))
			if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("not one line: %q", line)
			}
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("not JSON: %v: %q", err, line)
			}
			if got["event"] != "rename" {
				t.Errorf("event = %v: a name changed the record", got["event"])
			}
			h, ok := got["path_hex"].(string)
			if ok != c.hex {
				t.Fatalf("path_hex present = %v, want %v: %s", ok, c.hex, line)
			}
			if !c.hex && got["path"] != c.path {
				t.Errorf("path = %q, want %q", got["path"], c.path)
			}
			if c.hex {
				if raw, err := hex.DecodeString(h); err != nil || string(raw) != c.path {
					t.Errorf("path_hex %q does not give back %q", h, c.path)
				}
			}
			nh, _ := got["new_path_hex"].(string)
			if raw, err := hex.DecodeString(nh); err != nil || string(raw) != c.path+"\xff" {
				t.Errorf("new_path_hex %q does not give back %q", nh, c.path+"\xff")
			}
		})
	}
	// Two names that differ only in invalid bytes give different lines.
	a, b := baseRec(0), baseRec(0)
	a.Kind, a.Str[0] = KindUnlink, "/tmp/\xff"
	b.Kind, b.Str[0] = KindUnlink, "/tmp/\xfe"
	if bytes.Equal(AppendJSON(nil, mustDecode(t, a)), AppendJSON(nil, mustDecode(t, b))) {
		t.Error("names differing in invalid bytes give the same JSON")
	}
}

// TestJSONEncoderMatches: a JSONEncoder writes every event of a stream
// byte for byte as AppendJSON does, while who did it, the second and the
// open flags change or repeat, and while the event it reads is decoded
// into again (its strings then live in a reused buffer).
func TestJSONEncoderMatches(t *testing.T) {
	var recs []rec
	rng := rand.New(rand.NewPCG(1, 2))
	comms := []string{"cat", "cat2", "c\xffat", "sh", "a-fifteen-bytes"}
	for i := 0; i < 3000; i++ {
		base := sampleRecs()
		r := base[rng.IntN(len(base))]
		// Each field of who did it alone, now and then.
		alt := func(a, b uint32) uint32 {
			if rng.IntN(4) == 0 {
				return b
			}
			return a
		}
		r.PID, r.TID, r.PPID = alt(r.PID, 7), alt(r.TID, 7), alt(r.PPID, 7)
		r.UID, r.GID = alt(r.UID, 7), alt(r.GID, 7)
		r.CgroupID = uint64(alt(uint32(r.CgroupID), 7))
		r.Comm = comms[alt(0, uint32(rng.IntN(len(comms))))]
		if r.Kind == KindOpen && rng.IntN(2) == 0 {
			r.Flags = []uint64{0, 0o2000000, 0o101, 0o1102, 0o4000, 0o2100}[rng.IntN(6)]
		}
		// Mostly the same second, sometimes the next or another year.
		switch rng.IntN(10) {
		case 0:
			r.TS += uint64(time.Second)
		case 1:
			r.TS += uint64(rng.Int64N(int64(400 * 24 * time.Hour)))
		default:
			r.TS += uint64(rng.IntN(1000))
		}
		recs = append(recs, r)
	}
	var enc JSONEncoder
	var ev Event
	var got, want []byte
	for i, r := range recs {
		if err := testDec.Decode(r.encode(), &ev); err != nil {
			t.Fatal(err)
		}
		ev.Seq = uint64(i)
		got, want = enc.Append(got[:0], &ev), AppendJSON(want[:0], &ev)
		if !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
	// Times outside the fixed-width years are formatted in full.
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 7)} {
		ev.Time = tm
		if got, want := enc.Append(nil, &ev), AppendJSON(nil, &ev); !bytes.Equal(got, want) {
			t.Errorf("time %v:\n got %s\nwant %s", tm, got, want)
		}
	}
}

func BenchmarkJSONEncoder(b *testing.B) {
	ev := mustDecode(b, benchRec())
	buf := make([]byte, 0, 1024)
	var enc JSONEncoder
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.Append(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}

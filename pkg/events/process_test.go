package events

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func execRec(exe, args string) rec {
	r := baseRec(0)
	r.Kind = recExec
	r.Str[0], r.Str[1] = exe, args
	return r
}

func TestDecodeProc(t *testing.T) {
	raw := execRec("/usr/bin/touch", "touch\x00/tmp/a b\x00").encode()
	if !IsProcRecord(raw) || IsCgroupRecord(raw) {
		t.Fatal("an exec record not told apart")
	}
	n, err := DecodeProc(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := &Process{Exe: "/usr/bin/touch", Cmdline: []string{"touch", "/tmp/a b"}}
	if n.PID != 1234 || n.BootNS != testBoot || n.CPU != 2 || !reflect.DeepEqual(n.Process, want) {
		t.Errorf("got %+v %+v, want pid 1234 and %+v", n, n.Process, want)
	}

	// Cut by the kernel: the flag, or a last argument without its NUL.
	r := execRec("/bin/x", "x\x00aaaa")
	n, _ = DecodeProc(r.encode())
	if !n.Process.CmdlineTruncated || !reflect.DeepEqual(n.Process.Cmdline, []string{"x", "aaaa"}) {
		t.Errorf("cut argv: %+v", n.Process)
	}
	r = execRec("/bin/x", "x\x00")
	r.Rflags = rfPath2Trunc
	if n, _ = DecodeProc(r.encode()); !n.Process.CmdlineTruncated {
		t.Error("FST_RF_PATH2_TRUNC not read as a cut argv")
	}

	// An exit record: no process.
	r = baseRec(0)
	r.Kind = recExit
	if n, err = DecodeProc(r.encode()); err != nil || n.Process != nil || n.PID != 1234 {
		t.Errorf("exit record: %+v, %v", n, err)
	}

	// Lengths that do not add up, and events, are refused.
	bad := execRec("/bin/x", "x\x00")
	bad.StrLen = &[NumStr]uint16{6, 40}
	if _, err := DecodeProc(bad.encode()); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("bad lengths: %v", err)
	}
	if _, err := DecodeProc(baseRec(KindOpen).encode()); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("an event decoded as a process record: %v", err)
	}
	if IsProcRecord(raw[:HeaderSize-1]) {
		t.Error("a short record taken for a process record")
	}
}

func TestWhoJSONAndText(t *testing.T) {
	r := baseRec(KindCreate)
	r.Str[0], r.EUID, r.EGID, r.AUID, r.HasAUID = "/tmp/f", 0, 5, 1000, true
	ev := mustDecode(t, r)
	ev.Seq = 17
	p := &Process{Exe: "/usr/bin/su do", Cmdline: []string{"su", "-c", "a b", ""}}
	ev.Process = p

	var enc JSONEncoder
	line := string(enc.Append(nil, ev))
	for _, want := range []string{
		`"uid":1000,"gid":1000,"euid":0,"egid":5,"auid":1000,"comm":"cat","exe":"/usr/bin/su do","cgroup_id":4242,"cmdline":["su","-c","a b",""],"path":"/tmp/f"`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("first line %s\nwant it to hold %s", line, want)
		}
	}
	if line2 := string(enc.Append(nil, ev)); strings.Contains(line2, "cmdline") {
		t.Errorf("cmdline again on the process's second event: %s", line2)
	}
	// After an exec: a new Process, given again.
	ev.Process = &Process{Exe: "/bin/true", Cmdline: []string{"true"}}
	if line3 := string(enc.Append(nil, ev)); !strings.Contains(line3, `"exe":"/bin/true","cgroup_id":4242,"cmdline":["true"]`) {
		t.Errorf("after exec: %s", line3)
	}
	every := JSONEncoder{Cmdline: CmdlineEvery}
	never := JSONEncoder{Cmdline: CmdlineNever}
	for i := 0; i < 2; i++ {
		if !strings.Contains(string(every.Append(nil, ev)), "cmdline") {
			t.Error("CmdlineEvery left it out")
		}
		if strings.Contains(string(never.Append(nil, ev)), "cmdline") {
			t.Error("CmdlineNever gave it")
		}
	}
	// AppendJSON agrees with the encoder on everything but cmdline's
	// repetition; unset auid and unknown process leave the fields out.
	ev.Process, ev.HasAUID = nil, false
	if l := string(AppendJSON(nil, ev)); strings.Contains(l, "auid") || strings.Contains(l, "exe") || strings.Contains(l, "cmdline") {
		t.Errorf("unknown auid and process: %s", l)
	}

	ev.Process, ev.HasAUID = p, true
	f := TextFormat{Time: TimeNone, Extended: true}
	txt := string(f.Append(nil, ev))
	if want := ` uid=1000 gid=1000 euid=0 egid=5 auid=1000 exe='/usr/bin/su do' cmdline=su -c 'a b' ''` + "\n"; !strings.HasSuffix(txt, want) {
		t.Errorf("text %q\nwant it to end in %q", txt, want)
	}
	if txt2 := string(f.Append(nil, ev)); strings.Contains(txt2, "cmdline") {
		t.Errorf("text: cmdline again: %q", txt2)
	}
	if plain := string((&TextFormat{Time: TimeNone}).Append(nil, ev)); strings.Contains(plain, "euid") {
		t.Errorf("without Extended: %q", plain)
	}
}

// fd and file_id: on the kinds of an open file only, the id as 16 hex
// digits (a JSON string), fd only where the record has one.
func TestFileIdentity(t *testing.T) {
	r := baseRec(KindRead)
	r.Str[0], r.Ret, r.Bytes, r.FD, r.HasFD, r.FileID = "/etc/passwd", 10, 10, 3, true, 0x00ab00cd00ef0012
	ev := mustDecode(t, r)
	if !ev.HasFD || ev.FD != 3 || ev.FileID != 0x00ab00cd00ef0012 {
		t.Fatalf("decoded fd %v/%d, file id %#x", ev.HasFD, ev.FD, ev.FileID)
	}
	if l := string(AppendJSON(nil, ev)); !strings.Contains(l, `"bytes":10,"fd":3,"file_id":"00ab00cd00ef0012"`) {
		t.Errorf("JSON %s", l)
	}
	f := TextFormat{Time: TimeNone, Extended: true}
	if l := string(f.Append(nil, ev)); !strings.Contains(l, " fd=3 file_id=00ab00cd00ef0012") {
		t.Errorf("text %q", l)
	}
	// VFS modes: no fd.
	r.HasFD = false
	if l := string(AppendJSON(nil, mustDecode(t, r))); strings.Contains(l, `"fd"`) || !strings.Contains(l, `"file_id"`) {
		t.Errorf("without an fd: %s", l)
	}
	// Other kinds never carry them, whatever the record's fields hold.
	r.Kind, r.HasFD = KindUnlink, true
	if ev := mustDecode(t, r); ev.HasFD || ev.FileID != 0 {
		t.Errorf("unlink with fd %v, file id %#x", ev.HasFD, ev.FileID)
	}
}

package events

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/fstrace/fstrace/internal/testutil"
)

func TestKindNames(t *testing.T) {
	want := "open create mkdir mknod symlink link unlink rmdir rename setattr mount umount read write close xattr"
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.String())
		if p, err := ParseKind(k.String()); err != nil || p != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, p, err)
		}
	}
	if got := strings.Join(names, " "); got != want {
		t.Errorf("kinds %q, want %q", got, want)
	}
	if s := Kind(0).String(); s != "kind(0)" {
		t.Errorf("Kind(0) = %q", s)
	}
	if _, err := ParseKind("opne"); err == nil || !strings.Contains(err.Error(), `"opne"`) {
		t.Errorf("ParseKind(opne) error = %v", err)
	}
}

func TestParseKindList(t *testing.T) {
	tests := []struct {
		in   string
		want KindMask
		str  string
	}{
		{"open", MaskOf(KindOpen), "open"},
		{"open,create", 1<<KindOpen | 1<<KindCreate, "open,create"},
		{" rename , close", MaskOf(KindRename, KindClose), "rename,close"},
		{"all", AllKinds, "all"},
		{"open,all", AllKinds, "all"},
	}
	for _, tt := range tests {
		m, err := ParseKindList(tt.in)
		if err != nil || m != tt.want || m.String() != tt.str {
			t.Errorf("ParseKindList(%q) = %#x (%s), %v; want %#x (%s)", tt.in, m, m, err, tt.want, tt.str)
		}
	}
	if AllKinds != 0x1fffe || !AllKinds.Has(KindXattr) || AllKinds.Has(0) || AllKinds.Has(kindMax) {
		t.Errorf("AllKinds = %#x", AllKinds)
	}
	for _, bad := range []string{"", "open,", "open,bogus", "OPEN"} {
		_, err := ParseKindList(bad)
		if err == nil || !strings.Contains(err.Error(), "valid: open, create,") || !strings.Contains(err.Error(), "xattr, all)") {
			t.Errorf("ParseKindList(%q) error = %v", bad, err)
		}
	}
	_, err := ParseKindList("open,bogus")
	if want := `unknown event kind "bogus"`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
}

func TestErrorName(t *testing.T) {
	for ret, want := range map[int32]string{0: "", 5: "", -2: "ENOENT", -13: "EACCES", -11: "EAGAIN", -4000: "E4000", -1 << 31: "E2147483648"} {
		e := Event{Ret: ret}
		if got := e.ErrorName(); got != want || e.Failed() != (ret < 0) {
			t.Errorf("Ret %d: ErrorName %q Failed %v, want %q", ret, got, e.Failed(), want)
		}
	}
}

// TestLayoutMatchesBTF compiles bpf/fstrace.h with clang and checks the
// offsets, sizes and enums above against its BTF.
func TestLayoutMatchesBTF(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		testutil.Skip(t, "clang not found (scripts/deps.sh generate installs it)")
	}
	hdr, err := filepath.Abs("../../bpf/fstrace.h")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := `typedef unsigned long long __u64; typedef long long __s64;
typedef unsigned int __u32; typedef int __s32; typedef unsigned short __u16;
#include "` + hdr + `"
enum fst_consts { C_PATH_MAX = FST_PATH_MAX, C_COMM_LEN = FST_COMM_LEN, C_NSTR = FST_NSTR, C_NO_AUID = FST_NO_AUID };
struct fst_record rec; enum fst_kind kind; enum fst_rec_kind rkind; enum fst_rflag rflag; enum fst_attr attr; enum fst_consts consts;
`
	if err := os.WriteFile(filepath.Join(dir, "l.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "l.o")
	if out, err := exec.Command(clang, "-target", "bpf", "-g", "-O2", "-c", filepath.Join(dir, "l.c"), "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	spec, err := btf.LoadSpec(obj)
	if err != nil {
		t.Fatal(err)
	}

	var st *btf.Struct
	if err := spec.TypeByName("fst_record", &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != HeaderSize {
		t.Errorf("sizeof(struct fst_record) = %d, HeaderSize = %d", st.Size, HeaderSize)
	}
	offs := map[string]uint32{
		"ts_ns": offTS, "cpu_seq": offCPUSeq, "cgroup_id": offCgroupID, "ino": offIno,
		"flags": offFlags, "size": offSize, "offset": offOffset, "bytes": offBytes, "bytes2": offBytes2,
		"atime_sec": offAtimeSec, "mtime_sec": offMtimeSec, "atime_nsec": offAtimeNsec, "mtime_nsec": offMtimeNsec,
		"pid": offPID, "tid": offTID, "ppid": offPPID, "uid": offUID, "gid": offGID, "dev": offDev,
		"mode": offMode, "attr_uid": offAttrUID, "attr_gid": offAttrGID, "attr_mask": offAttrMask,
		"ret": offRet, "kind": offKind, "rflags": offRflags, "str_len": offStrLen, "cpu": offCPU,
		"comm": offComm, "mntns": offMntNS, "euid": offEUID, "egid": offEGID, "auid": offAUID, "fd": offFD, "file_id": offFileID,
	}
	for _, m := range st.Members {
		want, ok := offs[m.Name]
		if !ok {
			t.Errorf("member %s has no Go offset", m.Name)
			continue
		}
		delete(offs, m.Name)
		if got := m.Offset.Bytes(); got != want {
			t.Errorf("offsetof(%s) = %d, Go has %d", m.Name, got, want)
		}
	}
	for name := range offs {
		t.Errorf("Go offset for %s, not in the C struct", name)
	}

	enum := func(name string) map[string]uint64 {
		var e *btf.Enum
		if err := spec.TypeByName(name, &e); err != nil {
			t.Fatal(err)
		}
		vals := make(map[string]uint64)
		for _, v := range e.Values {
			vals[v.Name] = v.Value
		}
		return vals
	}
	checkEnum := func(name string, want map[string]uint64) {
		if got := enum(name); !maps.Equal(got, want) {
			t.Errorf("enum %s = %v, Go has %v", name, got, want)
		}
	}
	kinds := map[string]uint64{"FST_KIND_MAX": uint64(kindMax)}
	for _, k := range Kinds() {
		kinds["FST_"+strings.ToUpper(k.String())] = uint64(k)
	}
	checkEnum("fst_kind", kinds)
	checkEnum("fst_rflag", map[string]uint64{"FST_RF_PATH_TRUNC": rfPathTrunc, "FST_RF_PATH2_TRUNC": rfPath2Trunc,
		"FST_RF_HAS_INO": rfHasIno, "FST_RF_HAS_MODE": rfHasMode, "FST_RF_WRITTEN": rfWritten,
		"FST_RF_PATH_UNKNOWN": rfPathUnk, "FST_RF_PATH2_UNKNOWN": rfPath2Unk, "FST_RF_HOST_FILTER": rfHostFilter})
	checkEnum("fst_attr", map[string]uint64{"FST_ATTR_MODE": uint64(AttrMode), "FST_ATTR_UID": uint64(AttrUID),
		"FST_ATTR_GID": uint64(AttrGID), "FST_ATTR_SIZE": uint64(AttrSize), "FST_ATTR_ATIME": uint64(AttrAtime),
		"FST_ATTR_MTIME": uint64(AttrMtime), "FST_ATTR_ATIME_NOW": uint64(AttrAtimeNow), "FST_ATTR_MTIME_NOW": uint64(AttrMtimeNow)})
	checkEnum("fst_rec_kind", map[string]uint64{"FST_REC_CGROUP": recCgroup, "FST_REC_EXEC": recExec, "FST_REC_EXIT": recExit})
	checkEnum("fst_consts", map[string]uint64{"C_PATH_MAX": PathMax, "C_COMM_LEN": CommLen, "C_NSTR": NumStr, "C_NO_AUID": noAUID})
}

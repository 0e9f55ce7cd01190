package events

import (
	"fmt"
	"strconv"
	"strings"
)

// Sizes from bpf/fstrace.h.
const (
	HeaderSize = 200  // sizeof(struct fst_record)
	PathMax    = 4096 // FST_PATH_MAX: longest string a record may carry
	CommLen    = 16   // FST_COMM_LEN
	NumStr     = 5    // FST_NSTR
)

// Offsets of the fields of struct fst_record. The layout is checked against
// the BTF of the C header by TestLayoutMatchesBTF.
const (
	offTS        = 0   // __u64 ts_ns
	offCPUSeq    = 8   // __u64 cpu_seq
	offCgroupID  = 16  // __u64 cgroup_id
	offIno       = 24  // __u64 ino
	offFlags     = 32  // __u64 flags
	offSize      = 40  // __u64 size
	offOffset    = 48  // __u64 offset
	offBytes     = 56  // __u64 bytes
	offBytes2    = 64  // __u64 bytes2
	offAtimeSec  = 72  // __s64 atime_sec
	offMtimeSec  = 80  // __s64 mtime_sec
	offAtimeNsec = 88  // __u32 atime_nsec
	offMtimeNsec = 92  // __u32 mtime_nsec
	offPID       = 96  // __u32 pid
	offTID       = 100 // __u32 tid
	offPPID      = 104 // __u32 ppid
	offUID       = 108 // __u32 uid
	offGID       = 112 // __u32 gid
	offDev       = 116 // __u32 dev
	offMode      = 120 // __u32 mode
	offAttrUID   = 124 // __u32 attr_uid
	offAttrGID   = 128 // __u32 attr_gid
	offAttrMask  = 132 // __u32 attr_mask
	offRet       = 136 // __s32 ret
	offKind      = 140 // __u16 kind
	offRflags    = 142 // __u16 rflags
	offStrLen    = 144 // __u16 str_len[5]
	offCPU       = 154 // __u16 cpu
	offComm      = 156 // char comm[16]
	offMntNS     = 172 // __u32 mntns
	offEUID      = 176 // __u32 euid
	offEGID      = 180 // __u32 egid
	offAUID      = 184 // __u32 auid
	offFD        = 188 // __s32 fd
	offFileID    = 192 // __u64 file_id, up to 200
)

// noAUID is FST_NO_AUID: the login uid is unset (or the kernel has none).
const noAUID = 0xffffffff

// enum fst_rflag.
const (
	rfPathTrunc  = 1 << 0
	rfPath2Trunc = 1 << 1
	rfHasIno     = 1 << 2
	rfHasMode    = 1 << 3
	rfWritten    = 1 << 4
	rfPathUnk    = 1 << 5
	rfPath2Unk   = 1 << 6
	rfHostFilter = 1 << 7
)

// Kinds of records that are not events (enum fst_rec_kind).
const (
	recCgroup = 64 // FST_REC_CGROUP
	recExec   = 65 // FST_REC_EXEC
	recExit   = 66 // FST_REC_EXIT
)

// Kind is the type of a filesystem event (enum fst_kind).
type Kind uint16

// The event kinds. Their String names are the JSON "event" values.
const (
	KindOpen Kind = iota + 1
	KindCreate
	KindMkdir
	KindMknod
	KindSymlink
	KindLink
	KindUnlink
	KindRmdir
	KindRename
	KindSetattr
	KindMount
	KindUmount
	KindRead
	KindWrite
	KindClose
	KindXattr
	kindMax // FST_KIND_MAX
)

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k > 0 && k < kindMax }

func (k Kind) String() string {
	if k.Valid() {
		return kinds[k].name
	}
	return string(appendKind(nil, k))
}

// appendKind appends k.String() without allocating.
func appendKind(dst []byte, k Kind) []byte {
	if k.Valid() {
		return append(dst, kinds[k].name...)
	}
	return append(strconv.AppendUint(append(dst, "kind("...), uint64(k), 10), ')')
}

// Kinds returns all defined kinds in enum order.
func Kinds() []Kind {
	ks := make([]Kind, 0, kindMax-1)
	for k := KindOpen; k < kindMax; k++ {
		ks = append(ks, k)
	}
	return ks
}

// ParseKind returns the kind named s ("open", "rename", ...).
func ParseKind(s string) (Kind, error) {
	for k := KindOpen; k < kindMax; k++ {
		if kinds[k].name == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown event kind %q (valid: %s)", s, kindList())
}

// KindMask is a set of kinds, one bit per kind (1<<kind), the same encoding
// the BPF side can use for filtering.
type KindMask uint32

// AllKinds has every defined kind set.
const AllKinds KindMask = 1<<kindMax - 2

// MaskOf returns the mask with kinds set.
func MaskOf(kinds ...Kind) KindMask {
	var m KindMask
	for _, k := range kinds {
		if k.Valid() {
			m |= 1 << k
		}
	}
	return m
}

// Has reports whether k is in m.
func (m KindMask) Has(k Kind) bool { return k.Valid() && m&(1<<k) != 0 }

// String returns m as a comma list, "all" when every kind is set.
func (m KindMask) String() string {
	if m&AllKinds == AllKinds {
		return "all"
	}
	var names []string
	for k := KindOpen; k < kindMax; k++ {
		if m.Has(k) {
			names = append(names, kinds[k].name)
		}
	}
	return strings.Join(names, ",")
}

// ParseKindList parses a comma-separated list of kind names, such as
// "open,create"; "all" stands for every kind. Blanks around names are
// ignored.
func ParseKindList(s string) (KindMask, error) {
	var m KindMask
	for w := range strings.SplitSeq(s, ",") {
		w = strings.TrimSpace(w)
		if w == "all" {
			m |= AllKinds
			continue
		}
		k, err := ParseKind(w)
		if err != nil {
			return 0, fmt.Errorf("unknown event kind %q (valid: %s, all)", w, kindList())
		}
		m |= 1 << k
	}
	return m, nil
}

// kindList is the kinds' names, comma-separated, for error messages.
func kindList() string {
	names := make([]string, 0, kindMax-1)
	for k := KindOpen; k < kindMax; k++ {
		names = append(names, kinds[k].name)
	}
	return strings.Join(names, ", ")
}

package tracer

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/fstrace/fstrace/internal/testutil"
	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
)

// filterProbe loads only the filter_test program and its maps: the kernel's
// own filter code, run with BPF_PROG_TEST_RUN.
func filterProbe(t *testing.T) *filterProbeState {
	t.Helper()
	testutil.NeedRoot(t, "to load BPF programs")
	spec, err := loadBpf()
	if err != nil {
		t.Fatal(err)
	}
	p, err := assignProgs(spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Programs = map[string]*ebpf.ProgramSpec{p.FilterTest.Name: p.FilterTest}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		testutil.Skip(t, "cannot load a raw_tp program here: %v", err)
	}
	t.Cleanup(func() { coll.Close() })
	o, err := assignObjs(coll)
	if err != nil {
		t.Fatal(err)
	}
	f := &filterState{objs: o, kinds: SupportedKinds, hostMnt: testHostMnt, hostCg: testHostCg}
	return &filterProbeState{f, coll.Programs[p.FilterTest.Name]}
}

// filterProbeState is a filterState with the program that runs its filters.
type filterProbeState struct {
	*filterState
	prog *ebpf.Program
}

const testHostMnt, testHostCg = 4026531841, 4026531835

type fev struct {
	container     string // 64 hex digits, or "" for a host process
	mntns, cgns   uint32
	kind          events.Kind
	pid, uid, gid uint32
	comm          string
	cgroup        uint64
	ret           int32
	path, path2   string
}

func verdict(t *testing.T, f *filterProbeState, e fev) bool {
	t.Helper()
	var comm [16]byte
	copy(comm[:15], e.comm)
	var p1, p2 [256]byte
	copy(p1[:], e.path)
	copy(p2[:], e.path2)
	var id [32]byte
	in := uint32(0)
	if e.container != "" {
		if _, err := hex.Decode(id[:], []byte(e.container)); err != nil {
			t.Fatal(err)
		}
		in = 1
	}
	o := f.objs
	for _, v := range []struct {
		v   *ebpf.Variable
		val any
	}{
		{o.FtContainer, id}, {o.FtInContainer, in}, {o.FtMntns, e.mntns}, {o.FtCgns, e.cgns},
		{o.FtKind, uint32(e.kind)}, {o.FtPid, e.pid}, {o.FtUid, e.uid}, {o.FtGid, e.gid},
		{o.FtRet, e.ret}, {o.FtCgroup, e.cgroup}, {o.FtComm, comm},
		{o.FtPath, p1}, {o.FtPath2, p2},
		{o.FtLen, uint32(min(len(e.path), 255))}, {o.FtLen2, uint32(min(len(e.path2), 255))},
	} {
		if err := v.v.Set(v.val); err != nil {
			t.Fatalf("set %s: %v", v.v, err)
		}
	}
	if _, err := f.prog.Run(&ebpf.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	var out uint32
	if err := o.FtVerdict.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out == 1
}

func TestKernelFilterLogic(t *testing.T) {
	f := filterProbe(t)
	open := events.KindOpen
	unlink := events.KindUnlink
	ev := fev{kind: open, pid: 100, uid: 1000, gid: 1000, comm: "cat", cgroup: 42, path: "/etc/passwd",
		mntns: testHostMnt, cgns: testHostCg}
	const id = "4f7c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
	const id2 = "4f7c1a2b3c4d" + "00000000000000000000000000000000000000000000000000ff"
	ctr := func(id string) fev { e := ev; e.container = id; e.mntns++; return e }
	with := func(mod func(e *fev)) fev { e := ev; mod(&e); return e }
	long := "/etc/" + strings.Repeat("x", 240)

	for _, tc := range []struct {
		name string
		set  filters.Set
		keep []fev
		drop []fev
	}{
		{"empty set keeps all", filters.Set{}, []fev{ev, with(func(e *fev) { e.kind = unlink })}, nil},
		{"pid, OR within", filters.Set{PID: []filters.Rule[uint32]{{Value: 100}, {Value: 101}}},
			[]fev{ev, with(func(e *fev) { e.pid = 101 })}, []fev{with(func(e *fev) { e.pid = 200 })}},
		{"per-entry event mask", filters.Set{PID: []filters.Rule[uint32]{{Value: 100, Events: events.MaskOf(open)}}},
			[]fev{ev}, []fev{with(func(e *fev) { e.kind = unlink })}},
		{"AND across kinds", filters.Set{UID: []filters.Rule[uint32]{{Value: 1000}}, Comm: []filters.Rule[string]{{Value: "cat"}}},
			[]fev{ev}, []fev{with(func(e *fev) { e.comm = "dog" }), with(func(e *fev) { e.uid = 0 })}},
		{"exclude comm", filters.Set{Comm: []filters.Rule[string]{{Value: "sshd", Exclude: true}}},
			[]fev{ev}, []fev{with(func(e *fev) { e.comm = "sshd" })}},
		{"exclude only some kinds", filters.Set{GID: []filters.Rule[uint32]{{Value: 1000, Exclude: true, Events: events.MaskOf(unlink)}}},
			[]fev{ev}, []fev{with(func(e *fev) { e.kind = unlink })}},
		{"cgroup", filters.Set{Cgroup: []filters.Rule[uint64]{{Value: 42}}},
			[]fev{ev}, []fev{with(func(e *fev) { e.cgroup = 43 })}},
		{"path subtree", filters.Set{Path: []filters.Rule[string]{{Value: "/etc"}}},
			[]fev{ev, with(func(e *fev) { e.path = "/etc" }), with(func(e *fev) { e.path = long })},
			[]fev{with(func(e *fev) { e.path = "/etcx/passwd" }), with(func(e *fev) { e.path = "/var/etc" })}},
		{"root path", filters.Set{Path: []filters.Rule[string]{{Value: "/"}}}, []fev{ev}, nil},
		{"exclude inside include", filters.Set{Path: []filters.Rule[string]{{Value: "/etc"}, {Value: "/etc/ssl", Exclude: true}}},
			[]fev{ev}, []fev{with(func(e *fev) { e.path = "/etc/ssl/cert.pem" })}},
		{"rename: either side", filters.Set{Path: []filters.Rule[string]{{Value: "/srv"}}},
			[]fev{with(func(e *fev) { e.kind = events.KindRename; e.path = "/tmp/a"; e.path2 = "/srv/a" })},
			[]fev{with(func(e *fev) { e.kind = events.KindRename; e.path = "/tmp/a"; e.path2 = "/tmp/b" })}},
		{"failed only", filters.Set{Failed: true},
			[]fev{with(func(e *fev) { e.ret = -2 })}, []fev{ev}},
		{"container prefix", filters.Set{Container: []filters.Rule[string]{{Value: id[:12]}}},
			[]fev{ctr(id), ctr(id2)}, []fev{ev, ctr("5" + id[1:])}},
		{"container longer prefix", filters.Set{Container: []filters.Rule[string]{{Value: id[:40]}}},
			[]fev{ctr(id)}, []fev{ev, ctr(id2), ctr(id[:39] + "0" + id[40:])}},
		{"container full id", filters.Set{Container: []filters.Rule[string]{{Value: id}}},
			[]fev{ctr(id)}, []fev{ctr(id[:63] + "0")}},
		{"exclude container", filters.Set{Container: []filters.Rule[string]{{Value: id[:12], Exclude: true}}},
			[]fev{ev, ctr("5" + id[1:])}, []fev{ctr(id), ctr(id2)}},
		{"host only", filters.Set{HostOnly: true},
			[]fev{ev}, []fev{ctr(id), with(func(e *fev) { e.mntns++ }), with(func(e *fev) { e.cgns++ }),
				with(func(e *fev) { e.container = id })}},
		{"containers only", filters.Set{ContainersOnly: true},
			[]fev{ctr(id), with(func(e *fev) { e.mntns++ }), with(func(e *fev) { e.cgns++ }), with(func(e *fev) { e.container = id })},
			[]fev{ev}},
		{"global event mask", filters.Set{Events: events.MaskOf(unlink)},
			[]fev{with(func(e *fev) { e.kind = unlink })}, []fev{ev}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.set(tc.set); err != nil {
				t.Fatal(err)
			}
			for _, e := range tc.keep {
				if !verdict(t, f, e) {
					t.Errorf("dropped %+v", e)
				}
			}
			for _, e := range tc.drop {
				if verdict(t, f, e) {
					t.Errorf("kept %+v", e)
				}
			}
		})
	}
}

// TestFilterMapsPerDimension checks that each dimension of the filters
// table has its kernel map, filter_NAME, for filterState.set to write.
func TestFilterMapsPerDimension(t *testing.T) {
	spec, err := loadBpf()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range filters.Dimensions {
		if spec.Maps["filter_"+d.Name] == nil {
			t.Errorf("dimension %s has no kernel map filter_%s", d.Name, d.Name)
		}
	}
}

// TestKernelDimsMatchFilters: the kernel writer has one entry per
// dimension of the filters table, in its order, each with a DIM_* bit of
// its own.
func TestKernelDimsMatchFilters(t *testing.T) {
	if len(kernelDims) != len(filters.Dimensions) {
		t.Fatalf("%d kernel dimensions, %d in filters.Dimensions", len(kernelDims), len(filters.Dimensions))
	}
	var bits uint32
	for i, d := range filters.Dimensions {
		k := kernelDims[i]
		if k.name != d.Name {
			t.Errorf("kernel dimension %d is %s, filters has %s", i, k.name, d.Name)
		}
		if k.bit == 0 || bits&k.bit != 0 {
			t.Errorf("dimension %s: bit %#x not its own", k.name, k.bit)
		}
		bits |= k.bit
	}
}

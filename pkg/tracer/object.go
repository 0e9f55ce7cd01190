package tracer

import (
	"fmt"
	"maps"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
)

// haveLoop reports whether the kernel has the bpf_loop helper (5.17+).
var haveLoop = sync.OnceValue(func() bool {
	return features.HaveProgramHelper(ebpf.TracePoint, asm.FnLoop) == nil
})

// Two objects are embedded, built from the same sources: one runs the loops
// of the path walk and the name tidying through bpf_loop, so that the
// verifier checks each loop's body once rather than once per iteration (a
// program's load went from some 35 000 verified instructions to a few
// thousand); the other, for kernels before 5.17, has the verifier unroll
// them, as a program holding a bpf_loop callback does not load there at
// all.
//
// The one for this kernel is parsed once per New: parsing its ELF and BTF
// takes a tenth of a second natively and seconds in an emulated guest, and
// the feature probes (modes.go) need it too. It is dropped when New
// returns (releaseObject), so a tracer does not carry it while it runs.
var (
	objMu  sync.Mutex
	object *ebpf.CollectionSpec
)

// objectSpec returns a copy of the BPF object's spec, for one use to edit
// and load.
func objectSpec() (*ebpf.CollectionSpec, error) {
	objMu.Lock()
	defer objMu.Unlock()
	if object == nil {
		load := loadBpf
		if haveLoop() {
			load = loadBpfloop
		}
		spec, err := load()
		if err != nil {
			return nil, fmt.Errorf("load BPF object: %w", err)
		}
		object = spec
	}
	return object.Copy(), nil
}

// releaseObject lets the parsed object go.
func releaseObject() {
	objMu.Lock()
	object = nil
	objMu.Unlock()
}

// objSpecs are the object's maps and variables, by the fields bpf2go made
// of their C names: a renamed one fails the Assign, naming it. Every map
// and variable is kept whichever programs a mode loads.
type objSpecs struct {
	bpfMapSpecs
	bpfVariableSpecs
}

// assignSpecs fills the typed view of spec's maps and variables.
func assignSpecs(spec *ebpf.CollectionSpec) (*objSpecs, error) {
	var s objSpecs
	if err := spec.Assign(&s); err != nil {
		return nil, fmt.Errorf("BPF object: %w", err)
	}
	return &s, nil
}

// objs are the loaded maps and variables, as objSpecs names them.
type objs struct {
	bpfMaps
	bpfVariables
}

// assignObjs fills the typed view of coll's maps and variables. It assigns
// from a shallow copy, as Collection.Assign takes what it assigns out of
// the collection: coll stays their owner, and closes them.
func assignObjs(coll *ebpf.Collection) (*objs, error) {
	view := &ebpf.Collection{Maps: maps.Clone(coll.Maps), Variables: maps.Clone(coll.Variables)}
	var o objs
	if err := view.Assign(&o); err != nil {
		return nil, fmt.Errorf("BPF object: %w", err)
	}
	return &o, nil
}

package tracer

import (
	"fmt"
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

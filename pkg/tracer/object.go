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

// parsedObject is the embedded BPF object for this kernel, parsed once:
// parsing its ELF and BTF takes a tenth of a second natively and seconds
// in an emulated guest, and the probes (modes.go) and New each need it.
//
// Two objects are embedded, built from the same sources: one runs the
// loops of the path walk and the name tidying through bpf_loop, so that
// the verifier checks each loop's body once rather than once per
// iteration (a program's load went from some 35 000 verified instructions
// to a few thousand); the other, for kernels before 5.17, unrolls them in
// the verifier, as a program holding a bpf_loop callback does not load
// there at all.
var parsedObject = sync.OnceValues(func() (*ebpf.CollectionSpec, error) {
	if haveLoop() {
		return loadBpfloop()
	}
	return loadBpf()
})

// objectSpec returns a copy of the BPF object's spec, for one use to edit
// and load.
func objectSpec() (*ebpf.CollectionSpec, error) {
	spec, err := parsedObject()
	if err != nil {
		return nil, fmt.Errorf("load BPF object: %w", err)
	}
	return spec.Copy(), nil
}

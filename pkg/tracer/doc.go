// Package tracer loads fstrace's BPF programs, attaches them to the running
// kernel (its VFS functions, or its syscall tracepoints where the kernel
// allows neither fentry nor kprobes) and delivers the filesystem events
// they report.
//
// Typical use:
//
//	tr, err := tracer.New(tracer.Options{})
//	if err != nil {
//		return err
//	}
//	defer tr.Close()
//	for ev, err := range tr.Events(ctx) { // ends once Close has drained every ring
//		if err != nil {
//			return err // ctx is done
//		}
//		fmt.Println(ev.Kind, ev.Path)
//	}
//
// Read, ReadBatch and Batches are the same stream for a caller that wants
// one event per call, a batch per call or a channel to select on.
//
// Records arrive through one BPF ring buffer per CPU. The tracer reads all of
// them, including those of CPUs that went offline, and delivers events in
// kernel timestamp order: an event is held back for Options.ReorderWindow so
// that a record still in flight on another CPU can be put before it. Each
// event gets a Seq; a gap in Seq is a record the kernel could not write into
// a full ring, also counted in Stats.
//
// Requires Linux 5.10 or later with BTF (CONFIG_DEBUG_INFO_BTF), and root
// or CAP_BPF with CAP_PERFMON. fentry is not required: the hook mode is
// the first the kernel takes of fentry (BPF trampolines), kprobe and
// syscall (tracepoints); see Options.HookMode and Tracer.HookMode.
package tracer

package tracer

// Kernel differences the loader answers, each in one place below (the BPF
// side's are in bpf/lib/compat.h):
//
//	openTargets, nameiTargets  do_filp_open and the namei entry points
//	                           (do_unlinkat...) renamed do_file_open and
//	                           filename_* (7.2)
//	ftruncateHook(s)           do_ftruncate (6.11) took over from
//	                           do_sys_ftruncate
//	posArg3                    vfs_readv/vfs_writev with the loff_t * fourth
//	userNameParam              5.10's namei entry points take user strings
//	                           (user_names)
//	fexitDetachSafe            before 5.12 detaching fexit can crash
//	syscallBackups             faultable syscall tracepoints (6.14) with task
//	                           storage (5.11)
//	syscallTracepoints         per-syscall tracepoints and bpf_task_pt_regs
//	                           (5.15)
//	preemptGuard, btfCast, taskLookup
//	                           kfuncs (6.2, 6.10), probed by loading a program
//	probeFmodeCreated          FMODE_CREATED renumbered (6.10)
//
// Elsewhere: haveLoop (object.go) picks the object for kernels with bpf_loop
// (5.17); failHooks (hooks.go) are optional for fchmodat2 (6.6) and
// setxattrat/removexattrat (6.13).

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// openTargets: do_filp_open, renamed do_file_open on 7.2.
var openTargets = []string{"do_filp_open", "do_file_open"}

// nameiTargets: a namei entry point, do_NAME, renamed filename_NAME on 7.2.
func nameiTargets(name string) []string {
	return []string{"do_" + name, "filename_" + name}
}

// ftruncateHook, ftruncateFdHook: ftruncate(2) reaches do_ftruncate since
// 6.11, with the file; before, do_sys_ftruncate with only the fd. One of
// the two loads.
func ftruncateHook(p *progs) hook {
	return with(exit(p.FtruncateExit, p.KpFtruncateExit, p.KpFtruncateExitArgs),
		hook{targets: []string{"do_ftruncate"}, kinds: kSetattr, optional: true})
}

func ftruncateFdHook(p *progs) hook {
	return with(exit(p.FtruncateFdExit, p.KpFtruncateFdExit, p.KpFtruncateFdExitArgs),
		hook{targets: []string{"do_sys_ftruncate"}, kinds: kSetattr, optional: true, unlessHas: "do_ftruncate"})
}

// posArg3: vfs_readv/vfs_writev as the programs expect them, with the
// loff_t * position fourth (not so in every kernel's build).
func posArg3(p *btf.FuncProto) bool {
	if len(p.Params) < 5 {
		return false
	}
	_, ok := btf.UnderlyingType(p.Params[3].Type).(*btf.Pointer)
	return ok
}

// userNameParam reports whether parameter i of fn is a plain (user) string
// rather than a struct filename *.
func userNameParam(fn *btf.Func, i int) bool {
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok || i >= len(proto.Params) {
		return false
	}
	t := btf.UnderlyingType(proto.Params[i].Type)
	ptr, ok := t.(*btf.Pointer)
	if !ok {
		return false
	}
	target := btf.UnderlyingType(ptr.Target)
	for {
		q, ok := target.(*btf.Const)
		if !ok {
			break
		}
		target = btf.UnderlyingType(q.Type)
	}
	s, ok := target.(*btf.Struct)
	return !ok || s.Name != "filename"
}

// preemptGuard reports whether the kernel lets the programs keep preemption
// off while they run (bpf_preempt_disable, with global functions called
// inside): see FST_GUARDED in bpf/lib/compat.h. Kernels that preempt BPF
// programs otherwise skip runs and share the per-CPU scratch between them.
// Probed once, by loading preempt_probe.
var preemptGuard = sync.OnceValue(func() bool {
	return loads(func(p *progs) *ebpf.ProgramSpec { return p.PreemptProbe })
})

// btfCast reports whether the programs can load kernel memory directly,
// through bpf_rdonly_cast (6.2+), rather than with a helper call per read:
// see btf_cast in bpf/lib/compat.h. Probed once, by loading cast_probe.
var btfCast = sync.OnceValue(func() bool {
	return loads(func(p *progs) *ebpf.ProgramSpec { return p.CastProbe })
})

// taskLookup reports whether the syscall mode's programs can look another
// process up by pid (bpf_task_from_pid, 6.2+, in both their program types),
// to follow a /proc/PID magic link: see task_lookup in bpf/lib/compat.h.
// Probed once, by loading task_probe_btf and task_probe_tp.
var taskLookup = sync.OnceValue(func() bool {
	return loads(func(p *progs) *ebpf.ProgramSpec { return p.TaskProbeBtf }) &&
		loads(func(p *progs) *ebpf.ProgramSpec { return p.TaskProbeTp })
})

// haveTaskStorage reports whether tracing programs can use task storage
// (5.11+), which the syscall mode's backup programs need.
var haveTaskStorage = sync.OnceValue(func() bool {
	return features.HaveMapType(ebpf.TaskStorage) == nil
})

// syscallBackups reports whether the syscall mode attaches backup copies of
// its programs (bpf/syscall.bpf.h): where syscall tracepoints are faultable (their
// probes run preemptible, 6.14+: struct tracepoint_ext has "faultable"),
// and task storage exists. Elsewhere those programs run with preemption
// off and the kernel never skips them for a preempted task.
func syscallBackups(kspec *btf.Spec) bool {
	var ext *btf.Struct
	if kspec.TypeByName("tracepoint_ext", &ext) != nil {
		return false
	}
	for _, m := range ext.Members {
		if m.Name == "faultable" {
			return haveTaskStorage()
		}
	}
	return false
}

// syscallTracepoints returns the tracefs directory of the per-syscall
// tracepoints (events/syscalls) when the syscall mode can use them, or "".
// It needs tracefs mounted and bpf_task_pt_regs (5.15+).
var syscallTracepoints = sync.OnceValue(func() string {
	if features.HaveProgramHelper(ebpf.TracePoint, asm.FnTaskPtRegs) != nil {
		return ""
	}
	for _, d := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		dir := filepath.Join(d, "events/syscalls")
		if _, err := os.Stat(filepath.Join(dir, "sys_exit_openat")); err == nil {
			return dir
		}
	}
	return ""
})

// probeFmodeCreated finds the FMODE_CREATED bit of the running kernel, which
// moved between versions and is not in BTF: it creates a file, opens it again,
// and lets fmode_probe read the f_mode of both. The bit that differs is it.
func probeFmodeCreated(probe *ebpf.Program, o *objs) error {
	dir, err := os.MkdirTemp("", "fstrace-probe")
	if err != nil {
		// A container without a writable /tmp: say what it needs.
		return fmt.Errorf("probe FMODE_CREATED: needs a writable temporary directory (TMPDIR, else /tmp): %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	name := filepath.Join(dir, "f")
	created, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	defer func() { _ = unix.Close(created) }()
	existing, err := unix.Open(name, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	defer func() { _ = unix.Close(existing) }()

	if err := o.ProbeFdCreated.Set(int32(created)); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	if err := o.ProbeFdExisting.Set(int32(existing)); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	if _, err := probe.Run(&ebpf.RunOptions{}); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: run: %w", err)
	}
	var a, b uint32
	if err := o.ProbeFmodeCreated.Get(&a); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	if err := o.ProbeFmodeExisting.Get(&b); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	diff := a &^ b
	if bits.OnesCount32(diff) != 1 {
		// Without it, files an open creates are reported as opens only.
		return nil
	}
	return o.FmodeCreated.Set(diff)
}

var errUnsafeFexit = errors.New("this kernel frees a BPF trampoline while tasks may still sleep in the traced function, so detaching fexit programs can crash it (no struct bpf_tramp_image in its BTF: before 5.12)")

// fexitDetachSafe reports whether the kernel keeps a BPF trampoline alive
// until no task is inside it. Kernels before 5.12 free it at detach even
// while a task sleeps in the traced function and will return into it; the
// fix brought struct bpf_tramp_image, which the BTF shows.
func fexitDetachSafe(kspec *btf.Spec) bool {
	var s *btf.Struct
	return kspec.TypeByName("bpf_tramp_image", &s) == nil
}

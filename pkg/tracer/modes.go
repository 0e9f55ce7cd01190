package tracer

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Hook modes, in the order New tries them.
const (
	// ModeFentry: fentry/fexit programs on VFS functions. Sees every caller
	// (syscalls, io_uring, the kernel itself) with canonical paths. Needs
	// BPF trampolines.
	ModeFentry = "fentry"
	// ModeKprobe: kprobes and kretprobes on the same functions, for kernels
	// with kprobes but without trampolines.
	ModeKprobe = "kprobe"
	// ModeSyscall: the raw syscall tracepoints, for kernels that allow
	// neither (locked-down ones). Sees only what goes through syscalls.
	ModeSyscall = "syscall"
)

// Modes lists the hook modes in the order New tries them.
var Modes = []string{ModeFentry, ModeKprobe, ModeSyscall}

var hookTables = map[string][]hook{
	ModeFentry:  fentryHooks,
	ModeKprobe:  kprobeHooks(fentryHooks),
	ModeSyscall: syscallHooks,
}

// sharedFailReturn hands the fentry table's lookup-failure returns to
// kp_fail_ret, one kretprobe on all of their calls: an fexit program is
// loaded and verified once per call (13 copies of the emit path, some
// 300 000 verified instructions, 5-10 s of a start in the QEMU guests).
// The calls are rare, so a kretprobe's cost per call does not matter.
func sharedFailReturn(table []hook) []hook {
	out := slices.Clone(table)
	for i, h := range out {
		if sysReturn(h.prog) {
			out[i].shared = "kp_fail_ret" // bpf/lookup_fail.bpf.h
		}
	}
	return out
}

// errSharedKprobe: kp_fail_ret did not attach in fentry mode (kprobes
// refused); the mode loads again with its fexit programs.
var errSharedKprobe = errors.New("the shared lookup-failure kretprobe did not attach")

// haveKprobes reports whether kprobes can be made: the perf kprobe PMU
// that cilium/ebpf uses first, or tracefs's kprobe_events.
func haveKprobes() bool {
	for _, p := range []string{"/sys/bus/event_source/devices/kprobe/type", "/sys/kernel/tracing/kprobe_events", "/sys/kernel/debug/tracing/kprobe_events"} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// kprobeHooks is the fentry table in kprobe form: each program kp_NAME
// (lib/hooks.h), and for an exit hook also kp_NAME_args, the kprobe that
// saves the arguments its kretprobe needs.
func kprobeHooks(fentry []hook) []hook {
	var out []hook
	for _, h := range fentry {
		k := h
		k.prog = "kp_" + h.prog
		if sysReturn(h.prog) {
			k.shared = "kp_fail_ret" // bpf/lookup_fail.bpf.h
		}
		out = append(out, k)
		if strings.HasSuffix(h.prog, "_exit") {
			a := k
			a.prog += "_args"
			a.nameArgs = nil
			out = append(out, a)
		}
	}
	return out
}

var modePrograms = map[string]string{
	ModeFentry:  "fentry/fexit programs",
	ModeKprobe:  "kprobe programs",
	ModeSyscall: "syscall tracepoint programs",
}

func modeOrder(m string) ([]string, error) {
	switch m {
	case "", "auto":
		return Modes, nil
	}
	if _, ok := hookTables[m]; ok {
		return []string{m}, nil
	}
	return nil, fmt.Errorf("unknown hook mode %q (want auto, fentry, kprobe or syscall)", m)
}

// preemptGuard reports whether the kernel lets the programs keep preemption
// off while they run (bpf_preempt_disable, with global functions called
// inside): see FST_GUARDED in bpf/lib/common.h. Kernels that preempt BPF
// programs otherwise skip runs and share the per-CPU scratch between them.
// Probed once, by loading preempt_probe.
var preemptGuard = sync.OnceValue(func() bool { return loads("preempt_probe") })

// btfCast reports whether the programs can load kernel memory directly,
// through bpf_rdonly_cast (6.2+), rather than with a helper call per read:
// see btf_cast in bpf/lib/common.h. Probed once, by loading cast_probe.
var btfCast = sync.OnceValue(func() bool { return loads("cast_probe") })

// taskLookup reports whether the syscall mode's programs can look another
// process up by pid (bpf_task_from_pid, 6.2+, in both their program types),
// to follow a /proc/PID magic link: see task_lookup in bpf/lib/path.h.
// Probed once, by loading task_probe_btf and task_probe_tp.
var taskLookup = sync.OnceValue(func() bool { return loads("task_probe_btf") && loads("task_probe_tp") })

// loads reports whether the kernel accepts one program of the object,
// loaded on its own.
func loads(name string) bool {
	spec, err := objectSpec()
	if err != nil {
		return false
	}
	ps := spec.Programs[name]
	if ps == nil {
		return false
	}
	p, err := ebpf.NewProgramWithOptions(ps, ebpf.ProgramOptions{LogDisabled: true})
	if err != nil {
		return false
	}
	p.Close()
	return true
}

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
// It needs tracefs mounted and bpf_task_pt_regs (5.15+), and it is skipped
// when FSTRACE_SYSCALL_HOOKS=raw asks for the raw tracepoints, which cost
// every syscall of the machine a program run but need neither.
var syscallTracepoints = sync.OnceValue(func() string {
	if os.Getenv("FSTRACE_SYSCALL_HOOKS") == "raw" {
		return ""
	}
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

// syscallTable is the syscall mode's hook table on this kernel.
func syscallTable() []hook {
	if syscallTracepoints() != "" {
		return syscallTPHooks
	}
	return syscallHooks
}

// probeFmodeCreated finds the FMODE_CREATED bit of the running kernel, which
// moved between versions and is not in BTF: it creates a file, opens it again,
// and lets fmode_probe read the f_mode of both. The bit that differs is it.
func probeFmodeCreated(coll *ebpf.Collection) error {
	dir, err := os.MkdirTemp("", "fstrace-probe")
	if err != nil {
		// A container without a writable /tmp: say what it needs.
		return fmt.Errorf("probe FMODE_CREATED: needs a writable temporary directory (TMPDIR, else /tmp): %w", err)
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "f")
	created, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	defer unix.Close(created)
	existing, err := unix.Open(name, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	defer unix.Close(existing)

	v := coll.Variables
	if err := v["probe_fd_created"].Set(int32(created)); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	if err := v["probe_fd_existing"].Set(int32(existing)); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	if _, err := coll.Programs["fmode_probe"].Run(&ebpf.RunOptions{}); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: run: %w", err)
	}
	var a, b uint32
	if err := v["probe_fmode_created"].Get(&a); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	if err := v["probe_fmode_existing"].Get(&b); err != nil {
		return fmt.Errorf("probe FMODE_CREATED: %w", err)
	}
	diff := a &^ b
	if bits.OnesCount32(diff) != 1 {
		// Without it, files an open creates are reported as opens only.
		return nil
	}
	return v["fmode_created"].Set(diff)
}

// attachProgram attaches one program the way its type asks; a program on
// the per-syscall tracepoints, to each of the comma-separated targets.
func attachProgram(spec *ebpf.ProgramSpec, prog *ebpf.Program, target string) ([]link.Link, error) {
	var l link.Link
	var err error
	switch {
	case prog.Type() == ebpf.TracePoint:
		var ls []link.Link
		for _, tp := range strings.Split(target, ",") {
			group, name, _ := strings.Cut(tp, ":")
			l, err := link.Tracepoint(group, name, prog, nil)
			if err != nil {
				for _, l := range ls {
					l.Close()
				}
				return nil, fmt.Errorf("%s: %w", tp, err)
			}
			ls = append(ls, l)
		}
		return ls, nil
	case prog.Type() != ebpf.Kprobe:
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
	case strings.HasPrefix(spec.SectionName, "kretprobe"):
		// A shared program (hook.shared) has a target per hook.
		var ls []link.Link
		for _, fn := range strings.Split(target, ",") {
			l, err := link.Kretprobe(fn, prog, nil)
			if err != nil {
				for _, l := range ls {
					l.Close()
				}
				return nil, fmt.Errorf("%s: %w", fn, err)
			}
			ls = append(ls, l)
		}
		return ls, nil
	default:
		l, err = link.Kprobe(target, prog, nil)
	}
	if err != nil {
		return nil, err
	}
	return []link.Link{l}, nil
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

// Warning returns a caution about the chosen hook mode on this kernel, or "".
func (t *Tracer) Warning() string { return t.warning }

package tracer

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// A HookMode is a way of hooking the kernel; its value is the name
// --hook-mode takes and HookMode reports.
type HookMode string

// Hook modes, in the order New tries them.
const (
	// ModeAuto, or the empty mode, tries ModeFentry, ModeKprobe and
	// ModeSyscall in turn and keeps the first the kernel accepts.
	ModeAuto HookMode = "auto"
	// ModeFentry: fentry/fexit programs on VFS functions. Sees every caller
	// (syscalls, io_uring, the kernel itself) with canonical paths. Needs
	// BPF trampolines.
	ModeFentry HookMode = "fentry"
	// ModeKprobe: kprobes and kretprobes on the same functions, for kernels
	// with kprobes but without trampolines.
	ModeKprobe HookMode = "kprobe"
	// ModeSyscall: the raw syscall tracepoints, for kernels that allow
	// neither (locked-down ones). Sees only what goes through syscalls.
	ModeSyscall HookMode = "syscall"
)

// Modes lists the hook modes in the order New tries them.
var Modes = []HookMode{ModeFentry, ModeKprobe, ModeSyscall}

// hookTable is a mode's hook table on this kernel, on p's programs; with
// sharedFail, fentry mode's lookup-failure returns are one kretprobe.
func hookTable(mode HookMode, p *progs, sharedFail, raw bool) []hook {
	switch mode {
	case ModeFentry:
		if sharedFail {
			return sharedFailReturn(fentryHooks(p), p)
		}
		return fentryHooks(p)
	case ModeKprobe:
		return kprobeHooks(fentryHooks(p), p)
	}
	return syscallTable(p, raw)
}

// sharedFailReturn hands the fentry table's lookup-failure returns to
// kp_fail_ret, one kretprobe on all of their calls: an fexit program is
// loaded and verified once per call (13 copies of the emit path, some
// 300 000 verified instructions, 5-10 s of a start in the QEMU guests).
// The calls are rare, so a kretprobe's cost per call does not matter.
func sharedFailReturn(table []hook, p *progs) []hook {
	out := slices.Clone(table)
	for i, h := range out {
		if h.sysRet {
			out[i].shared = p.KpFailRet // bpf/lookup_fail.bpf.h
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

// kprobeHooks is the fentry table in kprobe form: each program's kprobe
// (kp_NAME, lib/hooks.h), and for an exit hook also the kprobe that saves
// the arguments its kretprobe needs (kp_NAME_args).
func kprobeHooks(fentry []hook, p *progs) []hook {
	var out []hook
	for _, h := range fentry {
		k := h
		k.prog, k.kprobe, k.kprobeArgs = h.kprobe, nil, nil
		if h.sysRet {
			k.shared = p.KpFailRet // bpf/lookup_fail.bpf.h
		}
		out = append(out, k)
		if h.kprobeArgs != nil {
			a := k
			a.prog = h.kprobeArgs
			a.nameArgs = nil
			out = append(out, a)
		}
	}
	return out
}

var modePrograms = map[HookMode]string{
	ModeFentry:  "fentry/fexit programs",
	ModeKprobe:  "kprobe programs",
	ModeSyscall: "syscall tracepoint programs",
}

func modeOrder(m HookMode) ([]HookMode, error) {
	switch m {
	case "", ModeAuto:
		return Modes, nil
	}
	if slices.Contains(Modes, m) {
		return []HookMode{m}, nil
	}
	return nil, fmt.Errorf("unknown hook mode %q (want auto, fentry, kprobe or syscall)", m)
}

// loads reports whether the kernel accepts one program of the object,
// loaded on its own.
func loads(pick func(*progs) *ebpf.ProgramSpec) bool {
	spec, err := objectSpec()
	if err != nil {
		return false
	}
	ps, err := assignProgs(spec)
	if err != nil {
		return false
	}
	p, err := ebpf.NewProgramWithOptions(pick(ps), ebpf.ProgramOptions{LogDisabled: true})
	if err != nil {
		return false
	}
	_ = p.Close()
	return true
}

// syscallTable is the syscall mode's hook table on this kernel; raw asks
// for the raw tracepoints (Options.RawSyscallTracepoints).
func syscallTable(p *progs, raw bool) []hook {
	if !raw && syscallTracepoints() != "" {
		return syscallTPHooks(p)
	}
	return syscallHooks(p)
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
					_ = l.Close()
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
					_ = l.Close()
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

// Warning returns a caution about the chosen hook mode on this kernel, or "".
func (t *Tracer) Warning() string { return t.warning }

package tracer

import (
	"errors"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// ModeProbe is the outcome of trying one hook mode.
type ModeProbe struct {
	Mode      HookMode          `json:"mode"`
	Supported bool              `json:"supported"`
	Error     string            `json:"error,omitempty"`
	Warning   string            `json:"warning,omitempty"`
	Hooks     map[string]string `json:"hooks,omitempty"` // program -> kernel function or tracepoint
}

// ProbeReport says what the running kernel offers fstrace.
type ProbeReport struct {
	Kernel     string `json:"kernel"`
	BTF        bool   `json:"btf"`
	RingBuffer bool   `json:"ring_buffer"`
	LSM        bool   `json:"lsm"` // BPF LSM programs load and "bpf" is an active LSM
	// PreemptGuard: the programs can keep preemption off while they run,
	// so a kernel that preempts BPF programs neither skips fstrace's hooks
	// nor mixes two records on one CPU.
	PreemptGuard bool `json:"preempt_guard"`
	// DirectLoads: the programs read kernel memory with plain loads
	// (bpf_rdonly_cast, 6.2+) rather than a helper call per read.
	DirectLoads bool `json:"direct_loads"`
	// Loops: the kernel has bpf_loop (5.17+), and fstrace loads the build
	// of its programs whose loops the verifier checks once, not once per
	// iteration: a start several times quicker.
	Loops bool `json:"bpf_loop"`
	// PidLookup: in syscall mode, a /proc/PID magic link of another
	// process (/proc/PID/fd/N, /proc/PID/cwd) is followed to its file
	// (bpf_task_from_pid, 6.2+, in the syscall mode's program types);
	// without it only the caller's own resolve, others are marked
	// path_unknown.
	PidLookup bool        `json:"pid_lookup"`
	Modes     []ModeProbe `json:"modes"`
	Mode      HookMode    `json:"mode"` // what New would pick; empty when none works
}

// Probe loads and attaches each hook mode's programs in turn, as New would
// with opts, and reports which work. It sets opts' HookMode, Events and
// Follow itself. Requires the same privileges as New.
func Probe(opts Options) (*ProbeReport, error) {
	r := &ProbeReport{}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		r.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	r.BTF = err == nil
	r.RingBuffer = features.HaveMapType(ebpf.RingBuf) == nil
	lsms, _ := os.ReadFile("/sys/kernel/security/lsm")
	r.LSM = features.HaveProgramType(ebpf.LSM) == nil && strings.Contains(","+strings.TrimSpace(string(lsms))+",", ",bpf,")
	if !r.BTF {
		return r, ErrNoBTF
	}
	r.PreemptGuard = preemptGuard()
	r.DirectLoads = btfCast()
	r.Loops = haveLoop()
	r.PidLookup = taskLookup()
	for _, m := range Modes {
		p := ModeProbe{Mode: m}
		opts.HookMode, opts.Events, opts.Follow = m, SupportedKinds, true
		t, err := New(opts)
		switch {
		case err != nil:
			if errors.Is(err, ErrPermission) {
				return r, err
			}
			p.Error = err.Error()
		default:
			p.Supported = true
			p.Hooks = t.Hooks()
			p.Warning = t.Warning()
			_ = t.Close()
			// New skips fentry where detaching fexit is unsafe.
			if r.Mode == "" && p.Warning == "" {
				r.Mode = m
			}
		}
		r.Modes = append(r.Modes, p)
	}
	return r, nil
}

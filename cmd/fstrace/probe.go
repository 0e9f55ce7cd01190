package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/fstrace/fstrace/pkg/tracer"
)

const probeUsage = `Usage: fstrace probe [-o text|json]

Report what the running kernel supports — BTF, ring buffers, fentry,
kprobes, syscall tracepoints, BPF LSM — by loading and attaching each hook
mode's programs, and which mode fstrace would use. Needs root.
`

// probeCmd implements `fstrace probe`.
func probeCmd(args []string, stdout, stderr io.Writer) int {
	format := "text"
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-o", "--output":
			if i+1 >= len(args) {
				diagf(stderr, "fstrace: %s needs a value\n", a)
				return exitUsage
			}
			i++
			format = args[i]
		case "-o=json", "--output=json":
			format = "json"
		case "-o=text", "--output=text":
			format = "text"
		case "-h", "--help":
			return printOut(stdout, stderr, []byte(probeUsage))
		default:
			diagf(stderr, "fstrace: probe: unexpected argument %q (fstrace probe --help)\n", a)
			return exitUsage
		}
	}
	if format != "text" && format != "json" {
		diagf(stderr, "fstrace: invalid --output %q (want text or json)\n", format)
		return exitUsage
	}
	r, err := tracer.Probe(envOptions(tracer.Options{}))
	if err != nil && r == nil {
		diagf(stderr, "fstrace: %v\n", err)
		return exitFailure
	}
	if err != nil {
		diagf(stderr, "fstrace: %v\n", err)
		return exitFailure
	}
	var b bytes.Buffer
	if format == "json" {
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(r) // a buffer's writes do not fail
	} else {
		writeProbe(&b, r)
	}
	if rc := printOut(stdout, stderr, b.Bytes()); rc != exitOK {
		return rc
	}
	if r.Mode == "" {
		return exitFailure
	}
	return exitOK
}

// noPreemptGuard says what "preempt guard no" means for a user.
const noPreemptGuard = "no: fstrace's programs cannot keep preemption off while they run " +
	"(bpf_preempt_disable, Linux 6.10+); harmless where the kernel does not preempt BPF programs " +
	"(voluntary preemption, as Debian's kernels up to 6.12); with full or lazy preemption the kernel " +
	"may skip some of their runs, which fstrace counts and reports at exit"

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeProbe composes the text report in a buffer, whose writes cannot fail.
func writeProbe(w *bytes.Buffer, r *tracer.ProbeReport) {
	fmt.Fprintf(w, "kernel        %s\n", r.Kernel)
	fmt.Fprintf(w, "btf           %s\n", yesNo(r.BTF))
	fmt.Fprintf(w, "ring buffer   %s\n", yesNo(r.RingBuffer))
	fmt.Fprintf(w, "bpf lsm       %s\n", yesNo(r.LSM))
	if r.PreemptGuard {
		fmt.Fprintln(w, "preempt guard yes")
	} else {
		fmt.Fprintln(w, "preempt guard "+noPreemptGuard)
	}
	if r.DirectLoads {
		fmt.Fprintln(w, "direct loads  yes")
	} else {
		fmt.Fprintln(w, "direct loads  no: kernel memory is read with a helper call per read (bpf_rdonly_cast, Linux 6.2+, reads it directly); events cost more")
	}
	if r.Loops {
		fmt.Fprintln(w, "bpf_loop      yes")
	} else {
		fmt.Fprintln(w, "bpf_loop      no: the kernel's verifier checks every iteration of the programs' loops (bpf_loop, Linux 5.17+, checks one); loading them takes several times longer")
	}
	if r.PidLookup {
		fmt.Fprintln(w, "pid lookup    yes")
	} else {
		fmt.Fprintln(w, "pid lookup    no: in syscall mode a /proc/PID magic link of another process (/proc/PID/fd/N, /proc/PID/cwd) is reported as passed and marked path_unknown (bpf_task_from_pid, Linux 6.2+, follows it)")
	}
	for _, m := range r.Modes {
		if m.Supported && m.Warning != "" {
			fmt.Fprintf(w, "%-13s yes, but not chosen: %s\n", m.Mode, m.Warning)
		} else if m.Supported {
			fmt.Fprintf(w, "%-13s yes\n", m.Mode)
		} else {
			fmt.Fprintf(w, "%-13s no: %s\n", m.Mode, m.Error)
		}
	}
	if r.Mode == "" {
		fmt.Fprintln(w, "mode          none: fstrace cannot trace on this kernel")
		return
	}
	fmt.Fprintf(w, "mode          %s\n", r.Mode)
	for _, m := range r.Modes {
		if m.Mode != r.Mode {
			continue
		}
		fmt.Fprintf(w, "hooks (%s):\n", m.Mode)
		names := make([]string, 0, len(m.Hooks))
		for p := range m.Hooks {
			names = append(names, p)
		}
		sort.Strings(names)
		for _, p := range names {
			fmt.Fprintf(w, "  %-20s %s\n", p, m.Hooks[p])
		}
	}
}

package tracer

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// What fstrace needs, by capability:
//   - CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): to load and attach the
//     programs, always; in kprobe and syscall modes, CAP_SYS_ADMIN where
//     kernel.perf_event_paranoid is 3 (Debian's), for their perf events;
//   - CAP_SYS_RESOURCE: before 5.11, where BPF maps count against
//     RLIMIT_MEMLOCK, to lift that limit;
//   - CAP_DAC_READ_SEARCH: in syscall mode, to read the ids of the
//     per-syscall tracepoints, which tracefs keeps root's; without it the
//     raw syscall tracepoints are used, which cost every syscall a run.
// Once attached, only CAP_BPF is still needed: before 6.5 the kernel asks
// for it on every bpf(2) call while unprivileged BPF is disabled (Debian's
// default), and SetFilter, Follow and Stats make such calls.

// capNames names the capabilities fstrace may ask for.
var capNames = map[int]string{
	unix.CAP_BPF:             "CAP_BPF",
	unix.CAP_PERFMON:         "CAP_PERFMON",
	unix.CAP_SYS_ADMIN:       "CAP_SYS_ADMIN",
	unix.CAP_SYS_RESOURCE:    "CAP_SYS_RESOURCE",
	unix.CAP_DAC_READ_SEARCH: "CAP_DAC_READ_SEARCH",
}

// capSets are the process's capability sets, as capget(2) returns them.
type capSets [2]unix.CapUserData

func currentCaps() (capSets, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var c capSets
	err := unix.Capget(&hdr, &c[0])
	return c, err
}

func (c *capSets) effective(n int) bool { return c[n/32].Effective&(1<<(n%32)) != 0 }
func (c *capSets) permitted(n int) bool { return c[n/32].Permitted&(1<<(n%32)) != 0 }

// missingCaps names what the process lacks to load and attach programs,
// or returns "" when it has it.
func missingCaps() string {
	c, err := currentCaps()
	if err != nil || c.effective(unix.CAP_SYS_ADMIN) {
		return ""
	}
	var miss []string
	for _, n := range []int{unix.CAP_BPF, unix.CAP_PERFMON} {
		if !c.effective(n) {
			miss = append(miss, capNames[n])
		}
	}
	return strings.Join(miss, " and ")
}

// permissionError is ErrPermission naming what is missing.
func permissionError(missing string) error {
	return fmt.Errorf("%w (missing %s)", ErrPermission, missing)
}

// ErrCapsKept is returned by DropCapabilities where it cannot reach every
// thread of the process: a program linked with cgo (build it with
// CGO_ENABLED=0).
var ErrCapsKept = errors.New("capabilities kept: a program linked with cgo cannot drop them from all its threads (build it with CGO_ENABLED=0)")

// DropCapabilities drops every capability a running Tracer no longer
// needs, from every thread of the process and from all of its sets
// (effective, permitted, inheritable, ambient and bounding): all but
// CAP_BPF (or CAP_SYS_ADMIN, where that is what the process traced with),
// which the kernel asks for on every bpf(2) call before 6.5, and those in
// keep (unix.CAP_* numbers) that the process holds. Call it once the
// tracers the process needs are running, and any command it launches has
// started: nothing can gain the capabilities back, so a later New fails.
// Options.DropCapabilities calls it at the end of New.
func DropCapabilities(keep ...int) error {
	c, err := currentCaps()
	if err != nil {
		return fmt.Errorf("drop capabilities: %w", os.NewSyscallError("capget", err))
	}
	var next capSets
	kept := func(n int) bool { return next[n/32].Permitted&(1<<(n%32)) != 0 }
	for _, n := range append([]int{unix.CAP_BPF}, keep...) {
		if n >= 0 && n < 64 && c.permitted(n) {
			next[n/32].Effective |= 1 << (n % 32)
			next[n/32].Permitted |= 1 << (n % 32)
		}
	}
	if !c.permitted(unix.CAP_BPF) && c.permitted(unix.CAP_SYS_ADMIN) {
		next[unix.CAP_SYS_ADMIN/32].Effective |= 1 << (unix.CAP_SYS_ADMIN % 32)
		next[unix.CAP_SYS_ADMIN/32].Permitted |= 1 << (unix.CAP_SYS_ADMIN % 32)
	}
	call := func(trap, a1, a2 uintptr) syscall.Errno {
		_, _, e := syscall.AllThreadsSyscall(trap, a1, a2, 0)
		return e
	}
	if e := call(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL); e != 0 {
		if e == syscall.ENOTSUP {
			return ErrCapsKept
		}
		return fmt.Errorf("drop capabilities: clear the ambient set: %w", e)
	}
	// The bounding set, while CAP_SETPCAP is still there to allow it.
	if c.effective(unix.CAP_SETPCAP) {
		for n := 0; n <= lastCap(); n++ {
			if kept(n) {
				continue
			}
			if e := call(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(n)); e != 0 && e != syscall.EINVAL {
				return fmt.Errorf("drop capabilities: bounding set: %w", e)
			}
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if e := call(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&next[0]))); e != 0 {
		return fmt.Errorf("drop capabilities: %w", os.NewSyscallError("capset", e))
	}
	return nil
}

// lastCap is the highest capability this kernel knows.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if n, err2 := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && err2 == nil {
		return n
	}
	return 63
}

// perfNeedsAdmin reports whether opening a perf event (a kprobe or a
// tracepoint) takes CAP_SYS_ADMIN here and the process lacks it: Debian's
// kernels add perf_event_paranoid level 3 (their default), which admits
// CAP_SYS_ADMIN only, not CAP_PERFMON.
func perfNeedsAdmin() bool {
	c, err := currentCaps()
	if err != nil || c.effective(unix.CAP_SYS_ADMIN) {
		return false
	}
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	n, err2 := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && err2 == nil && n > 2
}

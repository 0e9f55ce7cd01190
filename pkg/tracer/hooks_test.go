package tracer

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/fstrace/fstrace/pkg/events"
)

// plan against this machine's kernel BTF: every hook of the default kinds
// finds a target, and unselected kinds' programs are dropped.
func TestPlanHostKernel(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("no kernel BTF on this machine")
	}
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := loadBpf()
	if err != nil {
		t.Fatal(err)
	}
	attach, userNames, err := plan(spec, kspec, fentryHooks, DefaultKinds, false)
	if err != nil {
		t.Fatal(err)
	}
	if userNames != 0 {
		t.Errorf("user_names = %#x on a kernel whose namei entry points take struct filename", userNames)
	}
	for _, want := range []string{"open_exit", "unlink_enter", "rename_path", "chmod_exit", "mount_exit", "umount_enter"} {
		if attach[want] == "" {
			t.Errorf("%s not attached; plan: %v", want, attach)
		}
	}
	if attach["follow_fork"] != "" {
		t.Error("follow programs planned without Follow")
	}
	if attach["fail_chmod_enter"] != "__x64_sys_chmod" || attach["fail_umount_ret"] != "__x64_sys_umount" {
		t.Errorf("lookup-failure hooks not planned: %v", attach)
	}
	// xattr is a default kind: its six calls (setxattrat and removexattrat
	// too on this 6.18 kernel) are hooked at their entry points.
	for _, c := range []string{"setxattr", "lsetxattr", "fsetxattr", "setxattrat", "removexattr", "lremovexattr", "fremovexattr", "removexattrat"} {
		if attach["xattr_"+c+"_enter"] != "__x64_sys_"+c || attach["xattr_"+c+"_ret"] != "__x64_sys_"+c {
			t.Errorf("xattr hooks of %s not planned: %v", c, attach)
		}
	}
	// kprobe mode loads one return program for all of them.
	kp, _ := loadBpf()
	kattach, _, err := plan(kp, kspec, kprobeHooks(fentryHooks), DefaultKinds, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(kattach["kp_fail_ret"], ","); !slices.Contains(got, "__x64_sys_chmod") || !slices.Contains(got, "__x64_sys_umount") || !slices.Contains(got, "__x64_sys_fsetxattr") || len(got) < 20 {
		t.Errorf("kp_fail_ret attached to %q", got)
	}
	if _, ok := kp.Programs["kp_xattr_setxattr_ret"]; ok || kattach["kp_xattr_setxattr_enter"] != "__x64_sys_setxattr" {
		t.Errorf("kprobe xattr hooks: %v", kattach)
	}
	if _, ok := kp.Programs["kp_fail_chmod_ret"]; ok || kattach["kp_fail_chmod_enter"] != "__x64_sys_chmod" {
		t.Errorf("kprobe lookup-failure hooks: %v", kattach)
	}
	// Fentry mode hands its fexit returns to the same kretprobe, where
	// kprobes can be made, and keeps the fentry entries.
	fp, _ := loadBpf()
	fattach, _, err := plan(fp, kspec, sharedFailReturn(fentryHooks), DefaultKinds, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(fattach["kp_fail_ret"], ","); !slices.Contains(got, "__x64_sys_utimensat") || len(got) < 12 {
		t.Errorf("fentry: kp_fail_ret attached to %q", got)
	}
	if _, ok := fp.Programs["xattr_removexattr_ret"]; ok || !strings.Contains(fattach["kp_fail_ret"], "__x64_sys_removexattr") {
		t.Errorf("fentry xattr returns not shared: %v", fattach)
	}
	if _, ok := fp.Programs["fail_chmod_ret"]; ok || fattach["fail_chmod_enter"] != "__x64_sys_chmod" {
		t.Errorf("fentry lookup-failure hooks: %v", fattach)
	}
	if slices.ContainsFunc(fentryHooks, func(h hook) bool { return h.shared != "" }) {
		t.Error("sharedFailReturn changed the fentry table itself")
	}
	// do_ftruncate exists here, so the fd-based variant must not be loaded
	// too (it would report ftruncate twice).
	if attach["ftruncate_exit"] != "" && attach["ftruncate_fd_exit"] != "" {
		t.Error("both ftruncate hooks planned")
	}

	spec, _ = loadBpf()
	attach, _, err = plan(spec, kspec, fentryHooks, events.MaskOf(events.KindUnlink), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := spec.Programs["open_exit"]; ok || attach["open_exit"] != "" {
		t.Error("open_exit kept when only unlink is traced")
	}
	if attach["unlink_path"] != "security_path_unlink" || attach["follow_fork"] != "sched_process_fork" {
		t.Errorf("plan for unlink+follow: %v", attach)
	}
}

// The per-syscall tracepoints a kind set attaches to: those of its
// syscalls that the kernel has, and no others.
func TestTracepointTargets(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"sys_exit_openat", "sys_exit_open", "sys_exit_unlinkat", "sys_exit_mkdir", "sys_exit_read", "sys_enter_close", "sys_exit_setxattr", "sys_exit_fremovexattr"} {
		if err := os.Mkdir(dir+"/"+n, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		phase string
		calls []sysCall
		kinds events.KindMask
		want  string
	}{
		{"exit", sysExitCalls, events.MaskOf(events.KindMkdir), "syscalls:sys_exit_mkdir"},
		{"exit", sysExitCalls, events.MaskOf(events.KindRmdir), "syscalls:sys_exit_unlinkat"},
		// creat, openat2 and the rest are missing from this "kernel"
		{"exit", sysExitCalls, events.MaskOf(events.KindCreate), "syscalls:sys_exit_open,syscalls:sys_exit_openat"},
		// a new open file resets read/write counts: opens go with reads
		{"exit", sysExitCalls, events.MaskOf(events.KindRead), "syscalls:sys_exit_open,syscalls:sys_exit_openat,syscalls:sys_exit_read"},
		{"exit", sysExitCalls, events.MaskOf(events.KindMount), ""},
		// setxattrat and the rest are missing (before 6.13)
		{"exit", sysExitCalls, events.MaskOf(events.KindXattr), "syscalls:sys_exit_setxattr,syscalls:sys_exit_fremovexattr"},
		{"enter", sysEnterCalls, events.MaskOf(events.KindClose), "syscalls:sys_enter_close"},
		{"enter", sysEnterCalls, events.MaskOf(events.KindOpen), ""},
	} {
		if got := tracepointTargets(dir, c.phase, c.calls, c.kinds); got != c.want {
			t.Errorf("%s %v: got %q, want %q", c.phase, c.kinds, got, c.want)
		}
	}
}

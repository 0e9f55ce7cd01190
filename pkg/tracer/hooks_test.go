package tracer

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/fstrace/fstrace/internal/testutil"
	"github.com/fstrace/fstrace/pkg/events"
)

// planned loads a fresh spec and plans the table that table builds on it.
func planned(t *testing.T, kspec *btf.Spec, table func(*progs) []hook, kinds events.KindMask, follow bool) (*ebpf.CollectionSpec, *progs, map[string]string, uint32) {
	t.Helper()
	spec, err := loadBpf()
	if err != nil {
		t.Fatal(err)
	}
	p, err := assignProgs(spec)
	if err != nil {
		t.Fatal(err)
	}
	attach, userNames, err := plan(spec, p, kspec, table(p), kinds, follow, nil)
	if err != nil {
		t.Fatal(err)
	}
	return spec, p, attach, userNames
}

// plan against this machine's kernel BTF: every hook of the default kinds
// finds a target, and unselected kinds' programs are dropped.
func TestPlanHostKernel(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		testutil.Skip(t, "no kernel BTF on this machine")
	}
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	_, p, attach, userNames := planned(t, kspec, fentryHooks, DefaultKinds, false)
	if userNames != 0 {
		t.Errorf("user_names = %#x on a kernel whose namei entry points take struct filename", userNames)
	}
	for _, want := range []*ebpf.ProgramSpec{p.OpenExit, p.UnlinkEnter, p.RenamePath, p.ChmodExit, p.MountExit, p.UmountEnter} {
		if attach[want.Name] == "" {
			t.Errorf("%s not attached; plan: %v", want.Name, attach)
		}
	}
	if attach[p.FollowFork.Name] != "" {
		t.Error("follow programs planned without Follow")
	}
	if attach[p.FailChmodEnter.Name] != "__x64_sys_chmod" || attach[p.FailUmountRet.Name] != "__x64_sys_umount" {
		t.Errorf("lookup-failure hooks not planned: %v", attach)
	}
	// xattr is a default kind: its six calls (setxattrat and removexattrat
	// too on this 6.18 kernel) are hooked at their entry points.
	for _, c := range []struct {
		call       string
		enter, ret *ebpf.ProgramSpec
	}{
		{"setxattr", p.XattrSetxattrEnter, p.XattrSetxattrRet}, {"lsetxattr", p.XattrLsetxattrEnter, p.XattrLsetxattrRet},
		{"fsetxattr", p.XattrFsetxattrEnter, p.XattrFsetxattrRet}, {"setxattrat", p.XattrSetxattratEnter, p.XattrSetxattratRet},
		{"removexattr", p.XattrRemovexattrEnter, p.XattrRemovexattrRet}, {"lremovexattr", p.XattrLremovexattrEnter, p.XattrLremovexattrRet},
		{"fremovexattr", p.XattrFremovexattrEnter, p.XattrFremovexattrRet}, {"removexattrat", p.XattrRemovexattratEnter, p.XattrRemovexattratRet},
	} {
		if attach[c.enter.Name] != "__x64_sys_"+c.call || attach[c.ret.Name] != "__x64_sys_"+c.call {
			t.Errorf("xattr hooks of %s not planned: %v", c.call, attach)
		}
	}
	// kprobe mode loads one return program for all of them.
	kprobe := func(p *progs) []hook { return kprobeHooks(fentryHooks(p), p) }
	_, kp, kattach, _ := planned(t, kspec, kprobe, DefaultKinds, false)
	if got := strings.Split(kattach[kp.KpFailRet.Name], ","); !slices.Contains(got, "__x64_sys_chmod") || !slices.Contains(got, "__x64_sys_umount") || !slices.Contains(got, "__x64_sys_fsetxattr") || len(got) < 20 {
		t.Errorf("kp_fail_ret attached to %q", got)
	}
	if kattach[kp.KpXattrSetxattrEnter.Name] != "__x64_sys_setxattr" {
		t.Errorf("kprobe xattr hooks: %v", kattach)
	}
	if kattach[kp.KpFailChmodEnter.Name] != "__x64_sys_chmod" {
		t.Errorf("kprobe lookup-failure hooks: %v", kattach)
	}
	if kattach[kp.ChmodExit.Name] != "" || kattach[kp.KpChmodExitArgs.Name] != "chmod_common" {
		t.Errorf("kprobe mode plans the fentry programs, or not the kprobes': %v", kattach)
	}
	// Fentry mode hands its fexit returns to the same kretprobe, where
	// kprobes can be made, and keeps the fentry entries.
	shared := func(p *progs) []hook { return sharedFailReturn(fentryHooks(p), p) }
	fspec, fp, fattach, _ := planned(t, kspec, shared, DefaultKinds, false)
	if got := strings.Split(fattach[fp.KpFailRet.Name], ","); !slices.Contains(got, "__x64_sys_utimensat") || len(got) < 12 {
		t.Errorf("fentry: kp_fail_ret attached to %q", got)
	}
	if _, ok := fspec.Programs[fp.XattrRemovexattrRet.Name]; ok || !strings.Contains(fattach[fp.KpFailRet.Name], "__x64_sys_removexattr") {
		t.Errorf("fentry xattr returns not shared: %v", fattach)
	}
	if _, ok := fspec.Programs[fp.FailChmodRet.Name]; ok || fattach[fp.FailChmodEnter.Name] != "__x64_sys_chmod" {
		t.Errorf("fentry lookup-failure hooks: %v", fattach)
	}
	table := fentryHooks(fp)
	sharedFailReturn(table, fp)
	if slices.ContainsFunc(table, func(h hook) bool { return h.shared != nil }) {
		t.Error("sharedFailReturn changed the fentry table itself")
	}
	// do_ftruncate exists here, so the fd-based variant must not be loaded
	// too (it would report ftruncate twice).
	if attach[p.FtruncateExit.Name] != "" && attach[p.FtruncateFdExit.Name] != "" {
		t.Error("both ftruncate hooks planned")
	}

	spec, p, attach, _ := planned(t, kspec, fentryHooks, events.MaskOf(events.KindUnlink), true)
	if _, ok := spec.Programs[p.OpenExit.Name]; ok || attach[p.OpenExit.Name] != "" {
		t.Error("open_exit kept when only unlink is traced")
	}
	if attach[p.UnlinkPath.Name] != "security_path_unlink" || attach[p.FollowFork.Name] != "sched_process_fork" {
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

package tracer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/fstrace/fstrace/pkg/events"
)

// A hook is one BPF program and where it may attach. Targets are tried in
// order against the running kernel's BTF; the namei entry points were
// renamed on 7.2 (do_unlinkat became filename_unlinkat, ...).
type hook struct {
	prog    string
	targets []string
	kinds   []events.Kind
	// namei: the user_names bit for a namei entry point, and which of its
	// parameters are names (struct filename *, or on 5.10 user strings).
	namei      uint32
	nameArgs   []int
	optional   bool // the kernel may lack it (a sibling hook covers the case)
	follow     bool // needed only to follow a command
	tracepoint bool // targets name a tracepoint, not a kernel function
	// calls: a program on the per-syscall tracepoints, attached to those
	// of the calls that can make a traced kind.
	calls     []sysCall
	backup    bool // a backup copy, attached only where syscallBackups says
	unlessHas string
	// shared: the program that is loaded for this hook, once for every
	// hook that names it, and attached to each of their targets.
	shared string
	// check, when set, vets the target's signature; a target that fails
	// it counts as missing.
	check func(*btf.FuncProto) bool
}

// NAMEI_* in bpf/lib/compat.h.
const (
	nameiUnlink = 1 << iota
	nameiRmdir
	nameiMkdir
	nameiMknod
	nameiSymlink
	nameiLink
	nameiRename
)

var (
	kOpen    = []events.Kind{events.KindOpen, events.KindCreate}
	kMknod   = []events.Kind{events.KindCreate, events.KindMknod}
	kSetattr = []events.Kind{events.KindSetattr}
	kXattr   = []events.Kind{events.KindXattr}
	// Reads and writes are counted for close too.
	kRW = []events.Kind{events.KindRead, events.KindWrite, events.KindClose}
)

func namei(prog string, bit uint32, args []int, kinds []events.Kind, name string) hook {
	return hook{prog: prog, targets: nameiTargets(name), kinds: kinds, namei: bit, nameArgs: args}
}

// failHooks: the programs on syscalls' own entry points that see the
// failures in path lookup of setattr, mount and umount calls, which never
// reach the VFS hooks (FST_SYS_FAIL in bpf/lookup_fail.bpf.h): an entry and a return
// program for each. Optional: fchmodat2 is 6.6+. The xattr calls are
// reported from the same programs (xattr_*) whatever their result: no VFS
// function of theirs holds both the name and a mount (bpf/lookup_fail.bpf.h);
// setxattrat and removexattrat are 6.13+.
func failHooks() []hook {
	var out []hook
	for _, sc := range []struct {
		name  string
		kinds []events.Kind
	}{
		{"chmod", kSetattr}, {"fchmodat", kSetattr}, {"fchmodat2", kSetattr},
		{"chown", kSetattr}, {"lchown", kSetattr}, {"fchownat", kSetattr},
		{"truncate", kSetattr}, {"utime", kSetattr}, {"utimes", kSetattr},
		{"futimesat", kSetattr}, {"utimensat", kSetattr},
		{"mount", []events.Kind{events.KindMount}}, {"umount", []events.Kind{events.KindUmount}},
		{"setxattr", kXattr}, {"lsetxattr", kXattr}, {"fsetxattr", kXattr}, {"setxattrat", kXattr},
		{"removexattr", kXattr}, {"lremovexattr", kXattr}, {"fremovexattr", kXattr}, {"removexattrat", kXattr},
	} {
		prefix := "fail_"
		if slices.Equal(sc.kinds, kXattr) {
			prefix = "xattr_"
		}
		for _, p := range []string{"_enter", "_ret"} {
			out = append(out, hook{prog: prefix + sc.name + p, targets: []string{"__x64_sys_" + sc.name}, kinds: sc.kinds, optional: true})
		}
	}
	return out
}

// sysReturn reports whether prog is one of failHooks' return programs,
// which kprobe mode (and fentry mode where kprobes exist) replaces by the
// one kretprobe kp_fail_ret.
func sysReturn(prog string) bool {
	return (strings.HasPrefix(prog, "fail_") || strings.HasPrefix(prog, "xattr_")) && strings.HasSuffix(prog, "_ret")
}

func one(prog, target string, kinds ...events.Kind) hook {
	return hook{prog: prog, targets: []string{target}, kinds: kinds}
}

// followHooks track a followed command's process tree, and tell user
// space which program each process runs (bpf/process.bpf.h), in every mode.
var followHooks = []hook{
	{prog: "follow_fork", targets: []string{"sched_process_fork"}, follow: true},
	{prog: "proc_exec", targets: []string{"sched_process_exec"}, kinds: events.Kinds(), tracepoint: true},
	{prog: "proc_exit", targets: []string{"sched_process_exit"}, kinds: events.Kinds(), tracepoint: true},
}

// syscallHooks: the raw syscall tracepoints see every kind, at the
// syscall's exit; the entry is needed only for close. Where those
// tracepoints are faultable, sys_exit has a backup copy attached after it,
// which takes the hits the kernel skipped the first for (bpf/syscall.bpf.h).
var syscallHooks = []hook{
	{prog: "sys_enter", targets: []string{"sys_enter"}, kinds: []events.Kind{events.KindClose, events.KindRead, events.KindWrite}, tracepoint: true},
	{prog: "sys_exit", targets: []string{"sys_exit"}, kinds: events.Kinds(), tracepoint: true},
	{prog: "sys_exit_backup", targets: []string{"sys_exit"}, kinds: events.Kinds(), tracepoint: true, backup: true},
}

// syscallTPHooks: the syscall mode on the per-syscall tracepoints, where
// the kernel has them (syscallTracepoints): the same two programs, each
// attached to just the syscalls of the traced kinds (bpf/syscall.bpf.h).
var syscallTPHooks = []hook{
	{prog: "sys_enter_tp", kinds: kRW, calls: sysEnterCalls},
	{prog: "sys_exit_tp", kinds: events.Kinds(), calls: sysExitCalls},
}

// A sysCall is a syscall as tracefs names it (syscalls/sys_exit_NAME) and
// the event kinds it can make.
type sysCall struct {
	name  string
	kinds []events.Kind
}

var (
	kMkdir   = []events.Kind{events.KindMkdir}
	kSymlink = []events.Kind{events.KindSymlink}
	kLink    = []events.Kind{events.KindLink}
	kUnlink  = []events.Kind{events.KindUnlink}
	kRmdir   = []events.Kind{events.KindRmdir}
	kRename  = []events.Kind{events.KindRename}
	kMount   = []events.Kind{events.KindMount}
	kUmount  = []events.Kind{events.KindUmount}
	// A new open file also resets the read/write counts kept under its
	// address (sys_rw).
	kOpenRW = append(kOpen[:len(kOpen):len(kOpen)], kRW...)
)

// sysExitCalls: the syscalls sys_exit_tp sees, as sys_shape
// (bpf/sys.bpf.h) and sys_rw (bpf/syscall.bpf.h) handle them (sendfile is
// sendfile64 to tracefs).
var sysExitCalls = []sysCall{
	{"open", kOpenRW}, {"creat", kOpenRW}, {"openat", kOpenRW}, {"openat2", kOpenRW},
	{"mkdir", kMkdir}, {"mkdirat", kMkdir}, {"mknod", kMknod}, {"mknodat", kMknod},
	{"symlink", kSymlink}, {"symlinkat", kSymlink}, {"link", kLink}, {"linkat", kLink},
	{"unlink", kUnlink}, {"unlinkat", append(kUnlink[:1:1], events.KindRmdir)}, {"rmdir", kRmdir},
	{"rename", kRename}, {"renameat", kRename}, {"renameat2", kRename},
	{"chmod", kSetattr}, {"fchmod", kSetattr}, {"fchmodat", kSetattr}, {"fchmodat2", kSetattr},
	{"chown", kSetattr}, {"fchown", kSetattr}, {"lchown", kSetattr}, {"fchownat", kSetattr},
	{"truncate", kSetattr}, {"ftruncate", kSetattr},
	{"utime", kSetattr}, {"utimes", kSetattr}, {"futimesat", kSetattr}, {"utimensat", kSetattr},
	{"mount", kMount}, {"move_mount", kMount}, {"umount", kUmount},
	{"setxattr", kXattr}, {"lsetxattr", kXattr}, {"fsetxattr", kXattr}, {"setxattrat", kXattr},
	{"removexattr", kXattr}, {"lremovexattr", kXattr}, {"fremovexattr", kXattr}, {"removexattrat", kXattr},
	{"read", kRW}, {"readv", kRW}, {"pread64", kRW}, {"preadv", kRW}, {"preadv2", kRW},
	{"write", kRW}, {"writev", kRW}, {"pwrite64", kRW}, {"pwritev", kRW}, {"pwritev2", kRW},
	{"sendfile64", kRW}, {"copy_file_range", kRW},
}

// sysEnterCalls: close(2), and dup2/dup3 onto an open fd, release a file
// while the fd still names it: sys_enter_tp sees them at entry.
var sysEnterCalls = []sysCall{{"close", kRW}, {"dup2", kRW}, {"dup3", kRW}}

// tracepointTargets lists the tracepoints (syscalls:sys_PHASE_NAME) of the
// calls that can make one of kinds and that this kernel has, comma-separated.
func tracepointTargets(dir, phase string, calls []sysCall, kinds events.KindMask) string {
	var out []string
	for _, c := range calls {
		if !slices.ContainsFunc(c.kinds, kinds.Has) {
			continue
		}
		name := "sys_" + phase + "_" + c.name
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			continue // a syscall this kernel lacks (fchmodat2 before 6.6)
		}
		out = append(out, "syscalls:"+name)
	}
	return strings.Join(out, ",")
}

// backupPairs: each backup program, its primary, and its slot in the
// sys_recovered counters.
var backupPairs = []struct {
	primary, backup string
	slot            uint32
}{{"sys_exit", "sys_exit_backup", 1}}

var fentryHooks = append(vfsHooks, failHooks()...)

var vfsHooks = []hook{
	{prog: "open_exit", targets: openTargets, kinds: kOpen},

	namei("mkdir_enter", nameiMkdir, []int{1}, []events.Kind{events.KindMkdir}, "mkdirat"),
	one("mkdir_path", "security_path_mkdir", events.KindMkdir),
	namei("mkdir_exit", nameiMkdir, nil, []events.Kind{events.KindMkdir}, "mkdirat"),

	namei("mknod_enter", nameiMknod, []int{1}, kMknod, "mknodat"),
	one("mknod_path", "security_path_mknod", events.KindCreate, events.KindMknod),
	namei("mknod_exit", nameiMknod, nil, kMknod, "mknodat"),

	namei("symlink_enter", nameiSymlink, []int{0, 2}, []events.Kind{events.KindSymlink}, "symlinkat"),
	one("symlink_path", "security_path_symlink", events.KindSymlink),
	namei("symlink_exit", nameiSymlink, nil, []events.Kind{events.KindSymlink}, "symlinkat"),

	namei("link_enter", nameiLink, []int{1, 3}, []events.Kind{events.KindLink}, "linkat"),
	one("link_path", "security_path_link", events.KindLink),
	namei("link_exit", nameiLink, nil, []events.Kind{events.KindLink}, "linkat"),

	namei("unlink_enter", nameiUnlink, []int{1}, []events.Kind{events.KindUnlink}, "unlinkat"),
	one("unlink_path", "security_path_unlink", events.KindUnlink),
	namei("unlink_exit", nameiUnlink, nil, []events.Kind{events.KindUnlink}, "unlinkat"),

	namei("rmdir_enter", nameiRmdir, []int{1}, []events.Kind{events.KindRmdir}, "rmdir"),
	one("rmdir_path", "security_path_rmdir", events.KindRmdir),
	namei("rmdir_exit", nameiRmdir, nil, []events.Kind{events.KindRmdir}, "rmdir"),

	namei("rename_enter", nameiRename, []int{1, 3}, []events.Kind{events.KindRename}, "renameat2"),
	one("rename_path", "security_path_rename", events.KindRename),
	namei("rename_exit", nameiRename, nil, []events.Kind{events.KindRename}, "renameat2"),

	one("chmod_exit", "chmod_common", kSetattr...),
	one("chown_exit", "chown_common", kSetattr...),
	one("utimes_exit", "vfs_utimes", kSetattr...),
	one("truncate_exit", "vfs_truncate", kSetattr...),
	ftruncateHooks[0], ftruncateHooks[1],

	{prog: "read_exit", targets: []string{"vfs_read"}, kinds: kRW},
	{prog: "write_exit", targets: []string{"vfs_write"}, kinds: kRW},
	{prog: "readv_exit", targets: []string{"vfs_readv"}, kinds: kRW, optional: true, check: posArg3},
	{prog: "writev_exit", targets: []string{"vfs_writev"}, kinds: kRW, optional: true, check: posArg3},
	{prog: "copy_exit", targets: []string{"vfs_copy_file_range"}, kinds: kRW, optional: true},
	{prog: "sendfile_exit", targets: []string{"do_sendfile"}, kinds: kRW, optional: true},
	{prog: "close_enter", targets: []string{"__fput"}, kinds: kRW},

	one("mount_exit", "path_mount", events.KindMount),
	one("umount_enter", "path_umount", events.KindUmount),
	one("umount_exit", "path_umount", events.KindUmount),
}

// kernelFunc finds a function in the kernel's BTF.
func kernelFunc(kspec *btf.Spec, name string) (*btf.Func, bool) {
	var fn *btf.Func
	err := kspec.TypeByName(name, &fn)
	if errors.Is(err, btf.ErrMultipleMatches) {
		// Static functions of the same name in several units: any will do
		// for a presence check, and the attach resolves by name.
		return nil, true
	}
	return fn, err == nil
}

// plan decides which programs of a hook table to load and where they
// attach, and the load-time constants that depend on the kernel. It drops
// every other program from spec.
func plan(spec *ebpf.CollectionSpec, kspec *btf.Spec, table []hook, kinds events.KindMask, follow bool) (map[string]string, uint32, error) {
	tpDir := ""
	if len(table) > 0 && table[0].calls != nil {
		tpDir = syscallTracepoints()
	}
	attach := map[string]string{}
	var userNames uint32
	for _, h := range append(table[:len(table):len(table)], followHooks...) {
		if !wanted(h, kinds, follow) || (h.backup && !syscallBackups(kspec)) {
			delete(spec.Programs, h.prog)
			continue
		}
		if h.unlessHas != "" {
			if _, ok := kernelFunc(kspec, h.unlessHas); ok {
				delete(spec.Programs, h.prog)
				continue
			}
		}
		target := ""
		var fn *btf.Func
		switch {
		case h.calls != nil:
			phase := "exit"
			if h.prog == "sys_enter_tp" {
				phase = "enter"
			}
			target = tracepointTargets(tpDir, phase, h.calls, kinds)
			if target == "" {
				delete(spec.Programs, h.prog)
				continue
			}
		case h.follow || h.tracepoint:
			target = h.targets[0]
		default:
			for _, t := range h.targets {
				f, ok := kernelFunc(kspec, t)
				if ok && h.check != nil {
					proto, isProto := func() (*btf.FuncProto, bool) {
						if f == nil {
							return nil, false
						}
						p, ok := f.Type.(*btf.FuncProto)
						return p, ok
					}()
					ok = isProto && h.check(proto)
				}
				if ok {
					target, fn = t, f
					break
				}
			}
		}
		if target == "" {
			if h.optional {
				delete(spec.Programs, h.prog)
				continue
			}
			return nil, 0, fmt.Errorf("kernel has none of %v (needed by %s): %w", h.targets, h.prog, ErrUnsupported)
		}
		for _, i := range h.nameArgs {
			if fn != nil && userNameParam(fn, i) {
				userNames |= h.namei
			}
		}
		prog := h.prog
		if h.shared != "" {
			prog = h.shared
			if prev, ok := attach[prog]; ok {
				attach[prog] = prev + "," + target
				continue
			}
		}
		ps, ok := spec.Programs[prog]
		if !ok {
			return nil, 0, fmt.Errorf("program %s missing from the BPF object", prog)
		}
		ps.AttachTo = target
		attach[prog] = target
	}
	for name := range spec.Programs {
		if _, ok := attach[name]; !ok && name != keepProgram(table) {
			delete(spec.Programs, name)
		}
	}
	return attach, userNames, nil
}

// keepProgram names a program a mode loads without attaching it.
func keepProgram(table []hook) string {
	if len(table) > 0 && strings.HasPrefix(table[0].prog, "sys_enter") { // the syscall mode's
		return "fmode_probe"
	}
	return ""
}

func wanted(h hook, kinds events.KindMask, follow bool) bool {
	if h.follow {
		return follow
	}
	for _, k := range h.kinds {
		if kinds.Has(k) {
			return true
		}
	}
	return false
}

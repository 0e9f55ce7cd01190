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

// progs are the object's programs, by the fields bpf2go made of their C
// names: the hook tables point at them, so a renamed program is a compile
// error. A mode's tables are built from the spec it loads (Assign), as
// plan edits and prunes that spec's programs.
type progs = bpfProgramSpecs

// assignProgs fills the typed view of spec's programs.
func assignProgs(spec *ebpf.CollectionSpec) (*progs, error) {
	var p progs
	if err := spec.Assign(&p); err != nil {
		return nil, fmt.Errorf("BPF object: %w", err)
	}
	return &p, nil
}

// A hook is one BPF program and where it may attach. Targets are tried in
// order against the running kernel's BTF; the namei entry points were
// renamed on 7.2 (do_unlinkat became filename_unlinkat, ...).
type hook struct {
	prog *ebpf.ProgramSpec
	// In the fentry table: the program's kprobe form (lib/hooks.h), and
	// for an exit hook the kprobe that saves the arguments its kretprobe
	// needs (kprobeHooks).
	kprobe, kprobeArgs *ebpf.ProgramSpec
	targets            []string
	kinds              []events.Kind
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
	phase     string // of calls: "enter" or "exit"
	backup    bool   // a backup copy, attached only where syscallBackups says
	sysRet    bool   // one of failHooks' return programs
	unlessHas string
	// shared: the program that is loaded for this hook, once for every
	// hook that names it, and attached to each of their targets.
	shared *ebpf.ProgramSpec
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

// entry and exit start a hook of the fentry table from its program and
// that program's kprobe forms.
func entry(prog, kprobe *ebpf.ProgramSpec) hook { return hook{prog: prog, kprobe: kprobe} }

func exit(prog, kprobe, kprobeArgs *ebpf.ProgramSpec) hook {
	return hook{prog: prog, kprobe: kprobe, kprobeArgs: kprobeArgs}
}

func namei(h hook, bit uint32, args []int, kinds []events.Kind, name string) hook {
	h.targets, h.kinds, h.namei, h.nameArgs = nameiTargets(name), kinds, bit, args
	return h
}

// failHooks: the programs on syscalls' own entry points that see the
// failures in path lookup of setattr, mount and umount calls, which never
// reach the VFS hooks (FST_SYS_FAIL in bpf/lookup_fail.bpf.h): an entry and a return
// program for each. Optional: fchmodat2 is 6.6+. The xattr calls are
// reported from the same programs (xattr_*) whatever their result: no VFS
// function of theirs holds both the name and a mount (bpf/lookup_fail.bpf.h);
// setxattrat and removexattrat are 6.13+.
func failHooks(p *progs) []hook {
	var out []hook
	for _, sc := range []struct {
		name              string
		kinds             []events.Kind
		enter, ret, kpEnt *ebpf.ProgramSpec
	}{
		{"chmod", kSetattr, p.FailChmodEnter, p.FailChmodRet, p.KpFailChmodEnter},
		{"fchmodat", kSetattr, p.FailFchmodatEnter, p.FailFchmodatRet, p.KpFailFchmodatEnter},
		{"fchmodat2", kSetattr, p.FailFchmodat2Enter, p.FailFchmodat2Ret, p.KpFailFchmodat2Enter},
		{"chown", kSetattr, p.FailChownEnter, p.FailChownRet, p.KpFailChownEnter},
		{"lchown", kSetattr, p.FailLchownEnter, p.FailLchownRet, p.KpFailLchownEnter},
		{"fchownat", kSetattr, p.FailFchownatEnter, p.FailFchownatRet, p.KpFailFchownatEnter},
		{"truncate", kSetattr, p.FailTruncateEnter, p.FailTruncateRet, p.KpFailTruncateEnter},
		{"utime", kSetattr, p.FailUtimeEnter, p.FailUtimeRet, p.KpFailUtimeEnter},
		{"utimes", kSetattr, p.FailUtimesEnter, p.FailUtimesRet, p.KpFailUtimesEnter},
		{"futimesat", kSetattr, p.FailFutimesatEnter, p.FailFutimesatRet, p.KpFailFutimesatEnter},
		{"utimensat", kSetattr, p.FailUtimensatEnter, p.FailUtimensatRet, p.KpFailUtimensatEnter},
		{"mount", kMount, p.FailMountEnter, p.FailMountRet, p.KpFailMountEnter},
		{"umount", kUmount, p.FailUmountEnter, p.FailUmountRet, p.KpFailUmountEnter},
		{"setxattr", kXattr, p.XattrSetxattrEnter, p.XattrSetxattrRet, p.KpXattrSetxattrEnter},
		{"lsetxattr", kXattr, p.XattrLsetxattrEnter, p.XattrLsetxattrRet, p.KpXattrLsetxattrEnter},
		{"fsetxattr", kXattr, p.XattrFsetxattrEnter, p.XattrFsetxattrRet, p.KpXattrFsetxattrEnter},
		{"setxattrat", kXattr, p.XattrSetxattratEnter, p.XattrSetxattratRet, p.KpXattrSetxattratEnter},
		{"removexattr", kXattr, p.XattrRemovexattrEnter, p.XattrRemovexattrRet, p.KpXattrRemovexattrEnter},
		{"lremovexattr", kXattr, p.XattrLremovexattrEnter, p.XattrLremovexattrRet, p.KpXattrLremovexattrEnter},
		{"fremovexattr", kXattr, p.XattrFremovexattrEnter, p.XattrFremovexattrRet, p.KpXattrFremovexattrEnter},
		{"removexattrat", kXattr, p.XattrRemovexattratEnter, p.XattrRemovexattratRet, p.KpXattrRemovexattratEnter},
	} {
		target := []string{"__x64_sys_" + sc.name}
		out = append(out,
			hook{prog: sc.enter, kprobe: sc.kpEnt, targets: target, kinds: sc.kinds, optional: true},
			// kprobe mode (and fentry mode where kprobes exist) replaces
			// the return programs by the one kretprobe kp_fail_ret.
			hook{prog: sc.ret, targets: target, kinds: sc.kinds, optional: true, sysRet: true})
	}
	return out
}

func one(h hook, target string, kinds ...events.Kind) hook {
	h.targets, h.kinds = []string{target}, kinds
	return h
}

// followHooks track a followed command's process tree, and tell user
// space which program each process runs (bpf/process.bpf.h), in every mode.
func followHooks(p *progs) []hook {
	return []hook{
		{prog: p.FollowFork, targets: []string{"sched_process_fork"}, follow: true},
		{prog: p.ProcExec, targets: []string{"sched_process_exec"}, kinds: events.Kinds(), tracepoint: true},
		{prog: p.ProcExit, targets: []string{"sched_process_exit"}, kinds: events.Kinds(), tracepoint: true},
	}
}

// syscallHooks: the raw syscall tracepoints see every kind, at the
// syscall's exit; the entry is needed only for close. Where those
// tracepoints are faultable, sys_exit has a backup copy attached after it,
// which takes the hits the kernel skipped the first for (bpf/syscall.bpf.h).
func syscallHooks(p *progs) []hook {
	return []hook{
		{prog: p.SysEnter, targets: []string{"sys_enter"}, kinds: []events.Kind{events.KindClose, events.KindRead, events.KindWrite}, tracepoint: true},
		{prog: p.SysExit, targets: []string{"sys_exit"}, kinds: events.Kinds(), tracepoint: true},
		{prog: p.SysExitBackup, targets: []string{"sys_exit"}, kinds: events.Kinds(), tracepoint: true, backup: true},
	}
}

// syscallTPHooks: the syscall mode on the per-syscall tracepoints, where
// the kernel has them (syscallTracepoints): the same two programs, each
// attached to just the syscalls of the traced kinds (bpf/syscall.bpf.h).
func syscallTPHooks(p *progs) []hook {
	return []hook{
		{prog: p.SysEnterTp, kinds: kRW, calls: sysEnterCalls, phase: "enter"},
		{prog: p.SysExitTp, kinds: events.Kinds(), calls: sysExitCalls, phase: "exit"},
	}
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
type backupPair struct {
	primary, backup string
	slot            uint32
}

func backupPairs(p *progs) []backupPair {
	return []backupPair{{p.SysExit.Name, p.SysExitBackup.Name, 1}}
}

func fentryHooks(p *progs) []hook { return append(vfsHooks(p), failHooks(p)...) }

func vfsHooks(p *progs) []hook {
	return []hook{
		with(exit(p.OpenExit, p.KpOpenExit, p.KpOpenExitArgs), hook{targets: openTargets, kinds: kOpen}),

		namei(entry(p.MkdirEnter, p.KpMkdirEnter), nameiMkdir, []int{1}, []events.Kind{events.KindMkdir}, "mkdirat"),
		one(entry(p.MkdirPath, p.KpMkdirPath), "security_path_mkdir", events.KindMkdir),
		namei(exit(p.MkdirExit, p.KpMkdirExit, p.KpMkdirExitArgs), nameiMkdir, nil, []events.Kind{events.KindMkdir}, "mkdirat"),

		namei(entry(p.MknodEnter, p.KpMknodEnter), nameiMknod, []int{1}, kMknod, "mknodat"),
		one(entry(p.MknodPath, p.KpMknodPath), "security_path_mknod", events.KindCreate, events.KindMknod),
		namei(exit(p.MknodExit, p.KpMknodExit, p.KpMknodExitArgs), nameiMknod, nil, kMknod, "mknodat"),

		namei(entry(p.SymlinkEnter, p.KpSymlinkEnter), nameiSymlink, []int{0, 2}, []events.Kind{events.KindSymlink}, "symlinkat"),
		one(entry(p.SymlinkPath, p.KpSymlinkPath), "security_path_symlink", events.KindSymlink),
		namei(exit(p.SymlinkExit, p.KpSymlinkExit, p.KpSymlinkExitArgs), nameiSymlink, nil, []events.Kind{events.KindSymlink}, "symlinkat"),

		namei(entry(p.LinkEnter, p.KpLinkEnter), nameiLink, []int{1, 3}, []events.Kind{events.KindLink}, "linkat"),
		one(entry(p.LinkPath, p.KpLinkPath), "security_path_link", events.KindLink),
		namei(exit(p.LinkExit, p.KpLinkExit, p.KpLinkExitArgs), nameiLink, nil, []events.Kind{events.KindLink}, "linkat"),

		namei(entry(p.UnlinkEnter, p.KpUnlinkEnter), nameiUnlink, []int{1}, []events.Kind{events.KindUnlink}, "unlinkat"),
		one(entry(p.UnlinkPath, p.KpUnlinkPath), "security_path_unlink", events.KindUnlink),
		namei(exit(p.UnlinkExit, p.KpUnlinkExit, p.KpUnlinkExitArgs), nameiUnlink, nil, []events.Kind{events.KindUnlink}, "unlinkat"),

		namei(entry(p.RmdirEnter, p.KpRmdirEnter), nameiRmdir, []int{1}, []events.Kind{events.KindRmdir}, "rmdir"),
		one(entry(p.RmdirPath, p.KpRmdirPath), "security_path_rmdir", events.KindRmdir),
		namei(exit(p.RmdirExit, p.KpRmdirExit, p.KpRmdirExitArgs), nameiRmdir, nil, []events.Kind{events.KindRmdir}, "rmdir"),

		namei(entry(p.RenameEnter, p.KpRenameEnter), nameiRename, []int{1, 3}, []events.Kind{events.KindRename}, "renameat2"),
		one(entry(p.RenamePath, p.KpRenamePath), "security_path_rename", events.KindRename),
		namei(exit(p.RenameExit, p.KpRenameExit, p.KpRenameExitArgs), nameiRename, nil, []events.Kind{events.KindRename}, "renameat2"),

		one(exit(p.ChmodExit, p.KpChmodExit, p.KpChmodExitArgs), "chmod_common", kSetattr...),
		one(exit(p.ChownExit, p.KpChownExit, p.KpChownExitArgs), "chown_common", kSetattr...),
		one(exit(p.UtimesExit, p.KpUtimesExit, p.KpUtimesExitArgs), "vfs_utimes", kSetattr...),
		one(exit(p.TruncateExit, p.KpTruncateExit, p.KpTruncateExitArgs), "vfs_truncate", kSetattr...),
		ftruncateHook(p), ftruncateFdHook(p),

		with(exit(p.ReadExit, p.KpReadExit, p.KpReadExitArgs), hook{targets: []string{"vfs_read"}, kinds: kRW}),
		with(exit(p.WriteExit, p.KpWriteExit, p.KpWriteExitArgs), hook{targets: []string{"vfs_write"}, kinds: kRW}),
		with(exit(p.ReadvExit, p.KpReadvExit, p.KpReadvExitArgs), hook{targets: []string{"vfs_readv"}, kinds: kRW, optional: true, check: posArg3}),
		with(exit(p.WritevExit, p.KpWritevExit, p.KpWritevExitArgs), hook{targets: []string{"vfs_writev"}, kinds: kRW, optional: true, check: posArg3}),
		with(exit(p.CopyExit, p.KpCopyExit, p.KpCopyExitArgs), hook{targets: []string{"vfs_copy_file_range"}, kinds: kRW, optional: true}),
		with(exit(p.SendfileExit, p.KpSendfileExit, p.KpSendfileExitArgs), hook{targets: []string{"do_sendfile"}, kinds: kRW, optional: true}),
		with(entry(p.CloseEnter, p.KpCloseEnter), hook{targets: []string{"__fput"}, kinds: kRW}),

		one(exit(p.MountExit, p.KpMountExit, p.KpMountExitArgs), "path_mount", events.KindMount),
		one(entry(p.UmountEnter, p.KpUmountEnter), "path_umount", events.KindUmount),
		one(exit(p.UmountExit, p.KpUmountExit, p.KpUmountExitArgs), "path_umount", events.KindUmount),
	}
}

// with completes a hook of the fentry table from its programs and the rest.
func with(progs hook, h hook) hook {
	h.prog, h.kprobe, h.kprobeArgs = progs.prog, progs.kprobe, progs.kprobeArgs
	return h
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
// every other program from spec, but keep (when not nil): p and table's
// programs are spec's.
func plan(spec *ebpf.CollectionSpec, p *progs, kspec *btf.Spec, table []hook, kinds events.KindMask, follow bool, keep *ebpf.ProgramSpec) (map[string]string, uint32, error) {
	tpDir := ""
	if len(table) > 0 && table[0].calls != nil {
		tpDir = syscallTracepoints()
	}
	// drop forgets a program not to load; a hook whose program is shared
	// has none of its own.
	drop := func(ps *ebpf.ProgramSpec) {
		if ps != nil {
			delete(spec.Programs, ps.Name)
		}
	}
	attach := map[string]string{}
	var userNames uint32
	for _, h := range append(table[:len(table):len(table)], followHooks(p)...) {
		if !wanted(h, kinds, follow) || (h.backup && !syscallBackups(kspec)) {
			drop(h.prog)
			continue
		}
		if h.unlessHas != "" {
			if _, ok := kernelFunc(kspec, h.unlessHas); ok {
				drop(h.prog)
				continue
			}
		}
		ps := h.prog
		if h.shared != nil {
			ps = h.shared
		}
		if ps == nil {
			return nil, 0, fmt.Errorf("a hook on %v has no program in this mode", h.targets)
		}
		target := ""
		var fn *btf.Func
		switch {
		case h.calls != nil:
			target = tracepointTargets(tpDir, h.phase, h.calls, kinds)
			if target == "" {
				drop(h.prog)
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
				drop(h.prog)
				continue
			}
			return nil, 0, fmt.Errorf("kernel has none of %v (needed by %s): %w", h.targets, ps.Name, ErrUnsupported)
		}
		for _, i := range h.nameArgs {
			if fn != nil && userNameParam(fn, i) {
				userNames |= h.namei
			}
		}
		if h.shared != nil {
			if prev, ok := attach[ps.Name]; ok {
				attach[ps.Name] = prev + "," + target
				continue
			}
		}
		if spec.Programs[ps.Name] != ps {
			return nil, 0, fmt.Errorf("program %s: not in the BPF object being loaded", ps.Name)
		}
		ps.AttachTo = target
		attach[ps.Name] = target
	}
	for name := range spec.Programs {
		if _, ok := attach[name]; !ok && (keep == nil || name != keep.Name) {
			delete(spec.Programs, name)
		}
	}
	return attach, userNames, nil
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

/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * In fentry and kprobe modes: setattr, mount and umount calls that fail in
 * path lookup (ENOENT, ENOTDIR, EACCES on a directory, ELOOP...) never
 * reach the VFS helpers those modes hook (chmod_common, path_mount...). The
 * syscall's own entry point (the inner functions are inlined into it on
 * some kernels) stages the call as syscall mode does; the VFS hook drops
 * the entry when it runs (inflight_drop), and the exit reports a failure
 * it never saw. The entry points take the user's registers.
 *
 * The xattr calls are reported from these programs alone, whatever their
 * result: no VFS function of theirs holds both the attribute's name and a
 * mount to build the path with (vfs_setxattr and vfs_set_acl, which takes
 * the ACLs since 6.2, see a dentry only; setxattr and path_setxattr are
 * static and inlined). Nothing drops their entry, so the exit reports it.
 */

/* sys_enter_body stages a syscall at its entry for its exit to report. */
static __always_inline int sys_enter_body(struct pt_regs *regs, long id)
{
	struct sys_shape sh = sys_shape(id, regs);
	struct inflight *in;

	if (!sh.kind || !sys_wanted(regs, id, sh.kind))
		return 0;
	in = sys_stage(regs, id, 0, sh);
	if (in)
		stage_commit(in);
	return 0;
}

/* fail_call: the syscalls of FST_SYS_FAIL below. */
/* clang-format off */
static __always_inline bool fail_call(long nr)
{
	switch (nr) {
	case NR_chmod: case NR_fchmodat: case NR_fchmodat2:
	case NR_chown: case NR_lchown: case NR_fchownat:
	case NR_truncate: case NR_utime: case NR_utimes: case NR_futimesat: case NR_utimensat:
	case NR_mount: case NR_umount2:
	case NR_setxattr: case NR_lsetxattr: case NR_fsetxattr: case NR_setxattrat:
	case NR_removexattr: case NR_lremovexattr: case NR_fremovexattr: case NR_removexattrat:
		return true;
	}
	return false;
}
/* clang-format on */

/* nr < 0: any of the calls above (kp_fail_ret, on all of their returns). */
static __always_inline int sys_fail_exit(long ret, long nr)
{
	__u32 tid = cur_tid();
	struct inflight *in = bpf_map_lookup_elem(&inflight_ops, &tid);

	if (!in || (nr >= 0 ? in->sysno != nr : !fail_call(in->sysno)))
		return 0;
	if (ret < 0 || in->kind == FST_XATTR)
		sys_emit(in, ret, false);
	bpf_map_delete_elem(&inflight_ops, &tid);
	return 0;
}

#define FST_SYS_FAIL(fn, nr, name)                                   \
	FST_ENTRY(fn, name##_enter, const struct pt_regs *regs)      \
	{                                                            \
		return sys_enter_body((struct pt_regs *)regs, nr);   \
	}                                                            \
	SEC("fexit/" #fn)                                            \
	int name##_ret(unsigned long long *ctx)                      \
	{                                                            \
		return FST_GUARDED(sys_fail_exit((long)ctx[1], nr)); \
	}

FST_SYS_FAIL(__x64_sys_chmod, NR_chmod, fail_chmod)
FST_SYS_FAIL(__x64_sys_fchmodat, NR_fchmodat, fail_fchmodat)
FST_SYS_FAIL(__x64_sys_fchmodat2, NR_fchmodat2, fail_fchmodat2)
FST_SYS_FAIL(__x64_sys_chown, NR_chown, fail_chown)
FST_SYS_FAIL(__x64_sys_lchown, NR_lchown, fail_lchown)
FST_SYS_FAIL(__x64_sys_fchownat, NR_fchownat, fail_fchownat)
FST_SYS_FAIL(__x64_sys_truncate, NR_truncate, fail_truncate)
FST_SYS_FAIL(__x64_sys_utime, NR_utime, fail_utime)
FST_SYS_FAIL(__x64_sys_utimes, NR_utimes, fail_utimes)
FST_SYS_FAIL(__x64_sys_futimesat, NR_futimesat, fail_futimesat)
FST_SYS_FAIL(__x64_sys_utimensat, NR_utimensat, fail_utimensat)
FST_SYS_FAIL(__x64_sys_mount, NR_mount, fail_mount)
FST_SYS_FAIL(__x64_sys_umount, NR_umount2, fail_umount)
FST_SYS_FAIL(__x64_sys_setxattr, NR_setxattr, xattr_setxattr)
FST_SYS_FAIL(__x64_sys_lsetxattr, NR_lsetxattr, xattr_lsetxattr)
FST_SYS_FAIL(__x64_sys_fsetxattr, NR_fsetxattr, xattr_fsetxattr)
FST_SYS_FAIL(__x64_sys_setxattrat, NR_setxattrat, xattr_setxattrat)
FST_SYS_FAIL(__x64_sys_removexattr, NR_removexattr, xattr_removexattr)
FST_SYS_FAIL(__x64_sys_lremovexattr, NR_lremovexattr, xattr_lremovexattr)
FST_SYS_FAIL(__x64_sys_fremovexattr, NR_fremovexattr, xattr_fremovexattr)
FST_SYS_FAIL(__x64_sys_removexattrat, NR_removexattrat, xattr_removexattrat)

/* kprobe mode: one return program on every one of those calls, where the
 * fexit programs need one each (a trampoline per target): the emit path is
 * verified once rather than once per call. */
SEC("kretprobe/__x64_sys_chmod")
int kp_fail_ret(struct pt_regs *regs)
{
	return sys_fail_exit(PT_REGS_RC(regs), -1);
}

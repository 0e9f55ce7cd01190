/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Kernel differences, in one place: each helper below answers one way the
 * supported kernels (5.10 to 7.2) differ, and says which kernel changed.
 * The Go side's choices (which function to hook, which probe to trust)
 * live in pkg/tracer/compat.go.
 *
 *   btf_cast, KCAST, KREAD  bpf_rdonly_cast (6.2): direct loads, else helpers
 *   FST_GUARDED             bpf_preempt_disable (6.10), for kernels that
 *                           preempt tracing programs
 *   task_lookup             bpf_task_from_pid (6.2) in the syscall programs
 *   have_loginuid           task_struct.loginuid exists with CONFIG_AUDIT only
 *   kn_parent               kernfs_node.parent renamed __parent (6.15)
 *   file_last_ref           file.f_count became f_ref (6.13)
 *   user_names              namei entry points took user strings (5.10)
 *   file_created            FMODE_CREATED renumbered (6.10), probed at load
 *   dentry_parent_name_adjacent, fdtable_head_first
 *                           layouts all supported kernels share, checked by
 *                           CO-RE: a kernel that differs takes the slow path
 *
 * Differences handled where they arise: 5.10's verifier loses bounds
 * clang thinks redundant (barrier_var before a mask: lib/path.h,
 * lib/host.h, process.bpf.h) and refuses direct reads of a non-struct
 * pointer argument (FST_RW_EXIT, rw.bpf.h); bpf_loop (5.17) selects the
 * FST_LOOP object (lib/path.h).
 */
#ifndef __FSTRACE_COMPAT_H
#define __FSTRACE_COMPAT_H

/*
 * Kernel memory is read with a load through a BTF-typed pointer where
 * bpf_rdonly_cast (6.2) gives any address such a type: the JIT makes it
 * one instruction, where bpf_probe_read_kernel is a helper call. User space
 * probes it (cast_probe) and sets btf_cast; the branch not taken is dead
 * code to the verifier, so older kernels never see the kfunc.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __weak __ksym;
const volatile bool btf_cast = false;

#define KCAST(type, p) ((type *)bpf_rdonly_cast((const void *)(__u64)(p), bpf_core_type_id_kernel(type)))

/* KREAD(type, p, field): p->field, for one level of fields. */
#define KREAD(type, p, field) ({                                          \
	type *__kp = (type *)(p);                                         \
	btf_cast ? KCAST(type, __kp)->field : BPF_CORE_READ(__kp, field); \
})

/*
 * fentry/fexit programs, and those on sys_enter/sys_exit since the syscall
 * tracepoints became faultable (6.14), run with migration disabled but can
 * be preempted where the kernel preempts (full or lazy preemption). A run
 * preempted halfway could have its per-CPU scratch record overwritten by
 * another program on that CPU. Where the kernel has bpf_preempt_disable
 * (6.10) and lets global functions run with preemption off (probed:
 * preempt_probe), such a program keeps preemption off throughout.
 *
 * The task can still be preempted inside the kernel's window around the
 * program; the kernel then skips the program for every other task on that
 * CPU until it resumes (recursion protection, counted in the program's
 * misses). The syscall programs have backup copies for that
 * (syscall.bpf.h).
 */
extern void bpf_preempt_disable(void) __weak __ksym;
extern void bpf_preempt_enable(void) __weak __ksym;
const volatile bool preempt_guard = false;

/* FST_GUARDED(expr): evaluates the int expression with preemption off. */
#define FST_GUARDED(expr) ({           \
	int __ret;                     \
	if (preempt_guard)             \
		bpf_preempt_disable(); \
	__ret = (expr);                \
	if (preempt_guard)             \
		bpf_preempt_enable();  \
	__ret;                         \
})

/* Where the kernel has them (6.2+) and lets the syscall mode's two program
 * types call them (probed: task_probe_*), another process's task is looked
 * up by pid (lib/path.h, magic links). */
extern struct task_struct *bpf_task_from_pid(s32 pid) __weak __ksym;
extern void bpf_task_release(struct task_struct *p) __weak __ksym;
const volatile bool task_lookup = false;

/* task_struct.loginuid exists only with CONFIG_AUDIT. */
static __always_inline bool have_loginuid(void)
{
	return bpf_core_field_exists(struct task_struct, loginuid);
}

/* kernfs_node.parent became __parent in 6.15 (633488947ef6). */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___new, __parent))
		return BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/* Before 6.13 ("fs: port files to file_ref") a file counted its references
 * in f_count, where 1 is the last; since, in f_ref, where 0 is. */
struct file___f_count {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline bool file_last_ref(struct file *f)
{
	if (bpf_core_field_exists(struct file___f_count, f_count))
		return BPF_CORE_READ((struct file___f_count *)f, f_count.counter) == 1;
	return KREAD(struct file, f, f_ref.refcnt.counter) == 0;
}

/* Namei entry points whose names are user pointers rather than struct
 * filename *: 5.10's do_mkdirat, do_mknodat, do_symlinkat and do_linkat.
 * User space reads the parameters' types from the kernel's BTF and sets
 * one bit per hook (namei* in pkg/tracer/hooks.go). */
enum {
	NAMEI_UNLINK = 1 << 0,
	NAMEI_RMDIR = 1 << 1,
	NAMEI_MKDIR = 1 << 2,
	NAMEI_MKNOD = 1 << 3,
	NAMEI_SYMLINK = 1 << 4,
	NAMEI_LINK = 1 << 5,
	NAMEI_RENAME = 1 << 6,
};
const volatile __u32 user_names = 0;

/* FMODE_CREATED is 1 << 20 up to 6.9 and 1 << 21 since, and no BTF type
 * gives it: user space finds it with fmode_probe and sets fmode_created
 * (0: unknown, files an open creates are reported as opens only). */
volatile __u32 fmode_created = 0;

static __always_inline bool file_created(struct file *f)
{
	return fmode_created && (KREAD(struct file, f, f_mode) & fmode_created);
}

/* A dentry's d_parent and d_name side by side, as every supported kernel
 * keeps them: one read takes both (walk_step). */
static __always_inline bool dentry_parent_name_adjacent(void)
{
	return bpf_core_field_offset(struct dentry, d_name) ==
	       bpf_core_field_offset(struct dentry, d_parent) + sizeof(void *);
}

/* max_fds then fd at the start of struct fdtable, as in every supported
 * kernel: one read takes both (task_fd_file). */
static __always_inline bool fdtable_head_first(void)
{
	return bpf_core_field_offset(struct fdtable, max_fds) == 0 &&
	       bpf_core_field_offset(struct fdtable, fd) == 8;
}

#endif /* __FSTRACE_COMPAT_H */

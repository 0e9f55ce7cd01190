/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The syscall hook mode: for kernels that refuse fentry and have no kprobes
 * (locked-down kernels), the same events from the raw syscall tracepoints.
 * sys_exit reads what the syscall was asked to do from its argument
 * registers — the names the process passed, dirfds, modes, requested
 * attributes — adds the result and emits; sys_enter is needed only for
 * close, when closes, reads or writes are traced. Names are made absolute
 * against the dirfd or cwd, in the kernel, at exit; an open that succeeded
 * is reported with the canonical path of the file it returned.
 *
 * It sees what goes through these syscalls, nothing else: not io_uring,
 * not the kernel's own file operations, and only x86-64 syscall numbers.
 */

/* sys_close: close(2) that drops the last reference releases the file; so
 * does dup2/dup3 onto an open fd. Seen on entry, while the fd still is. */
static __always_inline void sys_close(struct pt_regs *regs, long id)
{
	int fd = sys_arg(regs, id == NR_close ? 0 : 1);
	struct file *f = fd_file(fd);

	if (f && (id == NR_close || fd != (int)sys_arg(regs, 0)) && file_last_ref(f))
		rw_close(f, fd);
}

/* The user's offset argument of pread and friends, or where the file
 * position was before the call. */
static __always_inline __u64 sys_rw_off(struct file *f, __u64 user_off, bool have, long n)
{
	if (have)
		return user_off;
	return start_offset(f, NULL, n);
}

/* An offset a syscall updated through a user pointer, minus what it moved. */
static __always_inline __u64 sys_rw_uoff(struct file *f, __u64 uptr, long n)
{
	loff_t p = 0;

	if (!uptr)
		return start_offset(f, NULL, n);
	bpf_probe_read_user(&p, sizeof(p), (void *)uptr);
	return p >= n ? p - n : 0;
}

/* sys_rw accounts a finished read/write family syscall; the user registers
 * still hold its arguments. It returns whether the syscall was one. Only
 * the tp_btf programs call it: their regs is a typed pointer, read with
 * plain loads rather than a helper call each. */
/* clang-format off */
static __always_inline bool sys_rw(struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax;
	__u64 a0 = regs->di, a3 = regs->r10;
	struct file *f;

	switch (id) {
	case NR_open: case NR_openat: case NR_openat2: case NR_creat:
		/* A new open file: forget counts left under its address by one
		 * released without a close(2) (at exit), which this mode misses. */
		if (ret >= 0 && (f = fd_file(ret))) {
			__u64 key = (__u64)f;

			bpf_map_delete_elem(&file_stats, &key);
		}
		return false;
	case NR_read: case NR_readv: case NR_pread64: case NR_preadv: case NR_preadv2:
		f = fd_file(a0);
		rw_account(f, FST_READ, ret, sys_rw_off(f, a3, id == NR_pread64 || id == NR_preadv || (id == NR_preadv2 && (long)a3 != -1), ret), a0);
		return true;
	case NR_write: case NR_writev: case NR_pwrite64: case NR_pwritev: case NR_pwritev2:
		f = fd_file(a0);
		rw_account(f, FST_WRITE, ret, sys_rw_off(f, a3, id == NR_pwrite64 || id == NR_pwritev || (id == NR_pwritev2 && (long)a3 != -1), ret), a0);
		return true;
	case NR_sendfile: {	/* out_fd, in_fd, offset *, count */
		struct file *in = fd_file(regs->si);

		f = fd_file(a0);
		rw_account(in, FST_READ, ret, sys_rw_uoff(in, regs->dx, ret), regs->si);
		rw_account(f, FST_WRITE, ret, start_offset(f, NULL, ret), a0);
		return true;
	}
	case NR_copy_file_range: {	/* fd_in, off_in *, fd_out, off_out *, len, flags */
		struct file *in = fd_file(a0);

		f = fd_file(regs->dx);
		rw_account(in, FST_READ, ret, sys_rw_uoff(in, regs->si, ret), a0);
		rw_account(f, FST_WRITE, ret, sys_rw_uoff(f, a3, ret), regs->dx);
		return true;
	}
	}
	return false;
}
/* clang-format on */

/*
 * Backup copies. The syscall tracepoints are faultable since 6.14, and on
 * kernels that preempt (7.x) a task can be preempted while one of these
 * programs runs, or at its very end. Until it resumes, the kernel skips
 * that program for every other task on the CPU (its recursion guard), and
 * an event is gone. sys_exit, which makes the events, is therefore
 * attached twice, primary first (sys_enter only sees close, which the
 * primaries alone account, like reads and writes): the primary marks the
 * current task for a hit it handles, the backup handles the hit only when
 * the mark is missing, which is when the
 * kernel skipped the primary. An event is lost only when both are skipped;
 * user space bounds that from the programs' miss counts and `sys_recovered`.
 * Attached where the tracepoints are faultable and task storage exists;
 * elsewhere only the primaries run, with preemption off.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} sys_marks SEC(".maps");

/* Hits a backup took over: [1] sys_exit ([0] was sys_enter's, which needs
 * none since it only sees close). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} sys_recovered SEC(".maps");

const volatile bool sys_backup = false;

enum { MARK_EXIT = 2 };

/* sys_claim says whether this copy handles the current hit. */
static __always_inline bool sys_claim(bool backup, __u32 bit)
{
	__u32 *m, k = bit - 1;
	__u64 *n;

	if (!sys_backup)
		return !backup;
	m = bpf_task_storage_get(&sys_marks, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!m)
		return !backup;
	if (!backup) {
		*m |= bit;
		return true;
	}
	if (*m & bit) {
		*m &= ~bit;
		return false;
	}
	n = bpf_map_lookup_elem(&sys_recovered, &k);
	if (n)
		*n += 1;
	return true;
}

/* sys_rw_call: the read/write/close family. Only the primaries account
 * them: they are the hot path, and a claim on each would cost more than
 * the rare skipped byte count it would save. Skipped runs are counted
 * either way. */
/* clang-format off */
static __always_inline bool sys_rw_call(long id)
{
	switch (id) {
	case NR_close: case NR_dup2: case NR_dup3:
	case NR_read: case NR_readv: case NR_pread64: case NR_preadv: case NR_preadv2:
	case NR_write: case NR_writev: case NR_pwrite64: case NR_pwritev: case NR_pwritev2:
	case NR_sendfile: case NR_copy_file_range:
		return true;
	}
	return false;
}
/* clang-format on */

/* sys_enter: only close(2) and dup2/dup3 need their entry, and only when
 * closes, reads or writes are traced (user space attaches it only then). */
static __always_inline int sys_enter_run(struct pt_regs *regs, long id)
{
	if (id == NR_close || id == NR_dup2 || id == NR_dup3)
		sys_close(regs, id);
	return 0;
}

static __always_inline int sys_exit_run(struct pt_regs *regs, long ret, bool backup)
{
	long id = regs->orig_ax; /* a direct load: tp_btf's regs is typed */
	struct sys_shape sh;
	struct inflight *in;

	/* sys_rw also sees opens: a new open file forgets stale counts */
	if (!backup && (kind_mask & ((1U << FST_CLOSE) | (1U << FST_READ) | (1U << FST_WRITE))) &&
	    sys_rw(regs, ret))
		return 0;
	if (sys_rw_call(id))
		return 0;
	sh = sys_shape(id, regs);
	if (!sh.kind || !sys_wanted(regs, id, sh.kind) || !sys_claim(backup, MARK_EXIT))
		return 0;
	in = sys_stage(regs, id, ret, sh);
	if (in)
		sys_emit(in, ret, true);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	return FST_GUARDED(sys_enter_run(regs, id));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	return FST_GUARDED(sys_exit_run(regs, ret, false));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_backup, struct pt_regs *regs, long ret)
{
	return FST_GUARDED(sys_exit_run(regs, ret, true));
}

/*
 * The same, on the per-syscall tracepoints (syscalls:sys_exit_openat...,
 * 5.15+), which user space prefers where it finds them: attached only to
 * the syscalls of the traced kinds, they leave every other syscall of the
 * machine without a program to run, so that nothing is paid for what is
 * not traced. On 7.2 these programs run preemptible too, and another
 * program on the CPU (an exec note, process.bpf.h) could overwrite the
 * per-CPU scratch under a record half written: they run FST_GUARDED. They
 * get no backups: the kernel runs all the programs of a perf tracepoint
 * under one recursion check, which would skip a backup with its primary;
 * user space reports those skips. The context hides the regs pointer in
 * its first 8 bytes, which a program may not read: the user registers
 * come from bpf_task_pt_regs, a typed pointer that is read with plain
 * loads.
 */
struct sys_exit_tp_ctx {
	__u64 common;
	int nr;
	long ret;
};

struct sys_enter_tp_ctx {
	__u64 common;
	int nr;
	__u64 args[6];
};

static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

SEC("tracepoint/syscalls/sys_enter")
int sys_enter_tp(struct sys_enter_tp_ctx *ctx)
{
	return FST_GUARDED(sys_enter_run(user_regs(), ctx->nr));
}

SEC("tracepoint/syscalls/sys_exit")
int sys_exit_tp(struct sys_exit_tp_ctx *ctx)
{
	return FST_GUARDED(sys_exit_run(user_regs(), ctx->ret, false));
}

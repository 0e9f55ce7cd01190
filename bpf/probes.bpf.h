/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Programs user space loads (or runs once with BPF_PROG_TEST_RUN) to learn
 * what the kernel allows, never attached: see lib/compat.h and the probes
 * in pkg/tracer/compat.go.
 */

/* preempt_probe loads (never runs) where FST_GUARDED can work: the kfuncs
 * exist and a global function may be called with preemption off. The
 * probes touch no map: user space loads each on its own. */
__noinline int preempt_probe_sub(int x)
{
	return x + bpf_get_smp_processor_id(); /* used: the call must stay */
}

SEC("tp_btf/sys_enter")
int BPF_PROG(preempt_probe)
{
	int r;

	bpf_preempt_disable();
	r = preempt_probe_sub(1);
	bpf_preempt_enable();
	return r;
}

/* cast_probe loads (never runs) where bpf_rdonly_cast can be called: see
 * btf_cast in lib/compat.h. */
SEC("raw_tp")
int cast_probe(void *ctx)
{
	return KCAST(struct task_struct, bpf_get_current_task())->pid;
}

/* task_probe_btf and task_probe_tp load (never run) where the syscall
 * mode's two program types may look a task up by pid: see task_lookup in
 * lib/compat.h. */
static __always_inline int task_probe(void)
{
	struct task_struct *t = bpf_task_from_pid(1);

	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(task_probe_btf)
{
	return task_probe();
}

SEC("tracepoint/syscalls/sys_exit_openat")
int task_probe_tp(void *ctx)
{
	return task_probe();
}

/* fmode_probe reads the f_mode of two of the caller's fds, for user space
 * to find FMODE_CREATED: one file it just created, one it did not. Run
 * with BPF_PROG_TEST_RUN, never attached. */
volatile __s32 probe_fd_created = -1;
volatile __s32 probe_fd_existing = -1;
volatile __u32 probe_fmode_created = 0;
volatile __u32 probe_fmode_existing = 0;

SEC("raw_tp")
int fmode_probe(void *ctx)
{
	struct file *f = fd_file(probe_fd_created);

	if (f)
		probe_fmode_created = BPF_CORE_READ(f, f_mode);
	f = fd_file(probe_fd_existing);
	if (f)
		probe_fmode_existing = BPF_CORE_READ(f, f_mode);
	return 0;
}

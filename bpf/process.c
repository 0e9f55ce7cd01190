/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Following a command and its descendants (`fstrace -- CMD`). User space
 * puts the child in `followed` as ARMED before letting it exec; the exec
 * turns it TRACED, so nothing the launcher did before exec is reported.
 * Forks inherit the parent's state here, in the kernel, before the child
 * can run: no event of a descendant can slip past.
 */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(follow_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid, ctgid, *st, v;

	if (!follow_mode)
		return 0;
	ptgid = BPF_CORE_READ(parent, tgid);
	ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid)	/* a new thread */
		return 0;
	st = bpf_map_lookup_elem(&followed, &ptgid);
	if (!st)
		return 0;
	v = *st;
	bpf_map_update_elem(&followed, &ctgid, &v, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(follow_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, *st;

	if (!follow_mode)
		return 0;
	st = bpf_map_lookup_elem(&followed, &tgid);
	if (st && *st == FOLLOW_ARMED)
		*st = FOLLOW_TRACED;
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(follow_exit, struct task_struct *p)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!follow_mode)
		return 0;
	/* Only once the whole group is gone: an exec from a non-leader thread
	 * makes the old leader exit while the process lives on. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	bpf_map_delete_elem(&followed, &tgid);
	return 0;
}

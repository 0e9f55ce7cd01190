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
	if (ptgid == ctgid) /* a new thread */
		return 0;
	st = bpf_map_lookup_elem(&followed, &ptgid);
	if (!st)
		return 0;
	v = *st;
	bpf_map_update_elem(&followed, &ctgid, &v, BPF_ANY);
	return 0;
}

/*
 * Which program each process runs, for the events' exe and cmdline: at
 * every exec an FST_REC_EXEC record with the executable's path (str 0, as
 * /proc/PID/exe shows it) and the new argv (str 1, NUL-separated, cut at
 * FST_PATH_MAX), and FST_REC_EXIT when a process is gone, so that user
 * space drops what it kept. Neither is an event: no filter, no cpu_seq
 * number. User space reads /proc for processes that exec'd before tracing
 * began. An exec is a rare and dear call; a path walk more is little.
 */
static __always_inline void emit_proc(struct scratch *s, __u32 len)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *ring = bpf_map_lookup_elem(&rings, &cpu);

	s->rec.cpu = cpu;
	if (len > MAX_RECORD)
		len = MAX_RECORD;
	if (ring)
		bpf_ringbuf_output(ring, &s->rec, len, wake_flags(ring, len));
}

/* Both use the per-CPU scratch, so they keep preemption off while they
 * fill it (FST_GUARDED): on a kernel that preempts tracepoint programs
 * another program could otherwise write over their record, or they over
 * its. */
static __always_inline int exec_note(struct task_struct *p, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, *st, elen, alen;
	struct scratch *s;
	struct fst_record *r;
	__u64 start, end;

	if (follow_mode) {
		st = bpf_map_lookup_elem(&followed, &tgid);
		if (st && *st == FOLLOW_ARMED)
			*st = FOLLOW_TRACED;
	}
	if (tgid == self_tgid || !(s = get_scratch()))
		return 0;
	r = start_record(s, FST_REC_EXEC);
	elen = put_file_path(s, BPF_CORE_READ(bprm, file), 0, 0) & PATH_MAX_MASK;
	start = BPF_CORE_READ(p, mm, arg_start);
	end = BPF_CORE_READ(p, mm, arg_end);
	alen = 0;
	if (end > start) {
		alen = end - start > FST_PATH_MAX ? FST_PATH_MAX : end - start;
		if (alen < end - start)
			r->rflags |= FST_RF_PATH2_TRUNC;
		/* Keep the mask: clang drops it as redundant after the min,
		 * which 5.10's verifier does not follow through. */
		barrier_var(alen);
		alen &= PATH_MAX_MASK;
		if (bpf_probe_read_user(&s->data[elen & STR_OFF_MASK], alen, (void *)start))
			alen = 0;
	}
	r->str_len[1] = alen;
	emit_proc(s, sizeof(*r) + elen + alen);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return FST_GUARDED(exec_note(p, bprm));
}

static __always_inline int exit_note(struct task_struct *p)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct scratch *s;

	/* Only once the whole group is gone: an exec from a non-leader thread
	 * makes the old leader exit while the process lives on. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (follow_mode)
		bpf_map_delete_elem(&followed, &tgid);
	if (tgid == self_tgid || !(s = get_scratch()))
		return 0;
	start_record(s, FST_REC_EXIT);
	emit_proc(s, sizeof(s->rec));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *p)
{
	return FST_GUARDED(exit_note(p));
}

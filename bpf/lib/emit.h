/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The two decisions every event goes through: trace_allowed, early, before
 * any work, and emit, last, which applies the complete filter set of one
 * generation and writes the record to this CPU's ring.
 */
#ifndef __FSTRACE_EMIT_H
#define __FSTRACE_EMIT_H

/* trace_allowed holds every early in-kernel decision about whether an event
 * of this kind from the current task is wanted. */
static __always_inline bool trace_allowed(__u32 kind)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!(kind_mask & (1U << kind)))
		return false;
	if (tgid == self_tgid)
		return false;
	if (follow_mode) {
		__u32 *st = bpf_map_lookup_elem(&followed, &tgid);
		if (!st || *st != FOLLOW_TRACED)
			return false;
	}
	return who_ok_now(kind);
}

/* path_ok looks up record string at off (len bytes) in the path filter. */
static __always_inline bool path_ok(struct scratch *s, const struct filter_cfg *c, __u32 gen,
				    __u32 off, __u32 len, __u32 bit)
{
	struct path_key *k = &s->pkey;
	struct filter_val *v;
	__u32 n = len > PATH_KEY_MAX - 2 ? PATH_KEY_MAX - 2 : len;
	__u32 plen = 1 + n;

	k->data[0] = gen;
	bpf_probe_read_kernel(&k->data[1], n & PATH_KEY_MASK, &s->data[off & STR_OFF_MASK]);
	if (len <= PATH_KEY_MAX - 2 && (n == 0 || k->data[n & PATH_KEY_MASK] != '/')) {
		k->data[(n + 1) & PATH_KEY_MASK] = '/';
		plen++;
	}
	k->prefixlen = plen * 8;
	v = bpf_map_lookup_elem(&filter_path, k);
	if (v && (v->exclude & bit))
		s->path_excl = 1;
	return dim_ok(c, DIM_PATH, v, bit);
}

/* Set by filter_test only (below): the cgroup namespace to judge by; 0
 * reads the current task's. */
volatile __u32 ft_cgns;

/* filter_verdict applies the complete filter set of one generation to the
 * record in the scratch buffer: 1 keeps it. When only --path refused it,
 * and no exclude entry did, it sets s->path_miss: emit_record may still
 * pass it up for user space to match the host paths (lib/host.h). A
 * global function, verified once; filter_test (below) runs it alone. */
__noinline int filter_verdict(void)
{
	struct scratch *s = get_scratch();
	__u32 kind, bit, gen = filter_gen & 1;
	struct fst_record *r;
	struct filter_cfg *c;
	bool ok;

	if (!s)
		return 0;
	s->path_miss = 0;
	s->path_excl = 0;
	r = &s->rec;
	kind = r->kind;
	bit = 1U << (kind & 31);
	c = bpf_map_lookup_elem(&filter_cfgs, &gen);
	if (!c)
		return 1;
	ok = who_ok(gen, kind, r->pid, r->uid, r->gid, r->comm, r->cgroup_id) &&
	     !(c->failed_only && r->ret >= 0);
	if (ok && ((c->any_dims & DIM_CONTAINER) || c->ns_mode != NS_ANY))
		ok = container_ok(c, gen, r->mntns, ft_cgns, bit);
	if (ok && (c->any_dims & DIM_PATH)) {
		ok = path_ok(s, c, gen, 0, r->str_len[0], bit);
		if (!ok && (kind == FST_RENAME || kind == FST_LINK))
			ok = path_ok(s, c, gen, r->str_len[0], r->str_len[1], bit);
		s->path_miss = !ok && !s->path_excl;
	}
	return ok;
}

/*
 * Wakeups (the reader's side is in pkg/tracer/rings.go). While events flow
 * the reader drains the rings on a timer and sets reader_polling: records
 * wake nobody. When it is idle, the kernel's default wakes it for a record
 * written into an empty ring, so a lone event is read at once. Either way a
 * ring filling fast forces a wakeup as it crosses wake_bytes, well before
 * it is full.
 */
const volatile __u64 wake_bytes = 0;
volatile __u32 reader_polling = 0;

static __always_inline __u64 wake_flags(void *ring, __u64 len)
{
	__u64 avail;

	if (wake_bytes) {
		avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
		if (avail < wake_bytes && avail + len >= wake_bytes)
			return BPF_RB_FORCE_WAKEUP;
	}
	return reader_polling ? BPF_RB_NO_WAKEUP : 0;
}

/* emit_record applies the filters and sends header + strings to this CPU's
 * ring. A global function: verified once, not in every program. */
__noinline int emit_record(void)
{
	struct scratch *s = get_scratch();
	struct fst_record *r;
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 zero = 0, kind;
	__u64 len, *seq, *nlost;
	void *ring;

	if (!s)
		return 0;
	r = &s->rec;
	kind = r->kind;
	cg_note(r->cgroup_id);
	if (filter_verdict()) {
		host_paths();
	} else if (s->path_miss && host_paths()) {
		/* a container's event whose host path may match */
		r->rflags |= FST_RF_HOST_FILTER;
	} else {
		count_filtered(kind);
		return 0;
	}

	len = sizeof(*r) + (__u64)r->str_len[0] + r->str_len[1] + r->str_len[2] +
	      r->str_len[3] + r->str_len[4];
	if (len > MAX_RECORD)
		len = MAX_RECORD;
	seq = bpf_map_lookup_elem(&cpu_seq, &zero);
	if (!seq)
		return 0;
	*seq += 1;
	r->cpu_seq = *seq;
	r->cpu = cpu;

	ring = bpf_map_lookup_elem(&rings, &cpu);
	if (ring && bpf_ringbuf_output(ring, r, len, wake_flags(ring, len)) == 0)
		return 1;
	nlost = bpf_map_lookup_elem(&lost, &kind);
	if (nlost)
		*nlost += 1;
	return 0;
}

static __always_inline void emit(struct scratch *s)
{
	emit_record();
}

/* filter_test runs filter_verdict on a record described by the variables
 * below: the unit tests' way into the kernel-side filter logic, with
 * BPF_PROG_TEST_RUN. Never attached. */
volatile __u32 ft_kind, ft_pid, ft_uid, ft_gid, ft_len, ft_len2, ft_verdict, ft_mntns, ft_in_container;
volatile __u8 ft_container[CG_ID_LEN / 2];
volatile __s32 ft_ret;
volatile __u64 ft_cgroup;
volatile char ft_comm[FST_COMM_LEN];
volatile char ft_path[PATH_KEY_MAX];
volatile char ft_path2[PATH_KEY_MAX];

SEC("raw_tp")
int filter_test(void *ctx)
{
	struct scratch *s = get_scratch();
	struct fst_record *r;
	__u32 len = ft_len & PATH_KEY_MASK, len2 = ft_len2 & PATH_KEY_MASK, zero = 0;
	struct cg_last *l = bpf_map_lookup_elem(&cg_last_map, &zero);

	if (!s || !l)
		return 0;
	l->cgid = ft_cgroup;
	l->info.container = ft_in_container;
	bpf_probe_read_kernel(l->info.id, sizeof(l->info.id), (void *)ft_container);
	r = &s->rec;
	r->kind = ft_kind;
	r->pid = ft_pid;
	r->uid = ft_uid;
	r->gid = ft_gid;
	r->ret = ft_ret;
	r->cgroup_id = ft_cgroup;
	r->mntns = ft_mntns;
	bpf_probe_read_kernel(r->comm, sizeof(r->comm), (void *)ft_comm);
	bpf_probe_read_kernel(s->data, len, (void *)ft_path);
	bpf_probe_read_kernel(&s->data[len], len2, (void *)ft_path2);
	r->str_len[0] = len;
	r->str_len[1] = len2;
	ft_verdict = filter_verdict();
	return 0;
}

#endif /* __FSTRACE_EMIT_H */

/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Which container an event comes from, decided in the kernel so that a
 * container living 50 ms is still named, and its filters apply to its very
 * first event.
 *
 * On the first sight of a cgroup (an LRU hash keyed by cgroup id, with a
 * per-CPU slot for the last one seen so that a stream of events from one
 * cgroup looks up nothing) emit_record writes an FST_REC_CGROUP record
 * carrying the cgroup's kernfs names, leaf first, into this CPU's ring,
 * before the event: user space reads it first, parses the path
 * (pkg/container) and attributes every later event of that cgroup id. The
 * record takes no cpu_seq number, so it is never counted as a lost event.
 *
 * The same walk finds the container id for the filters, by the rule
 * pkg/container follows: the deepest name that is 64 characters, or ends
 * in '-' and 64 characters with or without ".scope", must be 64 hex digits.
 */
#ifndef __FSTRACE_CONTAINER_H
#define __FSTRACE_CONTAINER_H

#define CG_DEPTH 16 /* cgroup levels walked; deeper paths are cut (and flagged) */
#define CG_NAME 256 /* kernfs names are at most 255 bytes */
#define CG_DATA 8192
#define CG_MASK 4095 /* a name starts below 4096, so the path stays under 4096 + 256 */
#define CG_ID_LEN 64

/* What the kernel keeps about a cgroup. */
struct cg_info {
	__u8 id[CG_ID_LEN / 2]; /* the container id, binary, first hex digit in the high nibble of id[0] */
	__u32 container;	/* 1: id holds a container id */
	__u32 _pad;
};

struct cg_last {
	__u64 cgid;
	struct cg_info info;
};

struct cg_scratch {
	__u64 kn;   /* cg_step's walk: the node to add next */
	__u32 pos;  /* the length so far */
	__s32 cand; /* where the deepest id starts, or -1 */
	struct fst_record rec;
	char data[CG_DATA]; /* right after rec: one record */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct cg_info);
} cg_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cg_last);
} cg_last_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cg_scratch);
} cg_scratch_map SEC(".maps");

/* Cgroup records the ring could not take: their events are then named
 * from /sys/fs/cgroup, if the cgroup still exists when they are read. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cg_lost SEC(".maps");

/* hexv[c]: 0x10 | the digit's value for a hex digit, 0 for anything else:
 * the id is decoded without a branch, which the verifier would otherwise
 * follow both ways for each of its 64 digits. */
/* clang-format off */
const volatile __u8 hexv[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

/* id_start returns where a name of len bytes at data[pos] holds an id by
 * its shape, or -1. */
static __always_inline int id_start(const char *data, __u32 pos, __u32 len)
{
	__u32 e = pos + len;

	if (len == CG_ID_LEN)
		return pos;
	if (len >= CG_ID_LEN + 7 && data[(e - 6) & (CG_DATA - 1)] == '.' &&
	    data[(e - 5) & (CG_DATA - 1)] == 's' && data[(e - 4) & (CG_DATA - 1)] == 'c' &&
	    data[(e - 3) & (CG_DATA - 1)] == 'o' && data[(e - 2) & (CG_DATA - 1)] == 'p' &&
	    data[(e - 1) & (CG_DATA - 1)] == 'e' && data[(e - CG_ID_LEN - 7) & (CG_DATA - 1)] == '-')
		return e - CG_ID_LEN - 6;
	if (len >= CG_ID_LEN + 1 && data[(e - CG_ID_LEN - 1) & (CG_DATA - 1)] == '-')
		return e - CG_ID_LEN;
	return -1;
}

/*
 * cg_step walks one level up from cs->kn: it appends the node's name and a
 * '/' to cs->data and notes where the deepest id-shaped name's id starts.
 * Returns 1 at the root or when the path is full. A global function, so
 * the verifier checks one level once rather than every path through all
 * of them: unrolled inline, the walk exceeds the verifier's limit.
 */
__noinline int cg_step(void)
{
	__u32 zero = 0, pos;
	struct cg_scratch *cs = bpf_map_lookup_elem(&cg_scratch_map, &zero);
	struct kernfs_node *kn, *parent;
	const char *name;
	long n;

	if (!cs)
		return 1;
	kn = (struct kernfs_node *)cs->kn;
	if (!kn)
		return 1;
	parent = kn_parent(kn);
	if (!parent) /* the root's name is not part of the path */
		return 1;
	name = BPF_CORE_READ(kn, name);
	pos = cs->pos & CG_MASK;
	n = bpf_probe_read_kernel_str(&cs->data[pos], CG_NAME, name);
	if (n <= 0)
		return 1;
	if (cs->cand < 0)
		cs->cand = id_start(cs->data, pos, (__u32)n - 1);
	pos += n; /* the NUL's place takes the '/' */
	cs->data[(pos - 1) & (CG_DATA - 1)] = '/';
	cs->pos = pos;
	cs->kn = (__u64)parent;
	if (pos > FST_PATH_MAX - CG_NAME) {
		if (kn_parent(parent))
			cs->rec.rflags |= FST_RF_PATH_TRUNC;
		return 1;
	}
	return 0;
}

/* cg_walk writes the current task's cgroup names into cs->data, leaf
 * first, and its container id into info. Returns the length written. */
static __always_inline __u32 cg_walk(struct cg_scratch *cs, struct cg_info *info)
{
	struct task_struct *task = cur_task();
	__u32 i, good = 0x10;
	int cand;

	cs->kn = (__u64)BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	cs->pos = 0;
	cs->cand = -1;
	for (i = 0; i < CG_DEPTH; i++)
		if (cg_step())
			break;
	if (i == CG_DEPTH && cs->kn && kn_parent((struct kernfs_node *)cs->kn))
		cs->rec.rflags |= FST_RF_PATH_TRUNC;

	info->container = 0;
	cand = cs->cand;
	if (cand < 0)
		return cs->pos;
#pragma clang loop unroll(disable)
	for (i = 0; i < CG_ID_LEN / 2; i++) {
		__u8 hi = hexv[(__u8)cs->data[(cand + 2 * i) & (CG_DATA - 1)]];
		__u8 lo = hexv[(__u8)cs->data[(cand + 2 * i + 1) & (CG_DATA - 1)]];

		good &= hi & lo;
		info->id[i] = (hi << 4) | (lo & 15);
	}
	info->container = good >> 4;
	return cs->pos;
}

/* cg_note makes the per-CPU slot describe cgroup cgid, the current task's,
 * sending the cgroup's record first if it was never seen. A global
 * function: verified once. */
__noinline int cg_note(__u64 cgid)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct cg_last *last = bpf_map_lookup_elem(&cg_last_map, &zero);
	struct cg_scratch *cs;
	struct cg_info *seen;
	struct fst_record *r;
	__u64 *nlost;
	__u32 len;
	void *ring;

	if (!last)
		return 0;
	if (last->cgid == cgid)
		return 1;
	seen = bpf_map_lookup_elem(&cg_seen, &cgid);
	if (seen) {
		last->info = *seen;
		last->cgid = cgid;
		return 1;
	}
	cs = bpf_map_lookup_elem(&cg_scratch_map, &zero);
	if (!cs)
		return 0;
	r = &cs->rec;
	__builtin_memset(r, 0, sizeof(*r));
	len = cg_walk(cs, &last->info);
	last->cgid = cgid;
	r->ts_ns = bpf_ktime_get_boot_ns();
	r->kind = FST_REC_CGROUP;
	r->cgroup_id = cgid;
	r->cpu = cpu;
	r->str_len[0] = len;
	if (len > FST_PATH_MAX)
		len = FST_PATH_MAX;
	/* Seen from now on, even if the ring is full: user space then reads
	 * /sys/fs/cgroup, rather than every event redoing the walk. */
	bpf_map_update_elem(&cg_seen, &cgid, &last->info, BPF_ANY);
	ring = bpf_map_lookup_elem(&rings, &cpu);
	if (ring && bpf_ringbuf_output(ring, r, sizeof(*r) + len, 0) == 0)
		return 1;
	nlost = bpf_map_lookup_elem(&cg_lost, &zero);
	if (nlost)
		*nlost += 1;
	return 1;
}

/* Container filters (see lib/filter.h): a hash keyed by the first 12 hex
 * digits (6 bytes) of an id; the entry holds the rest of the prefix given,
 * as bytes and a mask. */
#define CTR_KEY_BYTES 6

struct ctr_key {
	__u32 gen;
	__u32 _pad;
	__u64 prefix; /* id[0..5], the rest zero */
};

struct ctr_val {
	struct filter_val v;
	__u64 want[4]; /* the id's bytes as four native words */
	__u64 mask[4]; /* the bits of the prefix given */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ctr_key);
	__type(value, struct ctr_val);
} filter_container SEC(".maps");

/* NS_*: filter_cfg.ns_mode. */
enum {
	NS_ANY = 0,
	NS_HOST = 1,
	NS_CONTAINERS = 2,
};

static __always_inline __u32 cur_cgns(void)
{
	struct task_struct *task = cur_task();

	if (btf_cast)
		return KCAST(struct task_struct, task)->nsproxy->cgroup_ns->ns.inum;
	return BPF_CORE_READ(task, nsproxy, cgroup_ns, ns.inum);
}

static __always_inline __u32 cur_mntns(void)
{
	struct task_struct *task = cur_task();

	if (btf_cast)
		return KCAST(struct task_struct, task)->nsproxy->mnt_ns->ns.inum;
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/* container_ok applies the container filters to the record's task, whose
 * cgroup the per-CPU slot describes (cg_note ran). cgns: its cgroup
 * namespace, 0 to read it now. */
static __always_inline bool container_ok(const struct filter_cfg *c, __u32 gen, __u32 mntns, __u32 cgns, __u32 bit)
{
	__u32 zero = 0;
	struct cg_last *l = bpf_map_lookup_elem(&cg_last_map, &zero);
	bool in;

	if (!l)
		return true;
	in = l->info.container;
	if (c->ns_mode != NS_ANY) {
		bool host;

		if (!cgns)
			cgns = cur_cgns();
		host = !in && mntns == c->host_mntns && cgns == c->host_cgns;
		if ((c->ns_mode == NS_HOST) != host)
			return false;
	}
	if (c->any_dims & DIM_CONTAINER) {
		struct ctr_val *v = NULL;

		if (in) {
			struct ctr_key k = { .gen = gen };
			__u64 w[4];

			__builtin_memcpy(w, l->info.id, sizeof(w));
			__builtin_memcpy(&k.prefix, l->info.id, CTR_KEY_BYTES);
			v = bpf_map_lookup_elem(&filter_container, &k);
			if (v && (((w[0] ^ v->want[0]) & v->mask[0]) || ((w[1] ^ v->want[1]) & v->mask[1]) ||
				  ((w[2] ^ v->want[2]) & v->mask[2]) || ((w[3] ^ v->want[3]) & v->mask[3])))
				v = NULL;
		}
		return dim_ok(c, DIM_CONTAINER, v ? &v->v : NULL, bit);
	}
	return true;
}

/* container_ok_now is container_ok for the current task, early (see
 * who_ok_now): an event of a container left out costs no path work. The
 * cgroup's record is sent here if it was never seen. */
static __always_inline bool container_ok_now(const struct filter_cfg *c, __u32 gen, __u32 bit)
{
	if (!(c->any_dims & DIM_CONTAINER) && c->ns_mode == NS_ANY)
		return true;
	cg_note(bpf_get_current_cgroup_id());
	return container_ok(c, gen, cur_mntns(), 0, bit);
}

#endif /* __FSTRACE_CONTAINER_H */

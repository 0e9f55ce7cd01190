/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * In-kernel filters: who (pid, uid, gid, comm, cgroup, container, host or
 * container namespaces: lib/container.h), what (event kind,
 * failed only) and where (path subtree). An unwanted event costs neither
 * ring space nor a wakeup.
 *
 * Rule: AND across dimensions, OR within one. A dimension with include
 * entries passes an event when an entry for its value includes the event's
 * kind; one with none passes everything. An entry's exclude mask drops the
 * kinds it names, whatever the includes say.
 *
 * Paths match by subtree in an LPM trie keyed by the path bytes with a
 * '/' appended: the entry "/etc/" holds /etc and everything below it, the
 * longest entry wins (an exclude under an include, or the reverse), and a
 * path of any length matches a prefix of up to PATH_KEY_MAX - 2 bytes. For
 * rename and link either side may match.
 *
 * User space replaces the whole filter set at once: every key carries a
 * generation, it fills the idle generation, then flips filter_gen. An event
 * reads filter_gen once for its final decision, so it is judged by one
 * complete set, never by a mix.
 */
#ifndef __FSTRACE_FILTER_H
#define __FSTRACE_FILTER_H

#define PATH_KEY_MAX 256
#define PATH_KEY_MASK (PATH_KEY_MAX - 1) /* an index into path_key.data, bounded */

enum {
	DIM_PID = 1 << 0,
	DIM_UID = 1 << 1,
	DIM_GID = 1 << 2,
	DIM_COMM = 1 << 3,
	DIM_CGROUP = 1 << 4,
	DIM_PATH = 1 << 5,
	DIM_CONTAINER = 1 << 6,
};

struct filter_cfg {
	__u32 kinds;	    /* the global event mask */
	__u32 include_dims; /* dimensions with include entries */
	__u32 any_dims;	    /* dimensions with any entries */
	__u32 failed_only;
	__u32 ns_mode;	  /* NS_* (lib/container.h) */
	__u32 host_mntns; /* the initial mount and cgroup namespaces' inodes */
	__u32 host_cgns;
	__u32 _pad;
};

struct filter_val {
	__u32 include; /* event kinds (1 << kind) */
	__u32 exclude;
};

struct id_key {
	__u32 gen;
	__u32 id;
};

struct comm_key {
	__u32 gen;
	char comm[FST_COMM_LEN];
};

struct cgroup_key {
	__u32 gen;
	__u32 _pad;
	__u64 id;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct filter_cfg);
} filter_cfgs SEC(".maps");

#define ID_FILTER(name)                           \
	struct {                                  \
		__uint(type, BPF_MAP_TYPE_HASH);  \
		__uint(max_entries, 8192);        \
		__type(key, struct id_key);       \
		__type(value, struct filter_val); \
	} name SEC(".maps")

ID_FILTER(filter_pid);
ID_FILTER(filter_uid);
ID_FILTER(filter_gid);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct comm_key);
	__type(value, struct filter_val);
} filter_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct cgroup_key);
	__type(value, struct filter_val);
} filter_cgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct path_key);
	__type(value, struct filter_val);
} filter_path SEC(".maps");

/* Events the filters dropped, by kind. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FST_KIND_MAX);
	__type(key, __u32);
	__type(value, __u64);
} filtered SEC(".maps");

volatile __u32 filter_gen = 0;

static __always_inline void count_filtered(__u32 kind)
{
	__u64 *n = bpf_map_lookup_elem(&filtered, &kind);

	if (n)
		*n += 1;
}

/* dim_ok applies one dimension's verdict; v is the entry for the event's
 * value, or NULL. */
static __always_inline bool dim_ok(const struct filter_cfg *c, __u32 dim, const struct filter_val *v, __u32 bit)
{
	if (v && (v->exclude & bit))
		return false;
	if (!(c->include_dims & dim))
		return true;
	return v && (v->include & bit);
}

static __always_inline bool id_ok(const struct filter_cfg *c, __u32 dim, void *map, __u32 gen, __u32 id, __u32 bit)
{
	struct id_key k = { .gen = gen, .id = id };

	if (!(c->any_dims & dim))
		return true;
	return dim_ok(c, dim, bpf_map_lookup_elem(map, &k), bit);
}

/* who_ok: the filters on who did it and on the kind. comm may be NULL: it
 * is read from the current task then. */
static __always_inline bool who_ok(__u32 gen, __u32 kind, __u32 tgid, __u32 uid, __u32 gid,
				   const char *comm, __u64 cgid)
{
	struct filter_cfg *c = bpf_map_lookup_elem(&filter_cfgs, &gen);
	__u32 bit = 1U << (kind & 31);

	if (!c)
		return true;
	if (!(c->kinds & bit))
		return false;
	if (!id_ok(c, DIM_PID, &filter_pid, gen, tgid, bit) ||
	    !id_ok(c, DIM_UID, &filter_uid, gen, uid, bit) ||
	    !id_ok(c, DIM_GID, &filter_gid, gen, gid, bit))
		return false;
	if (c->any_dims & DIM_COMM) {
		struct comm_key k = { .gen = gen };

		if (comm)
			__builtin_memcpy(k.comm, comm, sizeof(k.comm));
		else
			bpf_get_current_comm(k.comm, sizeof(k.comm));
		if (!dim_ok(c, DIM_COMM, bpf_map_lookup_elem(&filter_comm, &k), bit))
			return false;
	}
	if (c->any_dims & DIM_CGROUP) {
		struct cgroup_key k = { .gen = gen, .id = cgid };

		if (!dim_ok(c, DIM_CGROUP, bpf_map_lookup_elem(&filter_cgroup, &k), bit))
			return false;
	}
	return true;
}

#define WHO_DIMS (DIM_PID | DIM_UID | DIM_GID | DIM_COMM | DIM_CGROUP | DIM_CONTAINER)

/* lib/container.h: the container filters, for the current task. */
static __always_inline bool container_ok_now(const struct filter_cfg *c, __u32 gen, __u32 bit);

/* who_ok_now checks the current task, early, before any work on the event.
 * The final decision is taken again in emit. It asks the kernel only for
 * what a filter in force needs: with none, it costs no helper call. */
static __always_inline bool who_ok_now(__u32 kind)
{
	__u32 gen = filter_gen & 1;
	struct filter_cfg *c = bpf_map_lookup_elem(&filter_cfgs, &gen);
	__u64 pt = 0, ug = 0, cgid = 0;

	if (!c)
		return true;
	if (c->kinds & (1U << (kind & 31))) {
		if (!(c->any_dims & WHO_DIMS) && !c->ns_mode)
			return true;
		if (c->any_dims & DIM_PID)
			pt = bpf_get_current_pid_tgid();
		if (c->any_dims & (DIM_UID | DIM_GID))
			ug = bpf_get_current_uid_gid();
		if (c->any_dims & DIM_CGROUP)
			cgid = bpf_get_current_cgroup_id();
		if (who_ok(gen, kind, pt >> 32, (__u32)ug, ug >> 32, NULL, cgid) &&
		    container_ok_now(c, gen, 1U << (kind & 31)))
			return true;
	}
	count_filtered(kind);
	return false;
}

#endif /* __FSTRACE_FILTER_H */

/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The maps and the per-CPU scratch record every event family shares.
 *
 * Records are assembled in a per-CPU scratch buffer and copied into the
 * ring of the current CPU with bpf_ringbuf_output, which (unlike
 * bpf_ringbuf_reserve) takes a run-time size: a record costs its own
 * length. A record the ring cannot take is counted in `lost`, per CPU and
 * per kind, and still consumes a cpu_seq number so the gap is visible
 * (lib/emit.h).
 *
 * The scratch buffer assumes one program at a time per CPU: tracing
 * programs run with migration disabled, and on kernels with voluntary
 * preemption (Debian up to 6.12) nothing else runs on that CPU until they
 * return. See FST_GUARDED for kernels that preempt them.
 */
#ifndef __FSTRACE_COMMON_H
#define __FSTRACE_COMMON_H

#define DATA_SZ 16384 /* strings 0-2 below STR_OFF_MASK, then the host strings (3, 4) */
#define TMP_SZ 8192   /* path assembly: prefix ends at FST_PATH_MAX, a relative name follows */
#define PATH_MASK (FST_PATH_MAX - 1)

/*
 * Masks that give the verifier a bound it cannot infer. A length or walk
 * position masked with PATH_MAX_MASK is at most 8191, which lets
 * FST_PATH_MAX itself through; an offset of strings 0-2 masked with
 * STR_OFF_MASK is below 8192, so a string of PATH_MAX_MASK bytes written
 * there still ends inside data[DATA_SZ].
 */
#define PATH_MAX_MASK (FST_PATH_MAX | PATH_MASK)
#define STR_OFF_MASK (DATA_SZ / 2 - 1)
#define STR2_MAX 256
#define MAX_RECORD (sizeof(struct fst_record) + DATA_SZ)

/* The path walk's loop state (see walk_path). */
struct walk {
	__u64 dentry;
	__u64 vfsmnt;
	__u64 mnt_root; /* vfsmnt's root dentry, read once per mount */
	__u64 root_d;
	__u64 root_m;
	__u32 pos;
	__u32 trunc;
};

/* The state of tidy_name's pass (lib/path.h): out is the output length,
 * skip drops the next input byte. */
struct tidy {
	__u32 out;
	__u32 skip;
	__u32 len;
	__u32 abs;
};

/* The key of a path filter lookup (lib/filter.h). */
struct path_key {
	__u32 prefixlen; /* in bits, over data */
	__u8 data[256];	 /* generation byte, then the path and '/' */
};

/* Where the file of record string 0 or 1 lies, for its host path
 * (lib/host.h): the last tail bytes of the string are below dentry. dentry
 * 0: none; ANCHOR_ROOT: the task's root (a name passed as absolute). */
struct anchor {
	__u64 dentry;
	__u32 tail;
	__u32 _pad;
};

#define ANCHOR_ROOT 1

struct scratch {
	__u64 addr; /* to_addr's slot (lib/path.h) */
	struct walk walk;
	__u64 walk_from; /* the dentry walk_path last started from */
	struct anchor anchor[2];
	__u32 path_miss; /* filter_verdict: only --path failed, and by no exclude */
	__u32 path_excl; /* path_ok: an exclude entry matched */
	struct tidy tidy;
	struct path_key pkey;
	struct fst_record rec;
	char data[DATA_SZ];
	char tmp[TMP_SZ];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* One ring per CPU; user space sizes the outer map and fills it. */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cpu_seq SEC(".maps");

/* Records the ring could not take, by kind. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FST_KIND_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Processes followed in `fstrace -- CMD` mode: tgid -> FOLLOW_* (follow*
 * in pkg/tracer/tracer.go). */
enum {
	FOLLOW_ARMED = 1,
	FOLLOW_TRACED = 2,
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} followed SEC(".maps");

/* Set before load. */
const volatile __u32 self_tgid = 0;
const volatile bool follow_mode = false;

/* The kinds whose programs are loaded; the run-time event mask is part of
 * the filters (lib/filter.h). */
const volatile __u32 kind_mask = 0xffffffff;

static __always_inline struct task_struct *cur_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch_map, &zero);
}

/* copy_comm copies a task's name as bpf_get_current_comm would, NUL-padded
 * (the comm filter's keys are all 16 bytes), for a third of its cost. */
static __always_inline void copy_comm(char *dst, struct task_struct *t)
{
	bool end = false;
	int i;

#pragma unroll
	for (i = 0; i < FST_COMM_LEN; i++) {
		char c = end ? 0 : t->comm[i];

		end = end || !c;
		dst[i] = c;
	}
	dst[FST_COMM_LEN - 1] = 0;
}

/* start_record zeroes the header and fills in who did it. */
static __always_inline struct fst_record *start_record(struct scratch *s, __u32 kind)
{
	struct fst_record *r = &s->rec;
	struct task_struct *task = (void *)bpf_get_current_task();
	__u64 pt, ug;

	__builtin_memset(r, 0, sizeof(*r));
	r->fd = -1;
	s->anchor[0].dentry = 0;
	s->anchor[1].dentry = 0;
	r->ts_ns = bpf_ktime_get_boot_ns();
	r->kind = kind;
	if (btf_cast) {
		/* what the helpers below return, loaded directly: ids in
		 * the initial namespaces, the default hierarchy's cgroup */
		struct task_struct *t = KCAST(struct task_struct, task);
		const struct cred *cred = t->cred;

		r->pid = t->tgid;
		r->tid = t->pid;
		r->uid = cred->uid.val;
		r->gid = cred->gid.val;
		r->euid = cred->euid.val;
		r->egid = cred->egid.val;
		r->auid = have_loginuid() ? t->loginuid.val : FST_NO_AUID;
		r->ppid = t->real_parent->tgid;
		r->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
		r->mntns = t->nsproxy->mnt_ns->ns.inum;
		copy_comm(r->comm, t);
		return r;
	}
	pt = bpf_get_current_pid_tgid();
	ug = bpf_get_current_uid_gid();
	r->pid = pt >> 32;
	r->tid = (__u32)pt;
	r->uid = (__u32)ug;
	r->gid = ug >> 32;
	r->ppid = BPF_CORE_READ(task, real_parent, tgid);
	r->euid = BPF_CORE_READ(task, cred, euid.val);
	r->egid = BPF_CORE_READ(task, cred, egid.val);
	r->auid = have_loginuid() ? BPF_CORE_READ(task, loginuid.val) : FST_NO_AUID;
	r->cgroup_id = bpf_get_current_cgroup_id();
	r->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	return r;
}

/* read_inode reads an inode's number and its filesystem's device. */
static __always_inline void read_inode(struct inode *inode, __u64 *ino, __u32 *dev)
{
	if (btf_cast) {
		struct inode *i = KCAST(struct inode, inode);

		*ino = i->i_ino;
		*dev = i->i_sb->s_dev;
	} else {
		*ino = BPF_CORE_READ(inode, i_ino);
		*dev = BPF_CORE_READ(inode, i_sb, s_dev);
	}
}

static __always_inline void set_inode(struct fst_record *r, struct inode *inode)
{
	if (!inode)
		return;
	read_inode(inode, &r->ino, &r->dev);
	r->rflags |= FST_RF_HAS_INO;
}

#endif /* __FSTRACE_COMMON_H */

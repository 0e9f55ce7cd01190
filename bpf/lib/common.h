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

#define DATA_SZ 16384	/* str0 (<=4096) + str1 (<=4096) + str2, offsets masked with 8191;
			 * then the host strings (str 3, 4), offsets masked with DATA_SZ - 1 */
#define TMP_SZ 8192	/* path assembly: prefix ends at FST_PATH_MAX, a relative name follows */
#define PATH_MASK (FST_PATH_MAX - 1)
#define STR2_MAX 256
#define MAX_RECORD (sizeof(struct fst_record) + DATA_SZ)

#define AT_FDCWD -100
#define EINVAL 22

/* The path walk's loop state (see walk_path). */
struct walk {
	__u64 dentry;
	__u64 vfsmnt;
	__u64 mnt_root;	/* vfsmnt's root dentry, read once per mount */
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
	__u32 prefixlen;	/* in bits, over data */
	__u8 data[256];		/* generation byte, then the path and '/' */
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
	__u64 addr;	/* to_addr's slot (lib/path.h) */
	struct walk walk;
	__u64 walk_from;	/* the dentry walk_path last started from */
	struct anchor anchor[2];
	__u32 path_miss;	/* filter_verdict: only --path failed, and by no exclude */
	__u32 path_excl;	/* path_ok: an exclude entry matched */
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

/* Processes followed in `fstrace -- CMD` mode: tgid -> FOLLOW_*. */
enum { FOLLOW_ARMED = 1, FOLLOW_TRACED = 2 };
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

/*
 * fentry/fexit programs, and since syscall tracepoints became faultable
 * those on sys_enter/sys_exit, run with migration disabled but can be
 * preempted where the kernel preempts (full or lazy preemption, as on
 * Debian's 7.x). A run preempted halfway could have its scratch record
 * overwritten by another program on that CPU. Where the kernel has
 * bpf_preempt_disable and lets global functions run with preemption off
 * (probed at load time: preempt_guard), such a program keeps preemption
 * off from its first instruction to its last.
 *
 * The task can still be preempted at that last instruction, inside the
 * kernel's window around the program, and the kernel then skips the
 * program for every other task on that CPU until it resumes (recursion
 * protection; counted in the program's recursion misses, which user space
 * reports). Measured on 7.2 in syscall mode under QEMU: ~600 skipped runs
 * and up to 130 of 20 000 creates gone. The syscall programs have backup
 * copies for that (sys.c).
 */
extern void bpf_preempt_disable(void) __weak __ksym;
extern void bpf_preempt_enable(void) __weak __ksym;
const volatile bool preempt_guard = false;

/* FST_GUARDED(expr): evaluates the int expression with preemption off. */
#define FST_GUARDED(expr) ({			\
	int __ret;				\
	if (preempt_guard)			\
		bpf_preempt_disable();		\
	__ret = (expr);				\
	if (preempt_guard)			\
		bpf_preempt_enable();		\
	__ret;					\
})

/*
 * Reading kernel memory. A bpf_probe_read_kernel call costs about 30 ns
 * (host 6.18, measured); a load through a BTF-typed pointer, which the JIT
 * makes one instruction with a fault handler, next to nothing. Since 6.2
 * bpf_rdonly_cast gives any address such a type, and costs nothing itself
 * (the verifier turns the call into a move). Where user space found it
 * (btf_cast), the hot paths load directly; elsewhere they read through
 * helpers, as BPF_CORE_READ does. The branch not taken is dead code to the
 * verifier, so older kernels never see the kfunc.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __weak __ksym;
const volatile bool btf_cast = false;

#define KCAST(type, p) ((type *)bpf_rdonly_cast((const void *)(__u64)(p), bpf_core_type_id_kernel(type)))

/* KREAD(type, p, field): p->field, for one level of fields. */
#define KREAD(type, p, field) ({					\
	type *__kp = (type *)(p);					\
	btf_cast ? KCAST(type, __kp)->field : BPF_CORE_READ(__kp, field); \
})

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
		r->auid = bpf_core_field_exists(t->loginuid) ? t->loginuid.val : FST_NO_AUID;
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
	/* CONFIG_AUDIT's */
	r->auid = bpf_core_field_exists(task->loginuid) ? BPF_CORE_READ(task, loginuid.val) : FST_NO_AUID;
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

/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Operations that span a syscall: the namei entry point (do_unlinkat and
 * friends) sees the names and the final result, the security_path_* hook
 * in between sees the dentries. Failures such as ENOENT never reach the
 * second, so the names the process passed are copied on entry (they are
 * freed before the exit hook runs) and replaced by the canonical path once
 * a dentry is known. The entry is keyed by thread and always deleted on
 * the exit path. A plain hash, not an LRU one: an LRU map may evict a live
 * entry (or fail to insert) under churn from several CPUs, and an event
 * would be gone without a trace. An entry whose exit never fired is
 * overwritten by its thread's next operation.
 */
#ifndef __FSTRACE_INFLIGHT_H
#define __FSTRACE_INFLIGHT_H

struct inflight {
	__u64 dentry;	   /* the dentry created, for its inode on success */
	__u64 anc[2];	   /* name, name2 once resolved: the parent's dentry (lib/host.h) */
	__u16 anc_tail[2]; /* and the bytes of the name below it */
	__u64 flags;
	__u64 ino;
	__u32 dev;
	__u32 mode;
	__s32 dfd;
	__s32 dfd2;
	__u16 kind;
	__u16 len; /* name length once resolved */
	__u16 len2;
	__u8 resolved; /* name holds the canonical absolute path */
	__u8 resolved2;
	__u8 trunc;
	__u8 trunc2;
	__u8 has_ino;
	__u8 unknown; /* bit 0: name, bit 1: name2 could not be read */
	/* syscall mode: the syscall, and a setattr's requested change */
	__u32 sysno;
	__u32 attr_mask;
	__u32 attr_uid;
	__u32 attr_gid;
	__u64 size;
	__s64 atime_sec;
	__s64 mtime_sec;
	__u32 atime_nsec;
	__u32 mtime_nsec;
	char name[FST_PATH_MAX];  /* str 0 */
	char name2[FST_PATH_MAX]; /* str 1: second path, symlink target, mount source */
	char name3[STR2_MAX];	  /* str 2: mount fstype (syscall mode) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight_ops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight_stage SEC(".maps");

static __always_inline __u32 cur_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline struct inflight *stage_begin(__u32 kind)
{
	__u32 zero = 0;
	struct inflight *in = bpf_map_lookup_elem(&inflight_stage, &zero);

	if (!in)
		return NULL;
	__builtin_memset(in, 0, offsetof(struct inflight, name));
	in->kind = kind;
	in->name[0] = 0;
	in->name2[0] = 0;
	in->name3[0] = 0;
	return in;
}

static __always_inline void stage_commit(struct inflight *in)
{
	__u32 tid = cur_tid();

	bpf_map_update_elem(&inflight_ops, &tid, in, BPF_ANY);
}

/* copy_name copies a namei argument: a struct filename *, or on old kernels
 * a user pointer (bit set in user_names). It returns false when the name
 * could not be read: a user page not yet faulted in, or a bad pointer. */
static __always_inline bool copy_name(char *dst, const void *arg, __u32 hook)
{
	if (user_names & hook)
		return bpf_probe_read_user_str(dst, FST_PATH_MAX, arg) > 0;
	if (!arg || is_err(arg))
		return false;
	return bpf_probe_read_kernel_str(dst, FST_PATH_MAX, KREAD(struct filename, arg, name)) > 0;
}

static __always_inline struct inflight *inflight_get(__u32 kind)
{
	__u32 tid = cur_tid();
	struct inflight *in = bpf_map_lookup_elem(&inflight_ops, &tid);

	if (!in || in->kind != kind)
		return NULL;
	return in;
}

/* resolve stores the canonical path of (dentry, mnt) in name (second=0) or
 * name2 (second=1) of the in-flight entry. */
static __always_inline void resolve(struct scratch *s, struct inflight *in, struct dentry *d,
				    struct vfsmount *m, int second)
{
	__u32 w = walk_path(to_addr(d), to_addr(m));
	__u32 pos = w & PATH_MAX_MASK;
	__u32 len = FST_PATH_MAX - pos;

	if (len > FST_PATH_MAX)
		len = 0;
	/* The parent, not the dentry: a rename moves old_dentry before the
	 * record is written. A mount's root is its own anchor (the walk went
	 * to its mount point first). */
	if ((__u64)d == (__u64)KREAD(struct vfsmount, m, mnt_root)) {
		in->anc[second & 1] = (__u64)d;
		in->anc_tail[second & 1] = 0;
	} else {
		in->anc[second & 1] = (__u64)KREAD(struct dentry, d, d_parent);
		in->anc_tail[second & 1] = (KREAD(struct dentry, d, d_name.len) & NAME_MASK) + 1;
	}
	if (second) {
		bpf_probe_read_kernel(in->name2, len & PATH_MAX_MASK, &s->tmp[pos & PATH_MASK]);
		in->len2 = len;
		in->resolved2 = 1;
		in->trunc2 = !!(w & WALK_TRUNC);
	} else {
		bpf_probe_read_kernel(in->name, len & PATH_MAX_MASK, &s->tmp[pos & PATH_MASK]);
		in->len = len;
		in->resolved = 1;
		in->trunc = !!(w & WALK_TRUNC);
	}
}

static __always_inline void set_inflight_inode(struct inflight *in, struct dentry *d)
{
	struct inode *inode = KREAD(struct dentry, d, d_inode);

	if (!inode)
		return;
	read_inode(inode, &in->ino, &in->dev);
	in->has_ino = 1;
}

/* put_name writes name (idx 0) or name2 (idx 1) as record string idx. */
static __always_inline __u32 put_name(struct scratch *s, struct inflight *in, __u32 off, int idx)
{
	if (idx == 0) {
		if (!in->resolved && (in->unknown & 1)) {
			s->rec.rflags |= FST_RF_PATH_UNKNOWN;
			return 0;
		}
		if (!in->resolved)
			return name_path(in->dfd, to_addr(in->name), off, 0);
		bpf_probe_read_kernel(&s->data[off & STR_OFF_MASK], in->len & PATH_MAX_MASK, in->name);
		s->rec.str_len[0] = in->len;
		set_anchor(s, 0, in->anc[0], in->anc_tail[0]);
		if (in->trunc)
			s->rec.rflags |= FST_RF_PATH_TRUNC;
		return in->len;
	}
	if (!in->resolved2 && (in->unknown & 2)) {
		s->rec.rflags |= FST_RF_PATH2_UNKNOWN;
		return 0;
	}
	if (!in->resolved2)
		return name_path(in->dfd2, to_addr(in->name2), off, 1);
	bpf_probe_read_kernel(&s->data[off & STR_OFF_MASK], in->len2 & PATH_MAX_MASK, in->name2);
	s->rec.str_len[1] = in->len2;
	set_anchor(s, 1, in->anc[1], in->anc_tail[1]);
	if (in->trunc2)
		s->rec.rflags |= FST_RF_PATH2_TRUNC;
	return in->len2;
}

/* inflight_fill copies what the operation asked for into the record. */
static __always_inline void inflight_fill(struct fst_record *r, const struct inflight *in)
{
	r->flags = in->flags;
	r->mode = in->mode;
	r->attr_mask = in->attr_mask;
	r->attr_uid = in->attr_uid;
	r->attr_gid = in->attr_gid;
	r->size = in->size;
	r->atime_sec = in->atime_sec;
	r->atime_nsec = in->atime_nsec;
	r->mtime_sec = in->mtime_sec;
	r->mtime_nsec = in->mtime_nsec;
}

/* finish emits the record of an in-flight operation with its result and
 * deletes the entry. two_paths: name2 is a second path (rename, link)
 * rather than a raw string (symlink target). */
static __always_inline void finish(struct inflight *in, int ret, bool two_paths)
{
	struct scratch *s = get_scratch();
	__u32 tid = cur_tid();
	struct fst_record *r;
	__u32 off;

	if (!s)
		goto out;
	r = start_record(s, in->kind);
	r->ret = ret;
	inflight_fill(r, in);
	if (in->kind == FST_CREATE || in->kind == FST_MKDIR || in->kind == FST_MKNOD)
		r->rflags |= FST_RF_HAS_MODE;
	if (in->has_ino) {
		r->ino = in->ino;
		r->dev = in->dev;
		r->rflags |= FST_RF_HAS_INO;
	} else if (ret == 0 && in->dentry) {
		set_inode(r, KREAD(struct dentry, in->dentry, d_inode));
	}
	off = put_name(s, in, 0, 0);
	if (two_paths) {
		put_name(s, in, off, 1);
	} else if (in->unknown & 2) {
		s->rec.rflags |= FST_RF_PATH2_UNKNOWN;
	} else if (in->name2[0]) {
		off += put_str(s, in->name2, off, 1, FST_PATH_MAX);
	}
	if (in->name3[0])
		put_str(s, in->name3, off, 2, STR2_MAX);
	emit(s);
out:
	bpf_map_delete_elem(&inflight_ops, &tid);
}

/* inflight_drop forgets the thread's in-flight operation of this kind. */
static __always_inline void inflight_drop(__u32 kind)
{
	__u32 tid = cur_tid();

	if (inflight_get(kind))
		bpf_map_delete_elem(&inflight_ops, &tid);
}

static __always_inline void namei_enter(__u32 kind, int dfd, const void *name, __u32 hook)
{
	struct inflight *in;

	if (!trace_allowed(kind))
		return;
	in = stage_begin(kind);
	if (!in)
		return;
	in->dfd = dfd;
	if (!copy_name(in->name, name, hook))
		in->unknown |= 1;
	stage_commit(in);
}

/* namei_resolve records the dentry a security_path_* hook was given. */
static __always_inline void namei_resolve(struct inflight *in, const struct path *dir, struct dentry *dentry)
{
	struct scratch *s = get_scratch();

	if (!s)
		return;
	resolve(s, in, dentry, KREAD(struct path, dir, mnt), 0);
	in->dentry = (__u64)dentry;
}

static __always_inline void namei_exit(__u32 kind, int ret)
{
	struct inflight *in = inflight_get(kind);

	if (in)
		finish(in, ret, kind == FST_LINK || kind == FST_RENAME);
}

#endif /* __FSTRACE_INFLIGHT_H */

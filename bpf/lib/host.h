/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Where a container's file lies on the host.
 *
 * A task whose root is not the host's root (a chroot, or a container or
 * unshare -m: another mount namespace) sees paths the host does not. For its events each path string (0, and 1 for rename
 * and link) gets a twin (3, 4): the file's filesystem (s_dev) and its path
 * from that filesystem's root, found by walking d_parent up to the
 * filesystem's root without crossing mounts. User space places it in the
 * host's mount table (pkg/mounts) to give host_path; a filesystem the host
 * has not mounted (a tmpfs only the container sees) gives none.
 *
 * The twin starts from the record's anchor (struct anchor): the dentry its
 * path string was walked from, or the parent directory of a name the
 * fentry and kprobe modes resolved, followed by the bytes of the string
 * below it (the name). A name the syscall mode did not look up (every kind
 * but open and create there, and failures in all modes) is anchored at the
 * directory it is relative to, or at the task's root when absolute: exact
 * unless the name itself crosses a mount.
 *
 * A host task pays for the check alone (task_is_host), done once per
 * record that has an anchor.
 */
#ifndef __FSTRACE_HOST_H
#define __FSTRACE_HOST_H

/* The mount id of the host's root: pid 1's, as statx(STATX_MNT_ID) of
 * /proc/1/root gives it; set before load. Mount ids are unique across
 * namespaces: a process in another mount namespace has a copy of the root
 * mount, with an id of its own, and a chrooted one a root that is no
 * mount's root, or another mount. 0: every task is the host's. */
const volatile __s32 host_root_mnt = 0;

/* The host's root as the first host task seen had it (task_is_host):
 * later tasks compare two pointers, for two helper calls fewer where
 * there is no btf_cast. */
volatile __u64 host_root_d = 0, host_root_m = 0;

/* task_is_host: the task's root is the host's root. */
static __always_inline bool task_is_host(void)
{
	struct task_struct *task = cur_task();
	struct vfsmount *rm;
	struct dentry *rd;
	bool host;

	if (!host_root_mnt)
		return true;
	if (btf_cast) {
		struct fs_struct *fs = KCAST(struct task_struct, task)->fs;

		rd = fs->root.dentry;
		rm = fs->root.mnt;
	} else {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);
		struct path root;

		__builtin_memset(&root, 0, sizeof(root));
		bpf_core_read(&root, sizeof(root), &fs->root);
		rd = root.dentry;
		rm = root.mnt;
	}
	if ((__u64)rd == host_root_d && (__u64)rm == host_root_m && host_root_d)
		return true;
	host = KREAD(struct mount, real_mount(rm), mnt_id) == host_root_mnt &&
	       (__u64)rd == (__u64)KREAD(struct vfsmount, rm, mnt_root);
	if (host) {
		host_root_d = (__u64)rd;
		host_root_m = (__u64)rm;
	}
	return host;
}

/* walk_sb writes into tmp, as walk_path does, the path of a dentry from
 * the root of its filesystem: the walk's task root and mount root are
 * left at 0, which no dentry is, so that only a dentry that is its own
 * parent ends it. Global, verified once (see walk_path). */
__noinline __u32 walk_sb(__u64 dentry_addr)
{
	struct scratch *s = get_scratch();
	struct walk *w;

	if (!s)
		return FST_PATH_MAX | WALK_TRUNC;
	w = &s->walk;
	w->dentry = dentry_addr;
	w->vfsmnt = 0;
	w->mnt_root = 0;
	w->root_d = 0;
	w->root_m = 0;
	return walk_run(s);
}

/* put_host writes the twin of string idx at off (see above) and returns its
 * length; 0 when there is none: no anchor, a walk cut short, or no room. */
static __always_inline __u32 put_host(struct scratch *s, __u32 idx, __u32 off)
{
	struct anchor *a = &s->anchor[idx & 1];
	__u32 slen = s->rec.str_len[idx & 1], src, tail, w, pos, plen, total;
	__u64 d = a->dentry;
	__u32 dev;

	if (!d)
		return 0;
	if (d == ANCHOR_ROOT) {
		struct task_struct *t = cur_task();

		d = to_addr(btf_cast ? KCAST(struct task_struct, t)->fs->root.dentry : BPF_CORE_READ(t, fs, root.dentry));
	}
	tail = a->tail;
	if (tail > slen || slen > FST_PATH_MAX)
		return 0;
	src = (idx ? s->rec.str_len[0] : 0) + slen - tail;
	w = walk_sb(d);
	if (w & WALK_TRUNC)
		return 0;
	pos = w & PATH_MASK;
	plen = FST_PATH_MAX - pos;
	if (tail && plen == 1) /* the root: "/" and "/x" make "/x" */
		plen = 0;
	total = 4 + plen + tail;
	if (plen + tail > FST_PATH_MAX || off + total > DATA_SZ)
		return 0;
	dev = KREAD(struct super_block, KREAD(struct dentry, (struct dentry *)d, d_sb), s_dev);
	s->data[off & (DATA_SZ - 1)] = dev;
	s->data[(off + 1) & (DATA_SZ - 1)] = dev >> 8;
	s->data[(off + 2) & (DATA_SZ - 1)] = dev >> 16;
	s->data[(off + 3) & (DATA_SZ - 1)] = dev >> 24;
	barrier_var(plen);
	barrier_var(tail);
	bpf_probe_read_kernel(&s->data[(off + 4) & (DATA_SZ - 1)], plen & PATH_MAX_MASK,
			      &s->tmp[pos & PATH_MASK]);
	bpf_probe_read_kernel(&s->data[(off + 4 + plen) & (DATA_SZ - 1)], tail & PATH_MAX_MASK,
			      &s->data[src & STR_OFF_MASK]);
	s->rec.str_len[3 + (idx & 1)] = total;
	return total;
}

/* host_paths adds the twins of the record's path strings when the task is
 * not the host's, and says whether it did add one. Global: verified once,
 * called by emit_record. */
__noinline int host_paths(void)
{
	struct scratch *s = get_scratch();
	__u32 off, n;

	if (!s)
		return 0;
	s->rec.str_len[3] = 0;
	s->rec.str_len[4] = 0;
	if (!s->anchor[0].dentry && !s->anchor[1].dentry)
		return 0;
	if (task_is_host())
		return 0;
	off = s->rec.str_len[0] + s->rec.str_len[1] + s->rec.str_len[2];
	n = put_host(s, 0, off);
	n += put_host(s, 1, off + n);
	return n > 0;
}

#endif /* __FSTRACE_HOST_H */

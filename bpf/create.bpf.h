/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * create, mkdir, mknod, symlink, link: namei entry (do_mkdirat...; the
 * filename_* functions on 7.2) → security_path_* (the new dentry and its
 * mount) → namei exit (the result). See lib/inflight.h.
 *
 * The security_path_* hooks are used rather than vfs_mkdir and friends
 * because their arguments have not moved between 5.10 and 7.2, while the
 * vfs_* ones gained a user_namespace, then a mnt_idmap, then lost `dir`.
 */

/* mkdir */
FST_ENTRY(do_mkdirat, mkdir_enter, int dfd, const void *name, umode_t mode)
{
	struct inflight *in;

	namei_enter(FST_MKDIR, dfd, name, NAMEI_MKDIR);
	in = inflight_get(FST_MKDIR);
	if (in)
		in->mode = mode;
	return 0;
}

FST_ENTRY(security_path_mkdir, mkdir_path, const struct path *dir, struct dentry *dentry, umode_t mode)
{
	struct inflight *in = inflight_get(FST_MKDIR);

	if (in)
		namei_resolve(in, dir, dentry);
	return 0;
}

FST_EXIT(do_mkdirat, mkdir_exit, HOOK_MKDIR, int dfd, const void *name, umode_t mode, int ret)
{
	namei_exit(FST_MKDIR, ret);
	return 0;
}

/* mknod(2): a regular file (S_IFREG or no type) is a `create`. */
static __always_inline __u32 mknod_kind(umode_t mode)
{
	__u32 type = mode & S_IFMT;

	return type == 0 || type == S_IFREG ? FST_CREATE : FST_MKNOD;
}

FST_ENTRY(do_mknodat, mknod_enter, int dfd, const void *name, umode_t mode, unsigned int dev)
{
	__u32 kind = mknod_kind(mode);
	struct inflight *in;

	namei_enter(kind, dfd, name, NAMEI_MKNOD);
	in = inflight_get(kind);
	if (in)
		in->mode = (mode & S_IFMT) ? mode : (mode | S_IFREG);
	return 0;
}

/* security_path_mknod serves mknod(2) and open(O_CREAT) alike. */
FST_ENTRY(security_path_mknod, mknod_path, const struct path *dir, struct dentry *dentry, umode_t mode, unsigned int dev)
{
	struct inflight *in = inflight_get(mknod_kind(mode));
	struct creat_mark cm = {};
	__u32 tid;

	if (in) {
		namei_resolve(in, dir, dentry);
		return 0;
	}
	if (!trace_allowed(FST_CREATE))
		return 0;
	tid = cur_tid();
	cm.dentry = (__u64)dentry;
	cm.mode = mode;
	bpf_map_update_elem(&creat_marks, &tid, &cm, BPF_ANY);
	return 0;
}

FST_EXIT(do_mknodat, mknod_exit, HOOK_MKNOD, int dfd, const void *name, umode_t mode, unsigned int dev, int ret)
{
	namei_exit(mknod_kind(mode), ret);
	return 0;
}

/* symlink: path is the new link, the target is kept as given. */
FST_ENTRY(do_symlinkat, symlink_enter, const void *from, int newdfd, const void *to)
{
	struct inflight *in;

	namei_enter(FST_SYMLINK, newdfd, to, NAMEI_SYMLINK);
	in = inflight_get(FST_SYMLINK);
	if (in)
		if (!copy_name(in->name2, from, NAMEI_SYMLINK))
			in->unknown |= 2;
	return 0;
}

FST_ENTRY(security_path_symlink, symlink_path, const struct path *dir, struct dentry *dentry, const char *old_name)
{
	struct inflight *in = inflight_get(FST_SYMLINK);

	if (in)
		namei_resolve(in, dir, dentry);
	return 0;
}

FST_EXIT(do_symlinkat, symlink_exit, HOOK_SYMLINK, const void *from, int newdfd, const void *to, int ret)
{
	namei_exit(FST_SYMLINK, ret);
	return 0;
}

/* link: path is the existing name, new_path the new one. */
FST_ENTRY(do_linkat, link_enter, int olddfd, const void *old, int newdfd, const void *new, int flags)
{
	struct inflight *in;

	namei_enter(FST_LINK, olddfd, old, NAMEI_LINK);
	in = inflight_get(FST_LINK);
	if (in) {
		in->dfd2 = newdfd;
		if (!copy_name(in->name2, new, NAMEI_LINK))
			in->unknown |= 2;
	}
	return 0;
}

FST_ENTRY(security_path_link, link_path, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry)
{
	struct inflight *in = inflight_get(FST_LINK);
	struct scratch *s;
	struct vfsmount *m;

	if (!in || !(s = get_scratch()))
		return 0;
	/* A hard link never crosses a mount: both names live on new_dir's. */
	m = KREAD(struct path, new_dir, mnt);
	resolve(s, in, old_dentry, m, 0);
	resolve(s, in, new_dentry, m, 1);
	set_inflight_inode(in, old_dentry);
	return 0;
}

FST_EXIT(do_linkat, link_exit, HOOK_LINK, int olddfd, const void *old, int newdfd, const void *new, int flags, int ret)
{
	namei_exit(FST_LINK, ret);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * rename: do_renameat2 (filename_renameat2 on 7.2) → security_path_rename,
 * which sees both dentries with their mounts and the RENAME_* flags even
 * for RENAME_EXCHANGE → exit.
 */

FST_ENTRY(do_renameat2, rename_enter, int olddfd, const void *from, int newdfd, const void *to, unsigned int flags)
{
	struct inflight *in;

	namei_enter(FST_RENAME, olddfd, from, NAMEI_RENAME);
	in = inflight_get(FST_RENAME);
	if (in) {
		in->dfd2 = newdfd;
		in->flags = flags;
		if (!copy_name(in->name2, to, NAMEI_RENAME))
			in->unknown |= 2;
	}
	return 0;
}

FST_ENTRY(security_path_rename, rename_path, const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry, unsigned int flags)
{
	struct inflight *in = inflight_get(FST_RENAME);
	struct scratch *s;

	if (!in || !(s = get_scratch()))
		return 0;
	resolve(s, in, old_dentry, KREAD(struct path, old_dir, mnt), 0);
	resolve(s, in, new_dentry, KREAD(struct path, new_dir, mnt), 1);
	set_inflight_inode(in, old_dentry);
	return 0;
}

FST_EXIT(do_renameat2, rename_exit, HOOK_RENAME, int olddfd, const void *from, int newdfd, const void *to, unsigned int flags, int ret)
{
	namei_exit(FST_RENAME, ret);
	return 0;
}

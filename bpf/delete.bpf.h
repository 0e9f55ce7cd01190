/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * unlink, rmdir: do_unlinkat/do_rmdir (filename_* on 7.2) → security_path_*
 * → exit, as in create.c. The inode is read at the security hook, while
 * the name still has one.
 */

static __always_inline void delete_resolve(__u32 kind, const struct path *dir, struct dentry *dentry)
{
	struct inflight *in = inflight_get(kind);

	if (!in)
		return;
	namei_resolve(in, dir, dentry);
	set_inflight_inode(in, dentry);
}

FST_ENTRY(do_unlinkat, unlink_enter, int dfd, const void *name)
{
	namei_enter(FST_UNLINK, dfd, name, NAMEI_UNLINK);
	return 0;
}

FST_ENTRY(security_path_unlink, unlink_path, const struct path *dir, struct dentry *dentry)
{
	delete_resolve(FST_UNLINK, dir, dentry);
	return 0;
}

FST_EXIT(do_unlinkat, unlink_exit, HOOK_UNLINK, int dfd, const void *name, int ret)
{
	namei_exit(FST_UNLINK, ret);
	return 0;
}

FST_ENTRY(do_rmdir, rmdir_enter, int dfd, const void *name)
{
	namei_enter(FST_RMDIR, dfd, name, NAMEI_RMDIR);
	return 0;
}

FST_ENTRY(security_path_rmdir, rmdir_path, const struct path *dir, struct dentry *dentry)
{
	delete_resolve(FST_RMDIR, dir, dentry);
	return 0;
}

FST_EXIT(do_rmdir, rmdir_exit, HOOK_RMDIR, int dfd, const void *name, int ret)
{
	namei_exit(FST_RMDIR, ret);
	return 0;
}

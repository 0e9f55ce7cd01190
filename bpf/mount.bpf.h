/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * mount: fexit on path_mount, which every mount(2) reaches once the mount
 * point is looked up; the path is the mount point in its parent mount.
 * umount: path_umount detaches the mount it is given before it returns, so
 * the mount point is resolved on entry and reported on exit.
 */

FST_EXIT(path_mount, mount_exit, HOOK_MOUNT, const char *dev_name, const struct path *path, const char *type_page, unsigned long flags, void *data_page, int ret)
{
	struct scratch *s;
	__u32 off;

	inflight_drop(FST_MOUNT); /* seen here: not a lookup failure (lookup_fail.bpf.h) */
	if (!trace_allowed(FST_MOUNT) || !(s = get_scratch()))
		return 0;
	start_record(s, FST_MOUNT);
	s->rec.ret = ret;
	s->rec.flags = flags;
	off = put_path(s, KREAD(struct path, path, dentry), KREAD(struct path, path, mnt), 0, 0);
	off += put_str(s, dev_name, off, 1, FST_PATH_MAX);
	put_str(s, type_page, off, 2, STR2_MAX);
	emit(s);
	return 0;
}

FST_ENTRY(path_umount, umount_enter, struct path *path, int flags)
{
	struct inflight *in;
	struct scratch *s;

	if (!trace_allowed(FST_UMOUNT) || !(s = get_scratch()))
		return 0;
	in = stage_begin(FST_UMOUNT);
	if (!in)
		return 0;
	in->flags = flags;
	stage_commit(in);
	in = inflight_get(FST_UMOUNT);
	if (in)
		resolve(s, in, KREAD(struct path, path, dentry), KREAD(struct path, path, mnt), 0);
	return 0;
}

FST_EXIT(path_umount, umount_exit, HOOK_UMOUNT, struct path *path, int flags, int ret)
{
	struct inflight *in = inflight_get(FST_UMOUNT);

	if (in)
		finish(in, ret, false);
	return 0;
}

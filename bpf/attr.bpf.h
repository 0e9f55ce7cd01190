/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * setattr: fexit on the helpers every attribute syscall funnels through,
 * each holding the struct path and the requested change: chmod_common
 * (chmod, fchmod, fchmodat, fchmodat2), chown_common (chown, fchown,
 * lchown, fchownat), vfs_utimes (utime, utimes, utimensat, futimesat),
 * vfs_truncate (truncate) and do_ftruncate or, before 6.11,
 * do_sys_ftruncate (ftruncate). Only the attributes asked for are set.
 * notify_change would see them all in one place, but has no mount to build
 * a path with.
 */

/* The change a setattr asked for, as the VFS hooks below and the syscall
 * mode's arguments (sys_stage) give it. */
#define ATTR_TIMES_NOW (FST_ATTR_ATIME | FST_ATTR_ATIME_NOW | FST_ATTR_MTIME | FST_ATTR_MTIME_NOW)

/* attr_time returns the attr_mask bits of one time asked for (bit, now_bit:
 * its FST_ATTR_*TIME and *TIME_NOW) and stores its value unless it is "now"
 * or omitted. special: nsec may be UTIME_NOW or UTIME_OMIT (a timespec). */
static __always_inline __u32 attr_time(__s64 sec, long nsec, bool special, __u32 bit, __u32 now_bit,
				       __s64 *out_sec, __u32 *out_nsec)
{
	if (special && nsec == UTIME_NOW)
		return bit | now_bit;
	if (special && nsec == UTIME_OMIT)
		return 0;
	*out_sec = sec;
	*out_nsec = nsec;
	return bit;
}

/* chown_mask: the ids a chown asked to change; (uid_t)-1 keeps one. */
static __always_inline __u32 chown_mask(__u32 uid, __u32 gid)
{
	return (uid != (__u32)-1 ? FST_ATTR_UID : 0) | (gid != (__u32)-1 ? FST_ATTR_GID : 0);
}

static __always_inline struct scratch *attr_begin(const struct path *path, int ret)
{
	struct scratch *s;
	struct dentry *d;

	inflight_drop(FST_SETATTR); /* seen here: not a lookup failure (lookup_fail.bpf.h) */
	if (!trace_allowed(FST_SETATTR) || !(s = get_scratch()))
		return NULL;
	start_record(s, FST_SETATTR);
	s->rec.ret = ret;
	d = KREAD(struct path, path, dentry);
	put_path(s, d, KREAD(struct path, path, mnt), 0, 0);
	set_inode(&s->rec, KREAD(struct dentry, d, d_inode));
	return s;
}

FST_EXIT(chmod_common, chmod_exit, HOOK_CHMOD, const struct path *path, umode_t mode, int ret)
{
	struct scratch *s = attr_begin(path, ret);

	if (!s)
		return 0;
	s->rec.attr_mask = FST_ATTR_MODE;
	s->rec.mode = mode & S_IALLUGO;
	emit(s);
	return 0;
}

FST_EXIT(chown_common, chown_exit, HOOK_CHOWN, const struct path *path, uid_t user, gid_t group, int ret)
{
	struct scratch *s = attr_begin(path, ret);

	if (!s)
		return 0;
	s->rec.attr_mask = chown_mask(user, group);
	if (user != (uid_t)-1)
		s->rec.attr_uid = user;
	if (group != (gid_t)-1)
		s->rec.attr_gid = group;
	emit(s);
	return 0;
}

FST_EXIT(vfs_utimes, utimes_exit, HOOK_UTIMES, const struct path *path, struct timespec64 *times, int ret)
{
	struct scratch *s = attr_begin(path, ret);
	struct timespec64 t[2] = {};

	if (!s)
		return 0;
	if (!times) {
		s->rec.attr_mask = ATTR_TIMES_NOW;
		emit(s);
		return 0;
	}
	bpf_probe_read_kernel(t, sizeof(t), times);
	s->rec.attr_mask = attr_time(t[0].tv_sec, t[0].tv_nsec, true, FST_ATTR_ATIME, FST_ATTR_ATIME_NOW,
				     &s->rec.atime_sec, &s->rec.atime_nsec) |
			   attr_time(t[1].tv_sec, t[1].tv_nsec, true, FST_ATTR_MTIME, FST_ATTR_MTIME_NOW,
				     &s->rec.mtime_sec, &s->rec.mtime_nsec);
	emit(s);
	return 0;
}

static __always_inline void truncate_emit(const struct path *path, loff_t length, int ret)
{
	struct scratch *s = attr_begin(path, ret);

	if (!s)
		return;
	s->rec.attr_mask = FST_ATTR_SIZE;
	s->rec.size = length;
	emit(s);
}

FST_EXIT(vfs_truncate, truncate_exit, HOOK_TRUNCATE, const struct path *path, loff_t length, int ret)
{
	truncate_emit(path, length, ret);
	return 0;
}

FST_EXIT(do_ftruncate, ftruncate_exit, HOOK_FTRUNCATE, struct file *file, loff_t length, int small, int ret)
{
	truncate_emit(&file->f_path, length, ret);
	return 0;
}

/* Before 6.11 ftruncate(2) reached do_sys_truncate with only the fd. */
FST_EXIT(do_sys_ftruncate, ftruncate_fd_exit, HOOK_FTRUNCATE_FD, unsigned int fd, loff_t length, int small, int ret)
{
	struct file *f = fd_file(fd);

	if (f)
		truncate_emit(&f->f_path, length, ret);
	return 0;
}

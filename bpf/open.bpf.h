/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * open: fexit on do_filp_open (do_file_open on 7.2). Every path-based open
 * goes through it — open(2) and friends, io_uring, execve — and, unlike
 * vfs_open, so do the opens that fail in path lookup (ENOENT, EACCES on a
 * directory). On success the file gives the canonical path and inode; on
 * failure the name the process passed is joined to its dirfd.
 *
 * A file the open created is also reported as `create`: security_path_mknod
 * (create.bpf.h) marks the dentry, and the exit here checks it is the file's.
 */

struct creat_mark {
	__u64 dentry;
	__u32 mode;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct creat_mark);
} creat_marks SEC(".maps");

/* open_emit sends an open that may have created its file: as a create
 * first (create), then as the open itself (open) with its flags and mode,
 * which counts only where the flags could create. The syscall mode's opens
 * end here too (sys_emit). */
static __always_inline void open_emit(struct scratch *s, __u32 flags, __u32 mode, bool create, bool open)
{
	struct fst_record *r = &s->rec;

	if (create) {
		r->kind = FST_CREATE;
		r->rflags |= FST_RF_HAS_MODE;
		emit(s);
	}
	if (!open)
		return;
	r->kind = FST_OPEN;
	r->flags = flags;
	r->mode = mode;
	if (flags & (O_CREAT | __O_TMPFILE))
		r->rflags |= FST_RF_HAS_MODE;
	else
		r->rflags &= ~FST_RF_HAS_MODE;
	emit(s);
}

FST_EXIT(do_filp_open, open_exit, HOOK_OPEN, int dfd, struct filename *pathname, const struct open_flags *op, struct file *file)
{
	__u32 tid = cur_tid();
	struct creat_mark *cm = bpf_map_lookup_elem(&creat_marks, &tid);
	bool ok = !is_err(file) && file;
	bool want_open = trace_allowed(FST_OPEN), want_create = false;
	struct dentry *d = NULL;
	struct fst_record *r;
	struct scratch *s;
	__u32 flags, mode;

	if (ok)
		d = KREAD(struct file, file, f_path.dentry);
	if (cm) {
		want_create = ok && cm->dentry == (__u64)d;
		bpf_map_delete_elem(&creat_marks, &tid);
	}
	if (!want_open && !want_create)
		return 0;
	s = get_scratch();
	if (!s)
		return 0;

	flags = KREAD(struct open_flags, op, open_flag) & OPEN_USER_FLAGS;
	mode = KREAD(struct open_flags, op, mode);
	r = start_record(s, want_create ? FST_CREATE : FST_OPEN);
	if (ok) {
		put_path(s, d, KREAD(struct file, file, f_path.mnt), 0, 0);
		set_inode(r, KREAD(struct file, file, f_inode));
		r->file_id = file_id(file);
	} else {
		r->ret = (long)file;
		if (pathname && !is_err(pathname))
			name_path(dfd, to_addr(KREAD(struct filename, pathname, name)), 0, 0);
	}
	r->mode = mode;
	open_emit(s, flags, flags & (O_CREAT | __O_TMPFILE) ? mode : 0, want_create, want_open);
	return 0;
}

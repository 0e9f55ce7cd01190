/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The syscall hook mode: for kernels that refuse fentry and have no kprobes
 * (locked-down kernels), the same events from the raw syscall tracepoints.
 * sys_exit reads what the syscall was asked to do from its argument
 * registers — the names the process passed, dirfds, modes, requested
 * attributes — adds the result and emits; sys_enter is needed only for
 * close, when closes, reads or writes are traced. Names are made absolute
 * against the dirfd or cwd, in the kernel, at exit; an open that succeeded
 * is reported with the canonical path of the file it returned.
 *
 * It sees what goes through these syscalls, nothing else: not io_uring,
 * not the kernel's own file operations, and only x86-64 syscall numbers.
 */

/* x86-64 syscall numbers. */
enum {
	NR_truncate = 76, NR_ftruncate = 77, NR_rename = 82, NR_mkdir = 83, NR_rmdir = 84,
	NR_creat = 85, NR_link = 86, NR_unlink = 87, NR_symlink = 88, NR_chmod = 90,
	NR_fchmod = 91, NR_chown = 92, NR_fchown = 93, NR_lchown = 94, NR_utime = 132,
	NR_mknod = 133, NR_mount = 165, NR_umount2 = 166, NR_utimes = 235, NR_open = 2,
	NR_openat = 257, NR_mkdirat = 258, NR_mknodat = 259, NR_fchownat = 260,
	NR_futimesat = 261, NR_unlinkat = 263, NR_renameat = 264, NR_linkat = 265,
	NR_symlinkat = 266, NR_fchmodat = 268, NR_utimensat = 280, NR_renameat2 = 316,
	NR_move_mount = 429, NR_openat2 = 437, NR_fchmodat2 = 452,
	NR_read = 0, NR_write = 1, NR_close = 3, NR_pread64 = 17, NR_pwrite64 = 18,
	NR_readv = 19, NR_writev = 20, NR_sendfile = 40, NR_preadv = 295, NR_pwritev = 296,
	NR_copy_file_range = 326, NR_preadv2 = 327, NR_pwritev2 = 328,
	NR_dup2 = 33, NR_dup3 = 292,
	NR_setxattr = 188, NR_lsetxattr = 189, NR_fsetxattr = 190, NR_removexattr = 197,
	NR_lremovexattr = 198, NR_fremovexattr = 199, NR_setxattrat = 463, NR_removexattrat = 466,
};

static __always_inline __u64 sys_arg(struct pt_regs *regs, int i)
{
	if (btf_cast) {
		struct pt_regs *r = KCAST(struct pt_regs, regs);

		switch (i) {
		case 0: return r->di;
		case 1: return r->si;
		case 2: return r->dx;
		case 3: return r->r10;
		case 4: return r->r8;
		default: return r->r9;
		}
	}
	switch (i) {
	case 0: return BPF_CORE_READ(regs, di);
	case 1: return BPF_CORE_READ(regs, si);
	case 2: return BPF_CORE_READ(regs, dx);
	case 3: return BPF_CORE_READ(regs, r10);
	case 4: return BPF_CORE_READ(regs, r8);
	default: return BPF_CORE_READ(regs, r9);
	}
}

/* user_name copies a name from the caller's memory; false when it cannot
 * be read (a bad pointer: the syscall failed with EFAULT). */
static __always_inline bool user_name(char *dst, __u64 p, __u32 max)
{
	return p && bpf_probe_read_user_str(dst, max, (const void *)p) > 0;
}

/* The times argument of utime/utimes/futimesat/utimensat. unit: 0 for
 * struct utimbuf (seconds), 1000 for struct timeval, 1 for timespec. */
static __always_inline void sys_times(struct inflight *in, __u64 p, int unit)
{
	__s64 v[4] = {};

	if (!p) {
		in->attr_mask = FST_ATTR_ATIME | FST_ATTR_ATIME_NOW | FST_ATTR_MTIME | FST_ATTR_MTIME_NOW;
		return;
	}
	if (unit == 0) {
		bpf_probe_read_user(v, 2 * sizeof(__s64), (void *)p);
		in->attr_mask = FST_ATTR_ATIME | FST_ATTR_MTIME;
		in->atime_sec = v[0];
		in->mtime_sec = v[1];
		return;
	}
	bpf_probe_read_user(v, sizeof(v), (void *)p);
	if (unit == 1 && v[1] == UTIME_NOW) {
		in->attr_mask |= FST_ATTR_ATIME | FST_ATTR_ATIME_NOW;
	} else if (unit != 1 || v[1] != UTIME_OMIT) {
		in->attr_mask |= FST_ATTR_ATIME;
		in->atime_sec = v[0];
		in->atime_nsec = v[1] * unit;
	}
	if (unit == 1 && v[3] == UTIME_NOW) {
		in->attr_mask |= FST_ATTR_MTIME | FST_ATTR_MTIME_NOW;
	} else if (unit != 1 || v[3] != UTIME_OMIT) {
		in->attr_mask |= FST_ATTR_MTIME;
		in->mtime_sec = v[2];
		in->mtime_nsec = v[3] * unit;
	}
}

/* sys_kind maps a syscall to the event it makes, and where its arguments
 * are: the dirfd (-1: AT_FDCWD, -2: the path argument is an fd), the name. */
struct sys_shape {
	__u16 kind;
	__s8 dfd;	/* argument index of the dirfd, -1 for AT_FDCWD, -2 for an fd target */
	__s8 name;	/* argument index of the name */
};

static __always_inline struct sys_shape sys_shape(long id, struct pt_regs *regs)
{
	struct sys_shape s = {};

	switch (id) {
	case NR_open: s = (struct sys_shape){FST_OPEN, -1, 0}; break;
	case NR_creat: s = (struct sys_shape){FST_OPEN, -1, 0}; break;
	case NR_openat: case NR_openat2: s = (struct sys_shape){FST_OPEN, 0, 1}; break;
	case NR_mkdir: s = (struct sys_shape){FST_MKDIR, -1, 0}; break;
	case NR_mkdirat: s = (struct sys_shape){FST_MKDIR, 0, 1}; break;
	case NR_mknod: s = (struct sys_shape){FST_MKNOD, -1, 0}; break;
	case NR_mknodat: s = (struct sys_shape){FST_MKNOD, 0, 1}; break;
	case NR_symlink: s = (struct sys_shape){FST_SYMLINK, -1, 1}; break;
	case NR_symlinkat: s = (struct sys_shape){FST_SYMLINK, 1, 2}; break;
	case NR_link: s = (struct sys_shape){FST_LINK, -1, 0}; break;
	case NR_linkat: s = (struct sys_shape){FST_LINK, 0, 1}; break;
	case NR_unlink: s = (struct sys_shape){FST_UNLINK, -1, 0}; break;
	case NR_unlinkat: s = (struct sys_shape){FST_UNLINK, 0, 1}; break;
	case NR_rmdir: s = (struct sys_shape){FST_RMDIR, -1, 0}; break;
	case NR_rename: s = (struct sys_shape){FST_RENAME, -1, 0}; break;
	case NR_renameat: case NR_renameat2: s = (struct sys_shape){FST_RENAME, 0, 1}; break;
	case NR_chmod: case NR_chown: case NR_lchown: case NR_truncate: case NR_utime: case NR_utimes:
		s = (struct sys_shape){FST_SETATTR, -1, 0}; break;
	case NR_fchmod: case NR_fchown: case NR_ftruncate:
		s = (struct sys_shape){FST_SETATTR, -2, 0}; break;
	case NR_fchmodat: case NR_fchmodat2: case NR_fchownat: case NR_futimesat: case NR_utimensat:
		s = (struct sys_shape){FST_SETATTR, 0, 1}; break;
	case NR_mount: s = (struct sys_shape){FST_MOUNT, -1, 1}; break;
	case NR_move_mount: s = (struct sys_shape){FST_MOUNT, 2, 3}; break;
	case NR_umount2: s = (struct sys_shape){FST_UMOUNT, -1, 0}; break;
	case NR_setxattr: case NR_lsetxattr: case NR_removexattr: case NR_lremovexattr:
		s = (struct sys_shape){FST_XATTR, -1, 0}; break;
	case NR_fsetxattr: case NR_fremovexattr:
		s = (struct sys_shape){FST_XATTR, -2, 0}; break;
	case NR_setxattrat: case NR_removexattrat:
		s = (struct sys_shape){FST_XATTR, 0, 1}; break;
	}
	if (s.kind == FST_UNLINK && s.dfd == 0 && (sys_arg(regs, 2) & AT_REMOVEDIR))
		s.kind = FST_RMDIR;
	return s;
}

/* sys_close: close(2) that drops the last reference releases the file; so
 * does dup2/dup3 onto an open fd. Seen on entry, while the fd still is. */
static __always_inline void sys_close(struct pt_regs *regs, long id)
{
	int fd = sys_arg(regs, id == NR_close ? 0 : 1);
	struct file *f = fd_file(fd);

	if (f && (id == NR_close || fd != (int)sys_arg(regs, 0)) && file_last_ref(f))
		rw_close(f, fd);
}

/* sys_wanted says whether a syscall of this kind may make an event the
 * current task is traced for: an open may be a create, a mknod too. Both
 * copies of a program ask it before claiming a hit, so a syscall nobody
 * wants costs no claim. */
static __always_inline bool sys_wanted(struct pt_regs *regs, long id, __u32 kind)
{
	__u64 fl;

	if (trace_allowed(kind))
		return true;
	if (kind == FST_OPEN) {
		fl = id == NR_open ? sys_arg(regs, 1) : id == NR_creat ? O_CREAT : sys_arg(regs, 2);
		/* openat2 passes struct open_how; O_CREAT is checked at exit */
		return (id == NR_openat2 || (fl & O_CREAT)) && trace_allowed(FST_CREATE);
	}
	return kind == FST_MKNOD && trace_allowed(FST_CREATE);
}

/*
 * sys_stage copies what a syscall was asked to do — names, dirfds, modes,
 * requested attributes — from its argument registers into the per-CPU
 * in-flight stage, and returns it (NULL: not traced). Syscall mode calls it
 * at the syscall's exit, where the registers still hold the arguments and
 * the names are still in the caller's memory: one program per syscall and
 * no map update, where copying at entry and keeping the copy in a hash map
 * until the exit cost a second program and an 8 KiB update per syscall.
 * ret is the result at exit: a successful open is reported with the path of
 * the file it returned, so its name is not copied. The caller has checked
 * sys_wanted for the syscall's shape sh.
 */
static __always_inline struct inflight *sys_stage(struct pt_regs *regs, long id, long ret,
						  struct sys_shape sh)
{
	struct inflight *in;
	__u64 a2 = sys_arg(regs, 2), a3 = sys_arg(regs, 3);

	in = stage_begin(sh.kind);
	if (!in)
		return NULL;
	in->sysno = id;
	in->dfd = sh.dfd >= 0 ? (int)sys_arg(regs, sh.dfd) : AT_FDCWD;
	if (sh.dfd == -2)
		in->dfd = sys_arg(regs, 0);	/* the fd itself; the name stays empty */
	else if (!(sh.kind == FST_OPEN && ret >= 0) &&
		 !user_name(in->name, sys_arg(regs, sh.name), FST_PATH_MAX) &&
		 !(id == NR_utimensat && !sys_arg(regs, sh.name)) &&	/* futimens */
		 !((id == NR_setxattrat || id == NR_removexattrat) && !sys_arg(regs, sh.name)))	/* AT_EMPTY_PATH */
		in->unknown |= 1;

	switch (id) {
	case NR_open:
		in->flags = sys_arg(regs, 1);
		in->mode = a2;
		break;
	case NR_creat:
		in->flags = O_CREAT | O_WRONLY | O_TRUNC;
		in->mode = sys_arg(regs, 1);
		break;
	case NR_openat:
		in->flags = a2;
		in->mode = a3;
		break;
	case NR_openat2: {
		__u64 how[2] = {};	/* struct open_how: flags, mode */

		bpf_probe_read_user(how, sizeof(how), (void *)a2);
		in->flags = how[0];
		in->mode = how[1];
		break;
	}
	case NR_mkdir: case NR_chmod: case NR_fchmod:
		in->mode = sys_arg(regs, 1);
		break;
	case NR_mkdirat: case NR_fchmodat: case NR_fchmodat2:
		in->mode = a2;
		break;
	case NR_mknod:
		in->mode = sys_arg(regs, 1);
		break;
	case NR_mknodat:
		in->mode = a2;
		break;
	case NR_symlink:	/* target, linkpath */
	case NR_symlinkat:	/* target, newdirfd, linkpath */
		if (!user_name(in->name2, sys_arg(regs, 0), FST_PATH_MAX))
			in->unknown |= 2;
		break;
	case NR_link: case NR_rename:
		in->dfd2 = AT_FDCWD;
		if (!user_name(in->name2, sys_arg(regs, 1), FST_PATH_MAX))
			in->unknown |= 2;
		break;
	case NR_linkat: case NR_renameat: case NR_renameat2:
		in->dfd2 = a2;
		if (!user_name(in->name2, a3, FST_PATH_MAX))
			in->unknown |= 2;
		if (id == NR_renameat2)
			in->flags = sys_arg(regs, 4);
		break;
	case NR_chown: case NR_fchown: case NR_lchown:
		in->attr_uid = sys_arg(regs, 1);
		in->attr_gid = a2;
		break;
	case NR_fchownat:
		in->attr_uid = a2;
		in->attr_gid = a3;
		break;
	case NR_truncate: case NR_ftruncate:
		in->size = sys_arg(regs, 1);
		break;
	case NR_utime: sys_times(in, sys_arg(regs, 1), 0); break;
	case NR_utimes: sys_times(in, sys_arg(regs, 1), 1000); break;
	case NR_futimesat: sys_times(in, a2, 1000); break;
	case NR_utimensat:	/* a NULL name (futimens): the dirfd is the file */
		sys_times(in, a2, 1);
		break;
	case NR_mount:		/* source, target, fstype, flags */
		user_name(in->name2, sys_arg(regs, 0), FST_PATH_MAX);
		user_name(in->name3, a2, STR2_MAX);
		in->flags = a3;
		break;
	case NR_umount2:
		in->flags = sys_arg(regs, 1);
		break;
	/* xattr: the attribute's name, and for a set the value's size and
	 * the flags; never the value, which may be a secret or 64 KiB. */
	case NR_setxattr: case NR_lsetxattr: case NR_fsetxattr:	/* file, name, value, size, flags */
		user_name(in->name3, sys_arg(regs, 1), STR2_MAX);
		in->attr_mask = FST_XATTR_SET;
		in->size = a3;
		in->flags = (__u32)sys_arg(regs, 4);
		break;
	case NR_removexattr: case NR_lremovexattr: case NR_fremovexattr:	/* file, name */
		user_name(in->name3, sys_arg(regs, 1), STR2_MAX);
		in->attr_mask = FST_XATTR_REMOVE;
		break;
	case NR_setxattrat: {	/* dfd, path, at_flags, name, struct xattr_args *, usize */
		__u32 args[4] = {};	/* __u64 value, __u32 size, __u32 flags */

		user_name(in->name3, a3, STR2_MAX);
		bpf_probe_read_user(args, sizeof(args), (void *)sys_arg(regs, 4));
		in->attr_mask = FST_XATTR_SET;
		in->size = args[2];
		in->flags = args[3];
		break;
	}
	case NR_removexattrat:	/* dfd, path, at_flags, name */
		user_name(in->name3, a3, STR2_MAX);
		in->attr_mask = FST_XATTR_REMOVE;
		break;
	}
	switch (id) {
	case NR_chmod: case NR_fchmod: case NR_fchmodat: case NR_fchmodat2:
		in->attr_mask = FST_ATTR_MODE;
		in->mode &= S_IALLUGO;
		break;
	case NR_chown: case NR_fchown: case NR_lchown: case NR_fchownat:
		if (in->attr_uid != (__u32)-1)
			in->attr_mask |= FST_ATTR_UID;
		if (in->attr_gid != (__u32)-1)
			in->attr_mask |= FST_ATTR_GID;
		break;
	case NR_truncate: case NR_ftruncate:
		in->attr_mask = FST_ATTR_SIZE;
		break;
	}
	return in;
}

/* sys_enter_body stages a syscall at its entry for an exit hook to report
 * (the lookup-failure programs of the fentry and kprobe modes). */
static __always_inline int sys_enter_body(struct pt_regs *regs, long id)
{
	struct sys_shape sh = sys_shape(id, regs);
	struct inflight *in;

	if (!sh.kind || !sys_wanted(regs, id, sh.kind))
		return 0;
	in = sys_stage(regs, id, 0, sh);
	if (in)
		stage_commit(in);
	return 0;
}

/* The user's offset argument of pread and friends, or where the file
 * position was before the call. */
static __always_inline __u64 sys_rw_off(struct file *f, __u64 user_off, bool have, long n)
{
	if (have)
		return user_off;
	return start_offset(f, NULL, n);
}

/* An offset a syscall updated through a user pointer, minus what it moved. */
static __always_inline __u64 sys_rw_uoff(struct file *f, __u64 uptr, long n)
{
	loff_t p = 0;

	if (!uptr)
		return start_offset(f, NULL, n);
	bpf_probe_read_user(&p, sizeof(p), (void *)uptr);
	return p >= n ? p - n : 0;
}

/* sys_rw accounts a finished read/write family syscall; the user registers
 * still hold its arguments. It returns whether the syscall was one. Only
 * the tp_btf programs call it: their regs is a typed pointer, read with
 * plain loads rather than a helper call each. */
static __always_inline bool sys_rw(struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax;
	__u64 a0 = regs->di, a3 = regs->r10;
	struct file *f;

	switch (id) {
	case NR_open: case NR_openat: case NR_openat2: case NR_creat:
		/* A new open file: forget counts left under its address by one
		 * released without a close(2) (at exit), which this mode misses. */
		if (ret >= 0 && (f = fd_file(ret))) {
			__u64 key = (__u64)f;

			bpf_map_delete_elem(&file_stats, &key);
		}
		return false;
	case NR_read: case NR_readv: case NR_pread64: case NR_preadv: case NR_preadv2:
		f = fd_file(a0);
		rw_account(f, FST_READ, ret, sys_rw_off(f, a3, id == NR_pread64 || id == NR_preadv || (id == NR_preadv2 && (long)a3 != -1), ret), a0);
		return true;
	case NR_write: case NR_writev: case NR_pwrite64: case NR_pwritev: case NR_pwritev2:
		f = fd_file(a0);
		rw_account(f, FST_WRITE, ret, sys_rw_off(f, a3, id == NR_pwrite64 || id == NR_pwritev || (id == NR_pwritev2 && (long)a3 != -1), ret), a0);
		return true;
	case NR_sendfile: {	/* out_fd, in_fd, offset *, count */
		struct file *in = fd_file(regs->si);

		f = fd_file(a0);
		rw_account(in, FST_READ, ret, sys_rw_uoff(in, regs->dx, ret), regs->si);
		rw_account(f, FST_WRITE, ret, start_offset(f, NULL, ret), a0);
		return true;
	}
	case NR_copy_file_range: {	/* fd_in, off_in *, fd_out, off_out *, len, flags */
		struct file *in = fd_file(a0);

		f = fd_file(regs->dx);
		rw_account(in, FST_READ, ret, sys_rw_uoff(in, regs->si, ret), a0);
		rw_account(f, FST_WRITE, ret, sys_rw_uoff(f, a3, ret), regs->dx);
		return true;
	}
	}
	return false;
}

/* sys_name_path: names tidied in the syscall mode's own programs only
 * (see name_path_tidy); tidy is a constant at every call site, so a program
 * holds one of the two functions, never both. */
static __always_inline __u32 sys_name_path(int dfd, __u64 name, __u32 off, __u32 idx, bool tidy)
{
	if (tidy)
		return name_path_tidy(dfd, name, off, idx);
	return name_path(dfd, name, off, idx);
}

/* sys_emit reports the syscall staged in the in-flight entry with its
 * result; tidy: names are tidied (the syscall mode). */
static __always_inline void sys_emit(struct inflight *in, long ret, bool tidy)
{
	struct scratch *s = get_scratch();
	struct fst_record *r;
	__u32 off = 0, kind;
	bool created = false;

	if (!s)
		return;
	kind = in->kind;
	if (kind == FST_MKNOD && ((in->mode & S_IFMT) == 0 || (in->mode & S_IFMT) == S_IFREG)) {
		kind = FST_CREATE;
		in->mode |= S_IFREG;
	}
	r = start_record(s, kind);
	r->ret = ret < 0 ? ret : 0;
	inflight_fill(r, in);
	if (kind == FST_MKDIR || kind == FST_MKNOD || kind == FST_CREATE)
		r->rflags |= FST_RF_HAS_MODE;

	if (kind == FST_OPEN) {
		r->flags &= OPEN_USER_FLAGS;
		if (r->flags & (O_CREAT | __O_TMPFILE))
			r->rflags |= FST_RF_HAS_MODE;
		r->mode &= S_IALLUGO;
		if (ret >= 0) {
			struct file *f = fd_file(ret);

			if (f) {
				put_file_path(s, f, 0, 0);
				set_inode(r, KREAD(struct file, f, f_inode));
				r->fd = ret;
				r->file_id = file_id(f);
				created = file_created(f);
			}
		} else if (in->unknown & 1) {
			r->rflags |= FST_RF_PATH_UNKNOWN;
		} else {
			sys_name_path(in->dfd, to_addr(in->name), 0, 0, tidy);
		}
		if (created && trace_allowed(FST_CREATE)) {
			r->kind = FST_CREATE;
			r->rflags |= FST_RF_HAS_MODE;
			emit(s);
			r->kind = FST_OPEN;
			if (!(r->flags & (O_CREAT | __O_TMPFILE)))
				r->rflags &= ~FST_RF_HAS_MODE;
		}
		if (trace_allowed(FST_OPEN))
			emit(s);
		return;
	}
	if (!trace_allowed(kind))
		return;
	if (in->unknown & 1)
		r->rflags |= FST_RF_PATH_UNKNOWN;
	else
		off = sys_name_path(in->dfd, to_addr(in->name), 0, 0, tidy);
	if ((in->unknown & 2) && (kind == FST_RENAME || kind == FST_LINK || kind == FST_SYMLINK)) {
		r->rflags |= FST_RF_PATH2_UNKNOWN;
		emit(s);
		return;
	}
	switch (kind) {
	case FST_RENAME: case FST_LINK:
		sys_name_path(in->dfd2, to_addr(in->name2), off, 1, tidy);
		break;
	case FST_SYMLINK:
		off += put_str(s, in->name2, off, 1, FST_PATH_MAX);
		break;
	case FST_MOUNT:
		off += put_str(s, in->name2, off, 1, FST_PATH_MAX);
		put_str(s, in->name3, off, 2, STR2_MAX);
		break;
	case FST_XATTR:
		put_str(s, in->name3, off, 2, STR2_MAX);
		break;
	}
	emit(s);
}

/*
 * Backup copies. The syscall tracepoints are faultable since 6.14, and on
 * kernels that preempt (7.x) a task can be preempted while one of these
 * programs runs, or at its very end. Until it resumes, the kernel skips
 * that program for every other task on the CPU (its recursion guard), and
 * an event is gone. sys_exit, which makes the events, is therefore
 * attached twice, primary first (sys_enter only sees close, which the
 * primaries alone account, like reads and writes): the primary marks the
 * current task for a hit it handles, the backup handles the hit only when
 * the mark is missing, which is when the
 * kernel skipped the primary. An event is lost only when both are skipped;
 * user space bounds that from the programs' miss counts and `sys_recovered`.
 * Attached where the tracepoints are faultable and task storage exists;
 * elsewhere only the primaries run, with preemption off.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} sys_marks SEC(".maps");

/* Hits a backup took over: [1] sys_exit ([0] was sys_enter's, which needs
 * none since it only sees close). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} sys_recovered SEC(".maps");

const volatile bool sys_backup = false;

enum { MARK_EXIT = 2 };

/* sys_claim says whether this copy handles the current hit. */
static __always_inline bool sys_claim(bool backup, __u32 bit)
{
	__u32 *m, k = bit - 1;
	__u64 *n;

	if (!sys_backup)
		return !backup;
	m = bpf_task_storage_get(&sys_marks, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!m)
		return !backup;
	if (!backup) {
		*m |= bit;
		return true;
	}
	if (*m & bit) {
		*m &= ~bit;
		return false;
	}
	n = bpf_map_lookup_elem(&sys_recovered, &k);
	if (n)
		*n += 1;
	return true;
}

/* sys_rw_call: the read/write/close family. Only the primaries account
 * them: they are the hot path, and a claim on each would cost more (dd in
 * 4 KiB writes: x1.15) than the rare skipped byte count it would save.
 * Skipped runs are counted either way. */
static __always_inline bool sys_rw_call(long id)
{
	switch (id) {
	case NR_close: case NR_dup2: case NR_dup3:
	case NR_read: case NR_readv: case NR_pread64: case NR_preadv: case NR_preadv2:
	case NR_write: case NR_writev: case NR_pwrite64: case NR_pwritev: case NR_pwritev2:
	case NR_sendfile: case NR_copy_file_range:
		return true;
	}
	return false;
}

/* sys_enter: only close(2) and dup2/dup3 need their entry, and only when
 * closes, reads or writes are traced (user space attaches it only then). */
static __always_inline int sys_enter_run(struct pt_regs *regs, long id)
{
	if (id == NR_close || id == NR_dup2 || id == NR_dup3)
		sys_close(regs, id);
	return 0;
}

static __always_inline int sys_exit_run(struct pt_regs *regs, long ret, bool backup)
{
	long id = regs->orig_ax;	/* a direct load: tp_btf's regs is typed */
	struct sys_shape sh;
	struct inflight *in;

	/* sys_rw also sees opens: a new open file forgets stale counts */
	if (!backup && (kind_mask & ((1U << FST_CLOSE) | (1U << FST_READ) | (1U << FST_WRITE))) &&
	    sys_rw(regs, ret))
		return 0;
	if (sys_rw_call(id))
		return 0;
	sh = sys_shape(id, regs);
	if (!sh.kind || !sys_wanted(regs, id, sh.kind) || !sys_claim(backup, MARK_EXIT))
		return 0;
	in = sys_stage(regs, id, ret, sh);
	if (in)
		sys_emit(in, ret, true);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	return FST_GUARDED(sys_enter_run(regs, id));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	return FST_GUARDED(sys_exit_run(regs, ret, false));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_backup, struct pt_regs *regs, long ret)
{
	return FST_GUARDED(sys_exit_run(regs, ret, true));
}

/*
 * The same, on the per-syscall tracepoints (syscalls:sys_exit_openat...,
 * 5.15+), which user space prefers where it finds them: attached only to
 * the syscalls of the traced kinds, they leave every other syscall of the
 * machine without a program to run, so that nothing is paid for what is
 * not traced. On 7.2 these programs run preemptible too: unguarded, a
 * task preempted between taking a cpu_seq number and writing its record
 * let a process's exec note (process.c) overwrite the scratch, and the
 * event was gone without a loss counted. So they run FST_GUARDED. They
 * get no backups: the kernel runs all the programs of a perf tracepoint
 * under one recursion check, which would skip a backup with its primary;
 * user space reports those skips. The context hides the regs pointer in
 * its first 8 bytes, which a program may not read: the user registers
 * come from bpf_task_pt_regs, a typed pointer that is read with plain
 * loads.
 */
struct sys_exit_tp_ctx {
	__u64 common;
	int nr;
	long ret;
};

struct sys_enter_tp_ctx {
	__u64 common;
	int nr;
	__u64 args[6];
};

static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

SEC("tracepoint/syscalls/sys_enter")
int sys_enter_tp(struct sys_enter_tp_ctx *ctx)
{
	return FST_GUARDED(sys_enter_run(user_regs(), ctx->nr));
}

SEC("tracepoint/syscalls/sys_exit")
int sys_exit_tp(struct sys_exit_tp_ctx *ctx)
{
	return FST_GUARDED(sys_exit_run(user_regs(), ctx->ret, false));
}

/*
 * In fentry and kprobe modes: setattr, mount and umount calls that fail in
 * path lookup (ENOENT, ENOTDIR, EACCES on a directory, ELOOP...) never
 * reach the VFS helpers those modes hook (chmod_common, path_mount...). The
 * syscall's own entry point (the inner functions are inlined into it on
 * some kernels) stages the call as syscall mode does; the VFS hook drops
 * the entry when it runs (inflight_drop), and the exit reports a failure
 * it never saw. The entry points take the user's registers.
 *
 * The xattr calls are reported from these programs alone, whatever their
 * result: no VFS function of theirs holds both the attribute's name and a
 * mount to build the path with (vfs_setxattr and vfs_set_acl, which takes
 * the ACLs since 6.2, see a dentry only; setxattr and path_setxattr are
 * static and inlined). Nothing drops their entry, so the exit reports it.
 */
static __always_inline bool fail_call(long nr)
{
	switch (nr) {
	case NR_chmod: case NR_fchmodat: case NR_fchmodat2:
	case NR_chown: case NR_lchown: case NR_fchownat:
	case NR_truncate: case NR_utime: case NR_utimes: case NR_futimesat: case NR_utimensat:
	case NR_mount: case NR_umount2:
	case NR_setxattr: case NR_lsetxattr: case NR_fsetxattr: case NR_setxattrat:
	case NR_removexattr: case NR_lremovexattr: case NR_fremovexattr: case NR_removexattrat:
		return true;
	}
	return false;
}

/* nr < 0: any of the calls above (kp_fail_ret, on all of their returns). */
static __always_inline int sys_fail_exit(long ret, long nr)
{
	__u32 tid = cur_tid();
	struct inflight *in = bpf_map_lookup_elem(&inflight_ops, &tid);

	if (!in || (nr >= 0 ? in->sysno != nr : !fail_call(in->sysno)))
		return 0;
	if (ret < 0 || in->kind == FST_XATTR)
		sys_emit(in, ret, false);
	bpf_map_delete_elem(&inflight_ops, &tid);
	return 0;
}

#define FST_SYS_FAIL(fn, nr, name)						\
	FST_ENTRY(fn, name##_enter, const struct pt_regs *regs)			\
	{									\
		return sys_enter_body((struct pt_regs *)regs, nr);		\
	}									\
	SEC("fexit/" #fn) int name##_ret(unsigned long long *ctx)		\
	{									\
		return FST_GUARDED(sys_fail_exit((long)ctx[1], nr));		\
	}

FST_SYS_FAIL(__x64_sys_chmod, NR_chmod, fail_chmod)
FST_SYS_FAIL(__x64_sys_fchmodat, NR_fchmodat, fail_fchmodat)
FST_SYS_FAIL(__x64_sys_fchmodat2, NR_fchmodat2, fail_fchmodat2)
FST_SYS_FAIL(__x64_sys_chown, NR_chown, fail_chown)
FST_SYS_FAIL(__x64_sys_lchown, NR_lchown, fail_lchown)
FST_SYS_FAIL(__x64_sys_fchownat, NR_fchownat, fail_fchownat)
FST_SYS_FAIL(__x64_sys_truncate, NR_truncate, fail_truncate)
FST_SYS_FAIL(__x64_sys_utime, NR_utime, fail_utime)
FST_SYS_FAIL(__x64_sys_utimes, NR_utimes, fail_utimes)
FST_SYS_FAIL(__x64_sys_futimesat, NR_futimesat, fail_futimesat)
FST_SYS_FAIL(__x64_sys_utimensat, NR_utimensat, fail_utimensat)
FST_SYS_FAIL(__x64_sys_mount, NR_mount, fail_mount)
FST_SYS_FAIL(__x64_sys_umount, NR_umount2, fail_umount)
FST_SYS_FAIL(__x64_sys_setxattr, NR_setxattr, xattr_setxattr)
FST_SYS_FAIL(__x64_sys_lsetxattr, NR_lsetxattr, xattr_lsetxattr)
FST_SYS_FAIL(__x64_sys_fsetxattr, NR_fsetxattr, xattr_fsetxattr)
FST_SYS_FAIL(__x64_sys_setxattrat, NR_setxattrat, xattr_setxattrat)
FST_SYS_FAIL(__x64_sys_removexattr, NR_removexattr, xattr_removexattr)
FST_SYS_FAIL(__x64_sys_lremovexattr, NR_lremovexattr, xattr_lremovexattr)
FST_SYS_FAIL(__x64_sys_fremovexattr, NR_fremovexattr, xattr_fremovexattr)
FST_SYS_FAIL(__x64_sys_removexattrat, NR_removexattrat, xattr_removexattrat)

/* kprobe mode: one return program on every one of those calls, where the
 * fexit programs need one each (a trampoline per target). Each copy of the
 * emit path cost the verifier some 23 000 instructions, 58 % of the mode's
 * load. */
SEC("kretprobe/__x64_sys_chmod")
int kp_fail_ret(struct pt_regs *regs)
{
	return sys_fail_exit(PT_REGS_RC(regs), -1);
}

/* preempt_probe loads (never runs) where FST_GUARDED can work: the kfuncs
 * exist and a global function may be called with preemption off. The
 * probes touch no map: user space loads each on its own. */
__noinline int preempt_probe_sub(int x)
{
	return x + bpf_get_smp_processor_id();	/* used: the call must stay */
}

SEC("tp_btf/sys_enter")
int BPF_PROG(preempt_probe)
{
	int r;

	bpf_preempt_disable();
	r = preempt_probe_sub(1);
	bpf_preempt_enable();
	return r;
}

/* cast_probe loads (never runs) where bpf_rdonly_cast can be called: see
 * btf_cast in lib/common.h. */
SEC("raw_tp")
int cast_probe(void *ctx)
{
	return KCAST(struct task_struct, bpf_get_current_task())->pid;
}

/* task_probe_btf and task_probe_tp load (never run) where the syscall
 * mode's two program types may look a task up by pid: see task_lookup in
 * lib/path.h. */
static __always_inline int task_probe(void)
{
	struct task_struct *t = bpf_task_from_pid(1);

	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(task_probe_btf)
{
	return task_probe();
}

SEC("tracepoint/syscalls/sys_exit_openat")
int task_probe_tp(void *ctx)
{
	return task_probe();
}

/* fmode_probe reads the f_mode of two of the caller's fds, for user space
 * to find FMODE_CREATED: one file it just created, one it did not. Run
 * with BPF_PROG_TEST_RUN, never attached. */
volatile __s32 probe_fd_created = -1;
volatile __s32 probe_fd_existing = -1;
volatile __u32 probe_fmode_created = 0;
volatile __u32 probe_fmode_existing = 0;

SEC("raw_tp")
int fmode_probe(void *ctx)
{
	struct file *f = fd_file(probe_fd_created);

	if (f)
		probe_fmode_created = BPF_CORE_READ(f, f_mode);
	f = fd_file(probe_fd_existing);
	if (f)
		probe_fmode_existing = BPF_CORE_READ(f, f_mode);
	return 0;
}

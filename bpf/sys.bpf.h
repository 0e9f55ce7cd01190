/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * A syscall read from its argument registers, for the syscall mode
 * (syscall.bpf.h) and for the lookup failures the fentry and kprobe modes
 * see at the syscalls' own entry points (lookup_fail.bpf.h): which event
 * it makes (sys_shape), what it was asked to do (sys_stage, into the
 * in-flight stage of lib/inflight.h) and its record (sys_emit).
 */

/* x86-64 syscall numbers. */
/* clang-format off */
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
/* clang-format on */

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
		in->attr_mask = ATTR_TIMES_NOW;
		return;
	}
	if (unit == 0) { /* two seconds: v[1] * unit is 0 */
		bpf_probe_read_user(v, 2 * sizeof(__s64), (void *)p);
		v[2] = v[1];
	} else {
		bpf_probe_read_user(v, sizeof(v), (void *)p);
	}
	in->attr_mask = attr_time(v[0], v[1] * unit, unit == 1, FST_ATTR_ATIME, FST_ATTR_ATIME_NOW,
				  &in->atime_sec, &in->atime_nsec) |
			attr_time(v[2], v[3] * unit, unit == 1, FST_ATTR_MTIME, FST_ATTR_MTIME_NOW,
				  &in->mtime_sec, &in->mtime_nsec);
}

/* sys_kind maps a syscall to the event it makes, and where its arguments
 * are: the dirfd (-1: AT_FDCWD, -2: the path argument is an fd), the name. */
struct sys_shape {
	__u16 kind;
	__s8 dfd;  /* argument index of the dirfd, -1 for AT_FDCWD, -2 for an fd target */
	__s8 name; /* argument index of the name */
};

/* clang-format off */
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
/* clang-format on */

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
		fl = id == NR_open ? sys_arg(regs, 1) : id == NR_creat ? O_CREAT
								       : sys_arg(regs, 2);
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
 * no map update. ret is the result at exit: a successful open is reported with the path of
 * the file it returned, so its name is not copied. The caller has checked
 * sys_wanted for the syscall's shape sh.
 */
/* clang-format off */
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
		in->attr_mask = chown_mask(in->attr_uid, in->attr_gid);
		break;
	case NR_truncate: case NR_ftruncate:
		in->attr_mask = FST_ATTR_SIZE;
		break;
	}
	return in;
}
/* clang-format on */

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
		created = created && trace_allowed(FST_CREATE);
		open_emit(s, r->flags, r->mode, created, trace_allowed(FST_OPEN));
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
	case FST_RENAME:
	case FST_LINK:
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

/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Absolute paths, built in the kernel.
 *
 * walk_path follows d_parent and, at each mount root, the mount's parent,
 * writing components backwards so the path ends at tmp[FST_PATH_MAX]; it
 * stops at the task's root, as d_path(3) would for that task. Names the
 * process passed (failures that never reached a dentry) are joined to the
 * path of their dirfd or of the cwd by name_path.
 */
#ifndef __FSTRACE_PATH_H
#define __FSTRACE_PATH_H

#define MAX_DEPTH 200
#define NAME_MASK 255
#define WALK_TRUNC (1U << 16)

static __always_inline bool is_err(const void *p)
{
	return (unsigned long)p >= (unsigned long)-4095;
}

/* to_addr turns a pointer into a plain number, as the global functions below
 * take: the verifier refuses a typed pointer for a scalar argument. A round
 * trip through map memory does it (what is loaded from a map value is a
 * number to the verifier), for less than a helper call that copies it. */
static __always_inline __u64 to_addr(const void *p)
{
	__u64 a = 0;

	if (btf_cast) { /* first: no lookup where it is of no use */
		__u32 zero = 0;
		struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);

		if (s) {
			*(volatile __u64 *)&s->addr = (__u64)p;
			return *(volatile __u64 *)&s->addr;
		}
	}
	bpf_probe_read_kernel(&a, sizeof(a), &p);
	return a;
}

static __always_inline struct mount *real_mount(struct vfsmount *m)
{
	return (void *)m - bpf_core_field_offset(struct mount, mnt);
}

/* file_id names an open file (a struct file) without giving its kernel
 * address away: a bijection of the address keyed by a number user space
 * draws at each start, so two open files never share an id while both are
 * open (an id is reused, as an fd is, once its file is released). */
const volatile __u64 file_key = 0;

static __always_inline __u64 file_id(const void *f)
{
	__u64 x = to_addr(f) ^ file_key; /* no arithmetic on a typed pointer */

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* A dentry's d_parent and d_name, read with one helper call per path
 * component where they are side by side (lib/compat.h). */
struct parent_name {
	struct dentry *parent;
	struct qstr name;
};

/* walk_step takes the walk (s->walk) one step up: a component written
 * before the others, or a mount crossed. It returns 1 when the walk is
 * over: at the task's root, the namespace's root or a tree's root (trunc
 * cleared), or out of room (trunc left set). */
static __always_inline long walk_step(struct scratch *s)
{
	struct walk *w = &s->walk;
	struct dentry *dentry = (void *)w->dentry;
	struct vfsmount *vfsmnt = (void *)w->vfsmnt;
	struct mount *mnt = real_mount(vfsmnt);
	struct parent_name pn;
	__u32 pos = w->pos, len;

	if (w->dentry == w->root_d && w->vfsmnt == w->root_m) {
		w->trunc = 0;
		return 1;
	}
	if (w->dentry == w->mnt_root) {
		struct mount *mp;

		if (btf_cast) {
			struct mount *m = KCAST(struct mount, mnt);

			mp = m->mnt_parent;
			w->dentry = (__u64)m->mnt_mountpoint;
		} else {
			mp = BPF_CORE_READ(mnt, mnt_parent);
			w->dentry = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		}
		if ((__u64)mp == (__u64)mnt) { /* root of the mount namespace */
			w->trunc = 0;
			return 1;
		}
		vfsmnt = (void *)((__u64)mp + bpf_core_field_offset(struct mount, mnt));
		w->vfsmnt = (__u64)vfsmnt;
		w->mnt_root = (__u64)KREAD(struct vfsmount, vfsmnt, mnt_root);
		return 0;
	}
	__builtin_memset(&pn, 0, sizeof(pn));
	if (btf_cast) {
		struct dentry *d = KCAST(struct dentry, dentry);

		pn.parent = d->d_parent;
		pn.name.len = d->d_name.len;
		pn.name.name = d->d_name.name;
	} else if (dentry_parent_name_adjacent()) {
		bpf_probe_read_kernel(&pn, sizeof(pn), (void *)dentry + bpf_core_field_offset(struct dentry, d_parent));
	} else {
		pn.parent = BPF_CORE_READ(dentry, d_parent);
		bpf_core_read(&pn.name, sizeof(pn.name), &dentry->d_name);
	}
	if (pn.parent == dentry || !pn.parent) { /* root of an unmounted tree */
		w->trunc = 0;
		return 1;
	}
	len = pn.name.len & NAME_MASK;
	if (len + 1 > pos)
		return 1;
	pos -= len;
	bpf_probe_read_kernel(&s->tmp[pos & PATH_MASK], len, pn.name.name);
	pos -= 1;
	s->tmp[pos & PATH_MASK] = '/';
	w->pos = pos;
	w->dentry = (__u64)pn.parent;
	return 0;
}

#ifdef FST_LOOP
/* The object built for kernels with bpf_loop (5.17+, pkg/tracer/object.go)
 * runs its loops through it: the verifier checks a loop's body once rather
 * than once per iteration. A program that holds a callback does not load
 * on 5.10 at all, hence the two objects. */
struct loop_ctx {
	struct scratch *s;
};

static long walk_cb(__u32 i, void *ctx)
{
	return walk_step(((struct loop_ctx *)ctx)->s);
}
#endif

/* walk_run runs a walk set up in s->walk to its end, and returns what
 * walk_path does. */
static __always_inline __u32 walk_run(struct scratch *s)
{
	struct walk *w = &s->walk;

	w->pos = FST_PATH_MAX;
	w->trunc = WALK_TRUNC;
#ifdef FST_LOOP
	struct loop_ctx lc = { .s = s };

	bpf_loop(MAX_DEPTH, walk_cb, &lc, 0);
#else
	for (int i = 0; i < MAX_DEPTH; i++)
		if (walk_step(s))
			break;
#endif
	if (w->pos >= FST_PATH_MAX) {
		w->pos = FST_PATH_MAX - 1;
		s->tmp[FST_PATH_MAX - 1] = '/';
	}
	return (w->pos & PATH_MASK) | w->trunc;
}

/* walk_path returns the start offset in the scratch tmp buffer, ORed with
 * WALK_TRUNC when the path was longer than FST_PATH_MAX or deeper than
 * MAX_DEPTH.
 *
 * Two things keep the verifier's work linear in MAX_DEPTH where there is
 * no bpf_loop (5.10): it is a global function, verified once on its own
 * rather than through every caller (hence the scalar arguments), and the
 * loop's state lives in the scratch map, not in registers, so that every
 * path through an iteration reaches the next one in the same verifier
 * state.
 *
 * Its cost is its helper calls: two per component (the dentry's parent and
 * name, then the name's bytes), a mount's root read once per mount rather
 * than once per component. */
__noinline __u32 walk_path(__u64 dentry_addr, __u64 mnt_addr)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct scratch *s = get_scratch();
	struct fs_struct *fs;
	struct path root;
	struct walk *w;

	if (!s)
		return FST_PATH_MAX | WALK_TRUNC;
	s->walk_from = dentry_addr;
	w = &s->walk;
	w->dentry = dentry_addr;
	w->vfsmnt = mnt_addr;
	if (btf_cast) {
		struct task_struct *t = KCAST(struct task_struct, task);

		w->mnt_root = (__u64)KCAST(struct vfsmount, mnt_addr)->mnt_root;
		w->root_d = (__u64)t->fs->root.dentry;
		w->root_m = (__u64)t->fs->root.mnt;
	} else {
		w->mnt_root = (__u64)BPF_CORE_READ((struct vfsmount *)mnt_addr, mnt_root);
		fs = BPF_CORE_READ(task, fs);
		__builtin_memset(&root, 0, sizeof(root));
		bpf_core_read(&root, sizeof(root), &fs->root);
		w->root_d = (__u64)root.dentry;
		w->root_m = (__u64)root.mnt;
	}
	return walk_run(s);
}

/* task_fd_file returns the file an fd of task refers to. */
static __always_inline struct file *task_fd_file(struct task_struct *task, int fd)
{
	struct {
		__u32 max_fds;
		__u32 pad;
		struct file **fd;
	} head = {};
	struct file *f = NULL;
	struct fdtable *fdt;

	if (fd < 0)
		return NULL;
	if (btf_cast) {
		/* the table's slots are pointers to pointers: a number each
		 * to the verifier, read with a helper */
		fdt = KCAST(struct task_struct, task)->files->fdt;
		if ((unsigned int)fd >= fdt->max_fds)
			return NULL;
		bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
		return f;
	}
	fdt = BPF_CORE_READ(task, files, fdt);
	if (fdtable_head_first()) {
		bpf_probe_read_kernel(&head, sizeof(head), fdt);
	} else {
		head.max_fds = BPF_CORE_READ(fdt, max_fds);
		head.fd = BPF_CORE_READ(fdt, fd);
	}
	if ((unsigned int)fd >= head.max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &head.fd[fd]);
	return f;
}

/* fd_file returns the file an fd of the current task refers to. */
static __always_inline struct file *fd_file(int fd)
{
	return task_fd_file((void *)bpf_get_current_task(), fd);
}

/* file_path reads a file's f_path, mount and dentry, in one call. */
static __always_inline struct path file_path(struct file *f)
{
	struct path p;

	if (btf_cast)
		return KCAST(struct file, f)->f_path;
	__builtin_memset(&p, 0, sizeof(p));
	bpf_core_read(&p, sizeof(p), &f->f_path);
	return p;
}

/* fd_walk resolves the directory a dirfd (or AT_FDCWD) names. */
static __always_inline __u32 fd_walk(struct scratch *s, int dfd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct dentry *d;
	struct vfsmount *m;

	if (dfd == AT_FDCWD && btf_cast) {
		struct fs_struct *fs = KCAST(struct task_struct, task)->fs;

		d = fs->pwd.dentry;
		m = fs->pwd.mnt;
	} else if (dfd == AT_FDCWD) {
		d = BPF_CORE_READ(task, fs, pwd.dentry);
		m = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		struct file *f = fd_file(dfd);

		if (!f) {
			s->walk_from = 0; /* nothing walked: no anchor */
			return FST_PATH_MAX | WALK_TRUNC;
		}
		struct path p = file_path(f);

		d = p.dentry;
		m = p.mnt;
	}
	return walk_path(to_addr(d), to_addr(m));
}

/* set_anchor notes where string idx lies (see struct anchor). */
static __always_inline void set_anchor(struct scratch *s, __u32 idx, __u64 dentry, __u32 tail)
{
	s->anchor[idx & 1].dentry = dentry;
	s->anchor[idx & 1].tail = tail;
}

/* put_walk copies a walked path from tmp into record string idx at off and
 * returns its length. */
static __always_inline __u32 put_walk(struct scratch *s, __u32 w, __u32 off, int idx)
{
	__u32 pos = w & PATH_MAX_MASK;
	__u32 len = FST_PATH_MAX - pos;

	if (len > FST_PATH_MAX)
		len = 0;
	bpf_probe_read_kernel(&s->data[off & STR_OFF_MASK], len & PATH_MAX_MASK, &s->tmp[pos & PATH_MASK]);
	if (w & WALK_TRUNC)
		s->rec.rflags |= idx == 0 ? FST_RF_PATH_TRUNC : FST_RF_PATH2_TRUNC;
	s->rec.str_len[idx & 1] = len;
	set_anchor(s, idx, s->walk_from, 0);
	return len;
}

/* put_path writes the absolute path of (dentry, mnt) as string idx at off. */
static __always_inline __u32 put_path(struct scratch *s, struct dentry *d, struct vfsmount *m, __u32 off, int idx)
{
	return put_walk(s, walk_path(to_addr(d), to_addr(m)), off, idx);
}

/* put_file_path writes the absolute path of an open file as string idx. */
static __always_inline __u32 put_file_path(struct scratch *s, struct file *f, __u32 off, int idx)
{
	struct path p = file_path(f);

	return put_path(s, p.dentry, p.mnt, off, idx);
}

#define NAME_AT (FST_PATH_MAX + 1) /* a passed name's place in tmp */
#define TIDY_MAX 256

/* tidy_step handles input byte i of the name at tmp[NAME_AT]: the output,
 * never ahead of the input, is written in place. */
static __always_inline long tidy_step(struct scratch *s, volatile struct tidy *t, __u32 i)
{
	__u32 j = t->out & (TIDY_MAX - 1);
	char c, prev, next;

	if (i >= t->len)
		return 1;
	if (t->skip) {
		t->skip = 0;
		return 0;
	}
	c = s->tmp[(NAME_AT + i) & (TMP_SZ - 1)];
	next = i + 1 < t->len ? s->tmp[(NAME_AT + i + 1) & (TMP_SZ - 1)] : '/';
	prev = j ? s->tmp[(NAME_AT + j - 1) & (TMP_SZ - 1)] : 0;
	if (c == '/' && (j ? prev == '/' : !t->abs))
		return 0; /* a repeated slash */
	if (c == '.' && (j == 0 || prev == '/') && next == '/') {
		t->skip = 1; /* "./" */
		return 0;
	}
	s->tmp[(NAME_AT + j) & (TMP_SZ - 1)] = c;
	t->out = j + 1;
	return 0;
}

#ifdef FST_LOOP
static long tidy_cb(__u32 i, void *ctx)
{
	struct scratch *s = ((struct loop_ctx *)ctx)->s;

	return tidy_step(s, &s->tidy, i);
}
#endif

/* tidy_name drops "." components and repeated slashes from the name of len
 * bytes at tmp[NAME_AT], in place, and returns its new length: what the
 * kernel resolves "a/./b//c" to is "a/b/c", and filters and readers should
 * see that. ".." stays: without a lookup, a/link/.. is not a. A trailing
 * slash goes too. Only the syscall mode's programs use it (name_path_tidy).
 * Names of TIDY_MAX bytes or more are left as they are, which bounds the
 * verifier's work (and keeps the output length below the mask). The loop's state lives in the scratch
 * map, so that every path through an iteration reaches the next in the
 * same verifier state (see walk_path); bpf_loop where the kernel has it. */
__noinline __u32 tidy_name(__u32 len, __u32 abs)
{
	struct scratch *s = get_scratch();
	volatile struct tidy *t;

	if (!s || len >= TIDY_MAX)
		return len;
	t = &s->tidy;
	t->out = 0;
	t->skip = 0;
	t->len = len;
	t->abs = abs;
#ifdef FST_LOOP
	struct loop_ctx lc = { .s = s };

	bpf_loop(TIDY_MAX, tidy_cb, &lc, 0);
#else
	for (int i = 0; i < TIDY_MAX; i++)
		if (tidy_step(s, t, i))
			break;
#endif
	len = t->out & (TIDY_MAX - 1);
	if (len > 1 && s->tmp[(NAME_AT + len - 1) & (TMP_SZ - 1)] == '/')
		len--;
	else if (len == 1 && !abs && s->tmp[NAME_AT] == '/')
		len = 0;
	return len;
}

/*
 * /proc magic links. A name such as /proc/self/fd/5 (tar's chmod of what
 * it extracted), /proc/PID/fd/N, /proc/thread-self/fd/N, /proc/self/cwd/x
 * or /proc/self/root/x designates a file through a task's fd table or its
 * cwd or root: reported as passed, it names no file a reader or a --path
 * filter knows. magic_link finds that file the way procfs does and writes
 * its path, with the rest of the name after it.
 *
 * Only names that begin with "/proc/" go there, which ordinary names pay
 * for with one load and compare (is_proc_name). A name whose task or fd
 * cannot be found (the process is gone, the fd is not open, or a pid fstrace
 * cannot look up here) is reported as passed and marked unknown: never
 * another file's path. A /proc that is not procfs is taken for one.
 */
#define MAGIC_NONE 0xffffffffU /* not a magic link, or not resolved: the name as passed */

enum {
	MAGIC_FD = 1,
	MAGIC_CWD = 2,
	MAGIC_ROOT = 3,
};

static __always_inline bool is_proc_name(struct scratch *s)
{
	/* "/proc/" in the first six bytes, little-endian */
	return (*(__u64 *)&s->tmp[NAME_AT] & 0xffffffffffffULL) == 0x2f636f72702fULL;
}

static __always_inline char name_at(struct scratch *s, __u32 i)
{
	return s->tmp[(NAME_AT + i) & (TMP_SZ - 1)];
}

/* name_has: the name of len bytes holds lit (n bytes) at i. */
static __always_inline bool name_has(struct scratch *s, __u32 i, __u32 len, const char *lit, __u32 n)
{
	if (i + n > len)
		return false;
#pragma unroll
	for (int k = 0; k < 11; k++) { /* the longest literal, "thread-self" */
		if (k >= n)
			break;
		if (name_at(s, i + k) != lit[k])
			return false;
	}
	return true;
}

/* name_end: a component ends at i. */
static __always_inline bool name_end(struct scratch *s, __u32 i, __u32 len)
{
	return i >= len || name_at(s, i) == '/';
}

/* name_num parses the decimal number procfs would take at i (no sign, no
 * leading zero, below 2^31) up to the component's end. It returns the
 * number in the low 32 bits and its digits above, 0 if there is none (a
 * pair in one register: the stack is short, see magic_body). */
static __always_inline __u64 name_num(struct scratch *s, __u32 i, __u32 len)
{
	__u64 x = 0;
	__u32 n = 0;

#pragma unroll
	for (int k = 0; k < 10; k++) {
		char c;

		if (i + k >= len)
			break;
		c = name_at(s, i + k);
		if (c < '0' || c > '9')
			break;
		x = x * 10 + (c - '0');
		n++;
	}
	if (!n || !name_end(s, i + n, len) || x > 0x7fffffff || (n > 1 && name_at(s, i) == '0'))
		return 0;
	return (__u64)n << 32 | x;
}

/* task_target leaves in s->walk the dentry and mount of an fd, the cwd or
 * the root of a task, and says whether there is one. */
static __always_inline bool task_target(struct scratch *s, __u64 ta, __u32 what, int fd)
{
	struct task_struct *task = (void *)ta;
	struct dentry *d;
	struct vfsmount *m;

	if (what == MAGIC_FD) {
		struct file *f = task_fd_file(task, fd);

		if (!f)
			return false;
		if (btf_cast) {
			d = KCAST(struct file, f)->f_path.dentry;
			m = KCAST(struct file, f)->f_path.mnt;
		} else {
			d = BPF_CORE_READ(f, f_path.dentry);
			m = BPF_CORE_READ(f, f_path.mnt);
		}
	} else if (btf_cast) {
		struct fs_struct *fs = KCAST(struct task_struct, task)->fs;

		if (!fs)
			return false;
		d = what == MAGIC_CWD ? fs->pwd.dentry : fs->root.dentry;
		m = what == MAGIC_CWD ? fs->pwd.mnt : fs->root.mnt;
	} else {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);

		if (!fs)
			return false;
		d = what == MAGIC_CWD ? BPF_CORE_READ(fs, pwd.dentry) : BPF_CORE_READ(fs, root.dentry);
		m = what == MAGIC_CWD ? BPF_CORE_READ(fs, pwd.mnt) : BPF_CORE_READ(fs, root.mnt);
	}
	if (!d || !m)
		return false;
	/* A pipe's, a socket's or another pseudo file's dentry is its own
	 * parent without being a mount's root: it has no path to walk, and
	 * would come out as "/" */
	if ((__u64)KREAD(struct dentry, d, d_parent) == (__u64)d &&
	    (__u64)KREAD(struct vfsmount, m, mnt_root) != (__u64)d)
		return false;
	s->walk.dentry = to_addr(d);
	s->walk.vfsmnt = to_addr(m);
	return true;
}

/* magic_body parses the name of len bytes at tmp[NAME_AT]; for a magic
 * link it leaves the dentry and mount it leads to in s->walk and returns
 * where the rest of the name begins; MAGIC_NONE otherwise, marked unknown
 * (string idx) when it is one that leads nowhere. lookup: other processes
 * are looked up by pid (task_lookup). The walk is left to the caller, so
 * that the calls nest no deeper than before (5.10 allows 512 bytes of
 * stack across them). */
static __always_inline __u32 magic_body(__u32 len, __u32 idx, bool lookup)
{
	struct task_struct *cur = cur_task();
	struct scratch *s = get_scratch();
	__u32 i = 6, pid = 0, fd = 0, what;
	bool self = false, thread = false, found;
	__u64 v;

	if (!s)
		return MAGIC_NONE;
	if (name_has(s, i, len, "self", 4) && name_end(s, i + 4, len)) {
		self = true;
		i += 4;
	} else if (name_has(s, i, len, "thread-self", 11) && name_end(s, i + 11, len)) {
		thread = true;
		i += 11;
	} else if ((v = name_num(s, i, len))) {
		pid = (__u32)v;
		i += v >> 32;
	} else {
		return MAGIC_NONE;
	}
	if (name_has(s, i, len, "/fd/", 4) && (v = name_num(s, i + 4, len))) {
		what = MAGIC_FD;
		fd = (__u32)v;
		i += 4 + (v >> 32);
	} else if (name_has(s, i, len, "/cwd", 4) && name_end(s, i + 4, len)) {
		what = MAGIC_CWD;
		i += 4;
	} else if (name_has(s, i, len, "/root", 5) && name_end(s, i + 5, len)) {
		what = MAGIC_ROOT;
		i += 5;
	} else {
		return MAGIC_NONE;
	}

	if (!self && !thread) {
		/* a number is a pid of the /proc's namespace: known here only
		 * for a task of the initial one, whose numbers are global */
		__u32 level = btf_cast ? KCAST(struct task_struct, cur)->thread_pid->level : BPF_CORE_READ(cur, thread_pid, level);

		if (level == 0 && pid == KREAD(struct task_struct, cur, pid))
			thread = true;
		else if (level == 0 && pid == KREAD(struct task_struct, cur, tgid))
			self = true;
		else if (!lookup || level != 0)
			goto unresolved;
	}
	if (self || thread) {
		found = task_target(s, to_addr(self ? KREAD(struct task_struct, cur, group_leader) : cur),
				    what, fd);
	} else {
		struct task_struct *t = bpf_task_from_pid(pid);

		if (!t)
			goto unresolved;
		found = task_target(s, to_addr(t), what, fd);
		bpf_task_release(t);
	}
	if (!found)
		goto unresolved;
	return i;
unresolved:
	s->rec.rflags |= idx == 0 ? FST_RF_PATH_UNKNOWN : FST_RF_PATH2_UNKNOWN;
	return MAGIC_NONE;
}

/* Global, verified once: magic_link parses the caller's own links only
 * (the fentry and kprobe modes' failures, whose program types may not have
 * the lookup), magic_link_lookup any process's where task_lookup says the
 * kernel allows it (the syscall mode). */
__noinline __u32 magic_link(__u32 len, __u32 idx)
{
	return magic_body(len, idx, false);
}

__noinline __u32 magic_link_lookup(__u32 len, __u32 idx)
{
	return magic_body(len, idx, task_lookup);
}

/* put_magic writes, as string idx at off, the path magic_body left in
 * s->walk followed by the rest of the name (from tmp[NAME_AT + i], len
 * bytes in all), and returns its length. */
static __always_inline __u32 put_magic(struct scratch *s, __u32 i, __u32 len, __u32 off, __u32 idx)
{
	__u32 w = walk_path(s->walk.dentry, s->walk.vfsmnt);
	__u32 pos = w & PATH_MAX_MASK;
	__u32 plen = FST_PATH_MAX - pos, rest, total;

	if (plen > FST_PATH_MAX)
		plen = 0;
	rest = len > i ? len - i : 0; /* what follows, from its '/' */
	if (rest && plen == 1)	      /* the root: "/" and "/x" make "/x" */
		plen = 0;
	total = plen + rest;
	if (total > FST_PATH_MAX) {
		rest = FST_PATH_MAX - plen;
		total = FST_PATH_MAX;
		w |= WALK_TRUNC;
	}
	/* clang knows both below FST_PATH_MAX and would drop the masks; 5.10's
	 * verifier does not and needs them */
	barrier_var(plen);
	barrier_var(rest);
	bpf_probe_read_kernel(&s->data[off & STR_OFF_MASK], plen & PATH_MAX_MASK, &s->tmp[pos & PATH_MASK]);
	bpf_probe_read_kernel(&s->data[(off + plen) & STR_OFF_MASK], rest & PATH_MAX_MASK,
			      &s->tmp[(NAME_AT + i) & (TMP_SZ - 1)]);
	if (w & WALK_TRUNC)
		s->rec.rflags |= idx == 0 ? FST_RF_PATH_TRUNC : FST_RF_PATH2_TRUNC;
	s->rec.str_len[idx & 1] = total;
	set_anchor(s, idx, s->walk_from, rest);
	return total;
}

/* join_name writes the absolute form of a name the process passed (kernel
 * memory, NUL-terminated) relative to dfd, as string idx (0 or 1) at off;
 * tidied (tidy_name) when tidy is set. */
static __always_inline __u32 join_name(int dfd, __u64 name_addr, __u32 off, __u32 idx, bool tidy)
{
	const char *name = (const char *)name_addr;
	struct scratch *s = get_scratch();
	__u32 w, pos, start, total, len;
	long n;

	if (!s)
		return 0;
	idx &= 1;
	n = bpf_probe_read_kernel_str(&s->tmp[NAME_AT], FST_PATH_MAX - 1, name);
	if (n <= 0)
		n = 1;
	len = n - 1;
	/* bounded for the verifier: a global function's result is any scalar */
	if (tidy)
		len = tidy_name(len, s->tmp[NAME_AT] == '/') & PATH_MASK;
	if (len && s->tmp[NAME_AT] == '/') {
		if (is_proc_name(s)) {
			w = tidy ? magic_link_lookup(len, idx) : magic_link(len, idx);
			if (w != MAGIC_NONE)
				return put_magic(s, w, len, off, idx);
		}
		bpf_probe_read_kernel(&s->data[off & STR_OFF_MASK], len & PATH_MAX_MASK, &s->tmp[NAME_AT]);
		s->rec.str_len[idx & 1] = len;
		/* below the task's root, as far as a name not looked up
		 * tells: a mount on the way is not seen (lib/host.h) */
		set_anchor(s, idx, ANCHOR_ROOT, len);
		return len;
	}
	w = fd_walk(s, dfd);
	pos = w & PATH_MAX_MASK;
	if (!len) /* an empty name (AT_EMPTY_PATH), or ".": the directory itself */
		return put_walk(s, w, off, idx);
	s->tmp[FST_PATH_MAX] = '/';
	start = pos >= FST_PATH_MAX - 1 ? FST_PATH_MAX : pos;
	total = FST_PATH_MAX + 1 - start + len;
	if (total > FST_PATH_MAX) {
		total = FST_PATH_MAX;
		w |= WALK_TRUNC;
	}
	bpf_probe_read_kernel(&s->data[off & STR_OFF_MASK], total & PATH_MAX_MASK, &s->tmp[start & (TMP_SZ - 1)]);
	if (w & WALK_TRUNC)
		s->rec.rflags |= idx == 0 ? FST_RF_PATH_TRUNC : FST_RF_PATH2_TRUNC;
	else
		set_anchor(s, idx, s->walk_from, total - (FST_PATH_MAX - start));
	s->rec.str_len[idx & 1] = total;
	return total;
}

/* name_path: join_name as it is passed. Global for the same reason as
 * walk_path. The fentry and kprobe modes use it (for failures that reach
 * no dentry): tidy_name's loop would cost each of their programs more
 * verifier time than fstrace's whole start took. */
__noinline __u32 name_path(int dfd, __u64 name_addr, __u32 off, __u32 idx)
{
	return join_name(dfd, name_addr, off, idx, false);
}

/* name_path_tidy: join_name tidied, for the syscall mode, where every path
 * but an open's is a name passed. */
__noinline __u32 name_path_tidy(int dfd, __u64 name_addr, __u32 off, __u32 idx)
{
	return join_name(dfd, name_addr, off, idx, true);
}

/* put_str copies a plain kernel string (symlink target, mount source) as
 * string idx at off, at most max bytes. */
static __always_inline __u32 put_str(struct scratch *s, const char *str, __u32 off, int idx, __u32 max)
{
	long n;

	if (!str)
		return 0;
	n = bpf_probe_read_kernel_str(&s->data[off & STR_OFF_MASK], max & PATH_MAX_MASK, str);
	if (n <= 1)
		return 0;
	s->rec.str_len[idx == 2 ? 2 : 1] = n - 1;
	return n - 1;
}

#endif /* __FSTRACE_PATH_H */

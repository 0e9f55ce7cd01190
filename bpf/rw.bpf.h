/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * read, write, close: the data path, on regular files only.
 *
 * Every read and write is counted per open file (struct file) in
 * file_stats; `close`, when the file is released, reports the totals.
 * By default only the first read and the first write of an open file are
 * events of their own (a 1 GiB copy in 4 KiB writes is one `write` and one
 * `close`, not 262 144 events); each_mask asks for every call instead.
 *
 * Hooks: vfs_read, vfs_write, vfs_readv, vfs_writev, vfs_copy_file_range
 * (copy_file_range(2), both sides), do_sendfile (sendfile(2)), and __fput,
 * the release of the last reference, for close. The syscall mode does the
 * same from read/write/close syscalls (syscall.bpf.h).
 */

struct file_stats {
	__u64 bytes_read;
	__u64 bytes_written;
	__u32 seen; /* 1 << FST_READ, 1 << FST_WRITE: first call already reported */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct file_stats);
} file_stats SEC(".maps");

/* Kinds (read, write) reported on every call, not only the first. */
const volatile __u32 each_mask = 0;

static __always_inline bool regular_file(struct file *f)
{
	umode_t m;

	if (btf_cast)
		m = KCAST(struct file, f)->f_inode->i_mode;
	else
		m = BPF_CORE_READ(f, f_inode, i_mode);

	return f && (m & S_IFMT) == S_IFREG;
}

/* rw_account counts a read or write of n bytes at offset off through f and
 * reports it when it is the first of its kind on f, or every call is asked
 * for. */
static __always_inline void rw_account(struct file *f, __u32 kind, long n, __u64 off, int fd)
{
	__u64 key = (__u64)f;
	struct file_stats *st, zero = {};
	struct scratch *s;
	bool first;

	if (n <= 0 || !regular_file(f))
		return;
	if (!(kind_mask & ((1U << kind) | (1U << FST_CLOSE))))
		return;
	st = bpf_map_lookup_elem(&file_stats, &key);
	if (!st) {
		bpf_map_update_elem(&file_stats, &key, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&file_stats, &key);
		if (!st)
			return;
	}
	if (kind == FST_READ)
		__sync_fetch_and_add(&st->bytes_read, n);
	else
		__sync_fetch_and_add(&st->bytes_written, n);
	first = !(st->seen & (1U << kind));
	st->seen |= 1U << kind;
	if (!first && !(each_mask & (1U << kind)))
		return;
	if (!trace_allowed(kind) || !(s = get_scratch()))
		return;
	start_record(s, kind);
	s->rec.bytes = n;
	s->rec.offset = off;
	s->rec.fd = fd;
	s->rec.file_id = file_id(f);
	put_file_path(s, f, 0, 0);
	set_inode(&s->rec, KREAD(struct file, f, f_inode));
	emit(s);
}

/* rw_close reports the release of f with its totals and forgets them. */
static __always_inline void rw_close(struct file *f, int fd)
{
	__u64 key = (__u64)f;
	struct file_stats *st = bpf_map_lookup_elem(&file_stats, &key);
	struct scratch *s;

	if (regular_file(f) && trace_allowed(FST_CLOSE) && (s = get_scratch())) {
		start_record(s, FST_CLOSE);
		s->rec.fd = fd;
		s->rec.file_id = file_id(f);
		if (st) {
			s->rec.bytes = st->bytes_read;
			s->rec.bytes2 = st->bytes_written;
		}
		if (KREAD(struct file, f, f_mode) & FMODE_WRITE)
			s->rec.rflags |= FST_RF_WRITTEN;
		put_file_path(s, f, 0, 0);
		set_inode(&s->rec, KREAD(struct file, f, f_inode));
		emit(s);
	}
	if (st)
		bpf_map_delete_elem(&file_stats, &key);
}

/* The offset a call started at, from the position it left behind. */
static __always_inline __u64 start_offset(struct file *f, loff_t *pos, long n)
{
	loff_t p = 0;

	if (pos)
		bpf_probe_read_kernel(&p, sizeof(p), pos);
	else
		p = KREAD(struct file, f, f_pos);
	return n > 0 && p >= n ? p - n : 0;
}

static __always_inline int rw_exit(struct file *f, loff_t *pos, long ret, __u32 kind)
{
	rw_account(f, kind, ret, start_offset(f, pos, ret), -1);
	return 0;
}

/* The read/write family: (struct file *, buffer, count, loff_t *pos, ...)
 * returning ssize_t. 5.10's verifier refuses a direct read of an argument
 * that points to something other than a struct (loff_t *), so the fexit
 * program copies pos out of its context instead of using FST_EXIT. */
#define FST_RW_EXIT(fn, name, id, nargs, kind)                                                   \
	SEC("fexit/" #fn)                                                                        \
	int name(unsigned long long *ctx)                                                        \
	{                                                                                        \
		loff_t *pos = NULL;                                                              \
                                                                                                 \
		bpf_probe_read_kernel(&pos, sizeof(pos), &ctx[3]);                               \
		return FST_GUARDED(rw_exit((struct file *)ctx[0], pos, (long)ctx[nargs], kind)); \
	}                                                                                        \
	FST_KARGS_SAVE(fn, name, id)                                                             \
	SEC("kretprobe/" #fn)                                                                    \
	int kp_##name(struct pt_regs *regs)                                                      \
	{                                                                                        \
		__u64 a[KARGS_N];                                                                \
                                                                                                 \
		if (!kargs_take(id, a))                                                          \
			return 0;                                                                \
		return rw_exit((struct file *)a[0], (loff_t *)a[3], PT_REGS_RC(regs), kind);     \
	}

FST_RW_EXIT(vfs_read, read_exit, HOOK_READ, 4, FST_READ)
FST_RW_EXIT(vfs_write, write_exit, HOOK_WRITE, 4, FST_WRITE)
FST_RW_EXIT(vfs_readv, readv_exit, HOOK_READV, 5, FST_READ)
FST_RW_EXIT(vfs_writev, writev_exit, HOOK_WRITEV, 5, FST_WRITE)

FST_EXIT(vfs_copy_file_range, copy_exit, HOOK_COPY, struct file *file_in, loff_t pos_in, struct file *file_out,
	 loff_t pos_out, size_t len, unsigned int flags, ssize_t ret)
{
	rw_account(file_in, FST_READ, ret, pos_in, -1);
	rw_account(file_out, FST_WRITE, ret, pos_out, -1);
	return 0;
}

/* sendfile(2): the fds are still open when it returns. */
static __always_inline int sendfile_done(int out_fd, int in_fd, loff_t *ppos, long ret)
{
	struct file *in = fd_file(in_fd), *out = fd_file(out_fd);

	rw_account(in, FST_READ, ret, start_offset(in, ppos, ret), -1);
	rw_account(out, FST_WRITE, ret, start_offset(out, NULL, ret), -1);
	return 0;
}

/* do_sendfile(out_fd, in_fd, loff_t *ppos, count, max): ppos is read out of
 * the context for the same reason as above. */
SEC("fexit/do_sendfile")
int sendfile_exit(unsigned long long *ctx)
{
	loff_t *ppos = NULL;

	bpf_probe_read_kernel(&ppos, sizeof(ppos), &ctx[2]);
	return FST_GUARDED(sendfile_done((int)ctx[0], (int)ctx[1], ppos, (long)ctx[5]));
}

FST_KARGS_SAVE(do_sendfile, sendfile_exit, HOOK_SENDFILE)

SEC("kretprobe/do_sendfile")
int kp_sendfile_exit(struct pt_regs *regs)
{
	__u64 a[KARGS_N];

	if (!kargs_take(HOOK_SENDFILE, a))
		return 0;
	return sendfile_done((int)a[0], (int)a[1], (loff_t *)a[2], PT_REGS_RC(regs));
}

FST_ENTRY(__fput, close_enter, struct file *file)
{
	rw_close(file, -1);
	return 0;
}

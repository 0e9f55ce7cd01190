/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The record every fstrace BPF program writes into the per-CPU ring buffers.
 *
 * A record is this fixed header followed by str_len[0] + ... +
 * str_len[FST_NSTR - 1] bytes of strings, without NUL terminators:
 *   str 0: path      (absolute)
 *   str 1: new_path  (rename, link), target (symlink), source (mount)
 *   str 2: fstype    (mount), the attribute's name (xattr)
 *   str 3: where str 0 lies in its filesystem: the s_dev of the filesystem
 *          (__u32, native endian), then the path from that filesystem's
 *          root. Only for tasks whose root or mount namespace is not the
 *          host's (lib/host.h); user space places it in the host's mount
 *          table to give host_path.
 *   str 4: the same for str 1 (rename, link)
 *
 * A record of kind FST_REC_CGROUP (not an event) carries instead the names
 * of a cgroup, leaf first, each followed by '/', as str 0: see
 * lib/container.h. FST_REC_EXEC and FST_REC_EXIT tell user space which
 * program a process runs (process.bpf.h).
 * The Go mirror lives in pkg/events (layout.go) and a unit test checks it
 * against the BTF of the compiled object, so the two cannot drift apart.
 */
#ifndef __FSTRACE_H
#define __FSTRACE_H

#define FST_PATH_MAX 4096
#define FST_COMM_LEN 16
#define FST_NSTR 5

/* Event kinds: the JSON "event" names, in this order, live in pkg/events. */
enum fst_kind {
	FST_OPEN = 1,
	FST_CREATE = 2,
	FST_MKDIR = 3,
	FST_MKNOD = 4,
	FST_SYMLINK = 5,
	FST_LINK = 6,
	FST_UNLINK = 7,
	FST_RMDIR = 8,
	FST_RENAME = 9,
	FST_SETATTR = 10,
	FST_MOUNT = 11,
	FST_UMOUNT = 12,
	FST_READ = 13,
	FST_WRITE = 14,
	FST_CLOSE = 15,
	FST_XATTR = 16,
	FST_KIND_MAX = 17,
};

/* Records that are not events: their kinds lie past the events'. */
enum fst_rec_kind {
	FST_REC_CGROUP = 64, /* a cgroup's names, on its first sight */
	FST_REC_EXEC = 65,   /* a process exec'd: str 0 its executable, str 1 its argv */
	FST_REC_EXIT = 66,   /* a process (its last thread) exited */
};

/* rflags: facts about the record itself. */
enum fst_rflag {
	FST_RF_PATH_TRUNC = 1 << 0,    /* str 0 was cut at FST_PATH_MAX or depth limit */
	FST_RF_PATH2_TRUNC = 1 << 1,   /* str 1 likewise */
	FST_RF_HAS_INO = 1 << 2,       /* ino and dev are valid */
	FST_RF_HAS_MODE = 1 << 3,      /* mode is valid */
	FST_RF_WRITTEN = 1 << 4,       /* close: the file was written through */
	FST_RF_PATH_UNKNOWN = 1 << 5,  /* str 0: the name passed could not be read */
	FST_RF_PATH2_UNKNOWN = 1 << 6, /* str 1 likewise */
	FST_RF_HOST_FILTER = 1 << 7,   /* --path did not match str 0/1: user space
					* matches it against the host paths */
};

/* attr_mask: which attributes a setattr changed. */
enum fst_attr {
	FST_ATTR_MODE = 1 << 0,
	FST_ATTR_UID = 1 << 1,
	FST_ATTR_GID = 1 << 2,
	FST_ATTR_SIZE = 1 << 3,
	FST_ATTR_ATIME = 1 << 4,
	FST_ATTR_MTIME = 1 << 5,
	FST_ATTR_ATIME_NOW = 1 << 6, /* atime set to "now": time fields unused */
	FST_ATTR_MTIME_NOW = 1 << 7,
};

/* xattr: the operation, in attr_mask; flags holds XATTR_CREATE/REPLACE and
 * size the value's size (set only). The value itself is never copied. */
enum fst_xattr_op {
	FST_XATTR_SET = 1,
	FST_XATTR_REMOVE = 2,
};

struct fst_record {
	__u64 ts_ns;	 /* bpf_ktime_get_boot_ns() */
	__u64 cpu_seq;	 /* per-CPU sequence, counted before the ring write: a gap is a loss */
	__u64 cgroup_id; /* cgroup v2 id of the task */
	__u64 ino;
	__u64 flags;  /* open flags, rename flags, mount flags */
	__u64 size;   /* setattr: new size */
	__u64 offset; /* read/write: file offset */
	__u64 bytes;  /* read/write: bytes moved; close: bytes read */
	__u64 bytes2; /* close: bytes written */
	__s64 atime_sec;
	__s64 mtime_sec;
	__u32 atime_nsec;
	__u32 mtime_nsec;
	__u32 pid; /* thread group id */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 dev; /* kernel dev_t (MAJOR << 20 | MINOR) */
	__u32 mode;
	__u32 attr_uid;
	__u32 attr_gid;
	__u32 attr_mask;
	__s32 ret;
	__u16 kind;
	__u16 rflags;
	__u16 str_len[FST_NSTR];
	__u16 cpu;
	char comm[FST_COMM_LEN];
	__u32 mntns; /* mount namespace inode number */
	__u32 euid;  /* effective ids, next to the real uid and gid */
	__u32 egid;
	__u32 auid;    /* login uid (audit), FST_NO_AUID if unset or unknown */
	__s32 fd;      /* open, read, write, close: the fd, where the mode sees it; else -1 */
	__u64 file_id; /* open, read, write, close: the open file, as file_id() hides it; else 0.
			  * The header is 200 bytes, no implicit padding. */
};

#define FST_NO_AUID 0xffffffffu

#endif /* __FSTRACE_H */

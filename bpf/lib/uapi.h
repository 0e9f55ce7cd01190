/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The kernel's ABI constants the programs use. They are macros, which BTF
 * (and so vmlinux.h) does not carry; written once here, under the kernel's
 * own names. x86-64 values where the architecture matters.
 */
#ifndef __FSTRACE_UAPI_H
#define __FSTRACE_UAPI_H

/* include/uapi/asm-generic/fcntl.h */
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_LARGEFILE 0100000
#define __O_TMPFILE 020000000 /* O_TMPFILE is __O_TMPFILE | O_DIRECTORY */

/* The open(2) flags a caller can pass, as open_flags.open_flag holds them.
 * Left out: O_LARGEFILE, which a 64-bit kernel forces on every open, and
 * the kernel's own bits in the low octal digits (__FMODE_EXEC...). */
#define OPEN_USER_FLAGS (037777777 & ~(O_LARGEFILE | 074))

/* include/uapi/linux/fcntl.h */
#define AT_FDCWD -100
#define AT_REMOVEDIR 0x200

/* include/uapi/linux/stat.h, include/linux/stat.h */
#define S_IFMT 0170000
#define S_IFREG 0100000
#define S_IALLUGO 07777 /* the permission bits, with setuid, setgid, sticky */

/* include/linux/stat.h: utimensat(2)'s special tv_nsec values */
#define UTIME_NOW ((1l << 30) - 1l)
#define UTIME_OMIT ((1l << 30) - 2l)

/* include/linux/fs.h (FMODE_CREATED moves between kernels: lib/compat.h) */
#define FMODE_WRITE 0x2

#endif /* __FSTRACE_UAPI_H */

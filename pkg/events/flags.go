package events

import (
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

type flagName struct {
	bits uint64
	name string
}

// flagTable is a list of flags in output order.
type flagTable []struct {
	flagName
	within uint64 // a multi-bit flag in the table that includes bits
}

func newFlagTable(names []flagName) flagTable {
	t := make(flagTable, len(names))
	for i, f := range names {
		t[i].flagName = f
		for _, g := range names {
			if g.bits != f.bits && g.bits&f.bits == f.bits {
				t[i].within = g.bits
			}
		}
	}
	return t
}

// oLargefile is the kernel's O_LARGEFILE, which the kernel forces on every
// open on 64-bit architectures but x/sys/unix defines as 0 there.
var oLargefile = func() uint64 {
	if unix.O_LARGEFILE != 0 {
		return unix.O_LARGEFILE
	}
	switch runtime.GOARCH {
	case "arm64":
		return 0o400000
	case "ppc64", "ppc64le":
		return 0o200000
	case "mips64", "mips64le":
		return 0x2000
	default: // asm-generic
		return 0o100000
	}
}()

// openFlags are in output order; the access mode is handled separately.
var openFlags = newFlagTable([]flagName{
	{unix.O_CREAT, "O_CREAT"},
	{unix.O_EXCL, "O_EXCL"},
	{unix.O_NOCTTY, "O_NOCTTY"},
	{unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"},
	{unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_DSYNC, "O_DSYNC"},
	{unix.O_ASYNC, "O_ASYNC"},
	{unix.O_DIRECT, "O_DIRECT"},
	{oLargefile, "O_LARGEFILE"},
	{unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"},
	{unix.O_NOATIME, "O_NOATIME"},
	{unix.O_CLOEXEC, "O_CLOEXEC"},
	{unix.O_SYNC, "O_SYNC"}, // includes O_DSYNC
	{unix.O_PATH, "O_PATH"},
	{unix.O_TMPFILE, "O_TMPFILE"}, // includes O_DIRECTORY
})

var renameFlags = newFlagTable([]flagName{
	{unix.RENAME_NOREPLACE, "RENAME_NOREPLACE"},
	{unix.RENAME_EXCHANGE, "RENAME_EXCHANGE"},
	{unix.RENAME_WHITEOUT, "RENAME_WHITEOUT"},
})

var mountFlags = newFlagTable([]flagName{
	{unix.MS_RDONLY, "MS_RDONLY"},
	{unix.MS_NOSUID, "MS_NOSUID"},
	{unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"},
	{unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"},
	{unix.MS_REMOUNT, "MS_REMOUNT"},
	{unix.MS_MANDLOCK, "MS_MANDLOCK"},
	{unix.MS_DIRSYNC, "MS_DIRSYNC"},
	{unix.MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"},
	{unix.MS_NOATIME, "MS_NOATIME"},
	{unix.MS_NODIRATIME, "MS_NODIRATIME"},
	{unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"},
	{unix.MS_REC, "MS_REC"},
	{unix.MS_SILENT, "MS_SILENT"},
	{unix.MS_POSIXACL, "MS_POSIXACL"},
	{unix.MS_UNBINDABLE, "MS_UNBINDABLE"},
	{unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SLAVE, "MS_SLAVE"},
	{unix.MS_SHARED, "MS_SHARED"},
	{unix.MS_RELATIME, "MS_RELATIME"},
	{unix.MS_KERNMOUNT, "MS_KERNMOUNT"},
	{unix.MS_I_VERSION, "MS_I_VERSION"},
	{unix.MS_STRICTATIME, "MS_STRICTATIME"},
	{unix.MS_LAZYTIME, "MS_LAZYTIME"},
})

var umountFlags = newFlagTable([]flagName{
	{unix.MNT_FORCE, "MNT_FORCE"},
	{unix.MNT_DETACH, "MNT_DETACH"},
	{unix.MNT_EXPIRE, "MNT_EXPIRE"},
	{unix.UMOUNT_NOFOLLOW, "UMOUNT_NOFOLLOW"},
})

var xattrFlags = newFlagTable([]flagName{
	{unix.XATTR_CREATE, "XATTR_CREATE"},
	{unix.XATTR_REPLACE, "XATTR_REPLACE"},
})

// appendFlags appends the names in table of the flags set in v, joined by
// '|' after sep (the separator before the first name), then any leftover
// bits as one hex number. A flag whose within flag is fully set is left to
// that one: O_SYNC alone, not O_DSYNC|O_SYNC.
func appendFlags(dst []byte, v uint64, table flagTable, sep string) []byte {
	left := v
	for _, f := range table {
		if f.bits == 0 || v&f.bits != f.bits || f.within != 0 && v&f.within == f.within {
			continue
		}
		dst = append(append(dst, sep...), f.name...)
		sep = "|"
		left &^= f.bits
	}
	if left != 0 {
		dst = strconv.AppendUint(append(append(dst, sep...), "0x"...), left, 16)
	}
	return dst
}

// appendOpenFlags appends open(2) flags, access mode first.
func appendOpenFlags(dst []byte, v uint64) []byte {
	switch v & unix.O_ACCMODE {
	case unix.O_RDONLY:
		dst = append(dst, "O_RDONLY"...)
	case unix.O_WRONLY:
		dst = append(dst, "O_WRONLY"...)
	case unix.O_RDWR:
		dst = append(dst, "O_RDWR"...)
	default:
		dst = append(dst, "0x3"...)
	}
	return appendFlags(dst, v&^unix.O_ACCMODE, openFlags, "|")
}

// appendMode appends m&07777 in octal with a leading 0 and at least 4 digits.
func appendMode(dst []byte, m uint32) []byte {
	m &= 0o7777
	dst = append(dst, '0')
	if m < 0o100 {
		dst = append(dst, '0')
	}
	if m < 0o10 {
		dst = append(dst, '0')
	}
	return strconv.AppendUint(dst, uint64(m), 8)
}

// fileType names the file type in a mknod mode, "" if unknown.
func fileType(m uint32) string {
	switch m & unix.S_IFMT {
	case 0, unix.S_IFREG:
		return "regular"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "char"
	case unix.S_IFBLK:
		return "block"
	}
	return ""
}

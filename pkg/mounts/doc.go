// Package mounts places a file, given as its filesystem's device and its
// path from that filesystem's root, in the host's mount table: the path of
// the same file as the host sees it.
//
// fstrace's kernel side reports, for a process in a container or a
// chroot, where each file lies in its filesystem (bpf/lib/host.h). The
// host's table, /proc/1/mountinfo (the initial mount namespace), says
// where each filesystem, or a part of it (a bind mount), is mounted;
// Table.Place joins the two. A filesystem the host has not mounted, such
// as a tmpfs only a container sees, has no place.
package mounts

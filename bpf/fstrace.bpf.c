// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
//go:build ignore

/*
 * fstrace's BPF programs: this file is the one compilation unit, and the
 * files it includes are its parts, in this order, each relying on those
 * before it (hence .h: none compiles alone).
 *   lib/uapi.h      the kernel's ABI constants (O_*, S_*...)
 *   lib/compat.h    kernel differences, one helper each
 *   lib/common.h    maps and the per-CPU scratch record
 *   lib/filter.h    the in-kernel filters
 *   lib/container.h which container: cgroup records, container filters
 *   lib/path.h      absolute paths in the kernel
 *   lib/host.h      where a container's file lies on the host
 *   lib/emit.h      the early check and the emit path
 *   lib/inflight.h  operations that span a namei entry and exit
 *   lib/hooks.h     one hook body as fentry/fexit and as kprobe/kretprobe
 *   open.bpf.h create.bpf.h delete.bpf.h rename.bpf.h attr.bpf.h
 *   mount.bpf.h rw.bpf.h   the event families (VFS hooks)
 *   process.bpf.h   following a command's process tree, exec and exit
 *   sys.bpf.h       a syscall read from its registers: staged and emitted
 *   syscall.bpf.h   the syscall hook mode (syscall tracepoints)
 *   lookup_fail.bpf.h  the syscall entry points that see lookup failures
 *                   in the fentry and kprobe modes
 *   probes.bpf.h    programs user space loads to learn what the kernel allows
 */
#include "include/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "fstrace.h"
#include "lib/uapi.h"
#include "lib/compat.h"
#include "lib/common.h"
#include "lib/filter.h"
#include "lib/container.h"
#include "lib/path.h"
#include "lib/host.h"
#include "lib/emit.h"
#include "lib/inflight.h"
#include "lib/hooks.h"

#include "open.bpf.h"
#include "create.bpf.h"
#include "delete.bpf.h"
#include "rename.bpf.h"
#include "attr.bpf.h"
#include "mount.bpf.h"
#include "rw.bpf.h"
#include "process.bpf.h"
#include "sys.bpf.h"
#include "syscall.bpf.h"
#include "lookup_fail.bpf.h"
#include "probes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

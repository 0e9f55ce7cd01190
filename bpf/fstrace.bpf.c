// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
//go:build ignore

/*
 * fstrace's BPF programs: one compilation unit, one file per event family.
 *   lib/common.h    maps and the per-CPU scratch record
 *   lib/filter.h    the in-kernel filters
 *   lib/container.h which container: cgroup records, container filters
 *   lib/path.h      absolute paths in the kernel
 *   lib/host.h      where a container's file lies on the host
 *   lib/emit.h      the early check and the emit path
 *   lib/inflight.h  operations that span a namei entry and exit
 *   lib/hooks.h     one hook body as fentry/fexit and as kprobe/kretprobe
 *   open.c create.c delete.c rename.c attr.c mount.c rw.c  the event families
 *   process.c       following a command's process tree
 *   sys.c           the syscall hook mode (raw syscall tracepoints), and the
 *                   syscall entry points that see lookup failures in the others
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

#include "open.c"
#include "create.c"
#include "delete.c"
#include "rename.c"
#include "attr.c"
#include "mount.c"
#include "rw.c"
#include "process.c"
#include "sys.c"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

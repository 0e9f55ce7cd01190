/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * One body, two hook modes. FST_ENTRY and FST_EXIT declare a hook once and
 * emit it as an fentry/fexit program (name) and as a kprobe/kretprobe pair
 * (kp_name), for kernels with kprobes but no BPF trampolines. A kretprobe
 * sees only the return value, so kp_name_args saves the arguments on entry,
 * keyed by thread and hook, and the kretprobe takes them back. The
 * trampoline variants run FST_GUARDED (lib/compat.h); kprobes run with
 * preemption off already.
 */
#ifndef __FSTRACE_HOOKS_H
#define __FSTRACE_HOOKS_H

#define KARGS_N 7 /* up to six arguments (five saved by a kprobe), then the return value */

/* The exit hooks' ids: a kprobe saves its arguments under (id, thread), so
 * two hooks on one call stack must not share one. The values are arbitrary
 * but distinct. */
enum hook_id {
	HOOK_OPEN = 1,
	HOOK_MKDIR = 2,
	HOOK_MKNOD = 3,
	HOOK_SYMLINK = 4,
	HOOK_LINK = 5,
	HOOK_UNLINK = 6,
	HOOK_RMDIR = 7,
	HOOK_RENAME = 8,
	HOOK_CHMOD = 9,
	HOOK_CHOWN = 10,
	HOOK_UTIMES = 11,
	HOOK_TRUNCATE = 12,
	HOOK_FTRUNCATE = 13,
	HOOK_FTRUNCATE_FD = 14,
	HOOK_MOUNT = 15,
	HOOK_UMOUNT = 16,
	HOOK_READ = 20,
	HOOK_WRITE = 21,
	HOOK_READV = 22,
	HOOK_WRITEV = 23,
	HOOK_COPY = 24,
	HOOK_SENDFILE = 25,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64[KARGS_N]);
} kargs SEC(".maps");

static __always_inline void kargs_save(__u32 id, struct pt_regs *regs)
{
	__u64 key = ((__u64)id << 32) | (__u32)bpf_get_current_pid_tgid();
	__u64 v[KARGS_N] = {
		PT_REGS_PARM1(regs),
		PT_REGS_PARM2(regs),
		PT_REGS_PARM3(regs),
		PT_REGS_PARM4(regs),
		PT_REGS_PARM5(regs),
	};

	bpf_map_update_elem(&kargs, &key, v, BPF_ANY);
}

/* kargs_take copies the saved arguments to v and forgets them. */
static __always_inline bool kargs_take(__u32 id, __u64 *v)
{
	__u64 key = ((__u64)id << 32) | (__u32)bpf_get_current_pid_tgid();
	__u64 *saved = bpf_map_lookup_elem(&kargs, &key);

	if (!saved)
		return false;
	__builtin_memcpy(v, saved, KARGS_N * sizeof(__u64));
	bpf_map_delete_elem(&kargs, &key);
	return true;
}

#define FST_NOWARN_PUSH _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wint-conversion\"")
#define FST_NOWARN_POP _Pragma("GCC diagnostic pop")

/* FST_TRAMP(sec, fn, name, args...): the trampoline program (fentry or
 * fexit) that runs name##_body on fn's arguments, preemption off. */
#define FST_TRAMP(sec, fn, name, args...)                               \
	SEC(sec "/" #fn)                                                \
	int name(unsigned long long *ctx)                               \
	{                                                               \
		FST_NOWARN_PUSH                                         \
		return FST_GUARDED(name##_body(___bpf_ctx_cast(args))); \
		FST_NOWARN_POP                                          \
	}

/* FST_ENTRY(fn, name, args...) { body }: runs body on entry to fn. */
#define FST_ENTRY(fn, name, args...)                               \
	static __always_inline int name##_body(void *ctx, ##args); \
	FST_TRAMP("fentry", fn, name, args)                        \
	SEC("kprobe/" #fn)                                         \
	int kp_##name(struct pt_regs *ctx)                         \
	{                                                          \
		FST_NOWARN_PUSH                                    \
		return name##_body(___bpf_kprobe_args(args));      \
		FST_NOWARN_POP                                     \
	}                                                          \
	static __always_inline int name##_body(void *ctx, ##args)

/* FST_KARGS_SAVE: the kprobe on entry to fn that keeps its arguments for
 * the kretprobe kp_name. */
#define FST_KARGS_SAVE(fn, name, id)              \
	SEC("kprobe/" #fn)                        \
	int kp_##name##_args(struct pt_regs *ctx) \
	{                                         \
		kargs_save(id, ctx);              \
		return 0;                         \
	}

/* FST_EXIT(fn, name, id, args..., ret) { body }: runs body when fn returns,
 * with its arguments and its return value; id is the hook's enum hook_id. */
#define FST_EXIT(fn, name, id, args...)                            \
	static __always_inline int name##_body(void *ctx, ##args); \
	FST_TRAMP("fexit", fn, name, args)                         \
	FST_KARGS_SAVE(fn, name, id)                               \
	SEC("kretprobe/" #fn)                                      \
	int kp_##name(struct pt_regs *regs)                        \
	{                                                          \
		unsigned long long ctx[KARGS_N];                   \
                                                                   \
		if (!kargs_take(id, ctx))                          \
			return 0;                                  \
		ctx[___bpf_narg(args) - 1] = PT_REGS_RC(regs);     \
		FST_NOWARN_PUSH                                    \
		return name##_body(___bpf_ctx_cast(args));         \
		FST_NOWARN_POP                                     \
	}                                                          \
	static __always_inline int name##_body(void *ctx, ##args)

#endif /* __FSTRACE_HOOKS_H */

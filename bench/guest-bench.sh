#!/bin/sh
# Runs in a QEMU guest (busybox sh, so POSIX sh): bench/fsloop untraced and
# under `fstrace -o json` in each hook mode, alternating, and prints one
# line per round: "BENCH MODE ROUND UNTRACED_MS TRACED_MS EVENTS LOST".
# env: MODES (default "fentry kprobe syscall"; syscall-raw is the syscall
# mode on the raw tracepoints, FSTRACE_SYSCALL_HOOKS=raw), ROUNDS (5),
# ITERS (20000), ARGS (fstrace's arguments, default "-o json").
set -u
dir=/tmp/bench
mkdir -p "$dir"
for mode in ${MODES:-fentry kprobe syscall}; do
	r=1
	while [ "$r" -le "${ROUNDS:-5}" ]; do
		hm=$mode raw=
		[ "$mode" = syscall-raw ] && hm=syscall raw=raw
		u=$(fsloop "$dir" "${ITERS:-20000}")
		# Emptied first: fstrace's redirection truncates the log only once
		# the child runs, and the last round's "tracing" line would let the
		# loop start before this fstrace is attached.
		: >"$dir/log"
		# shellcheck disable=SC2086 # ARGS is split on purpose
		FSTRACE_SYSCALL_HOOKS=$raw fstrace ${ARGS:--o json} --hook-mode "$hm" >/dev/null 2>"$dir/log" &
		pid=$!
		i=0
		until grep -q tracing "$dir/log"; do
			if ! kill -0 "$pid" 2>/dev/null || [ "$i" -ge 300 ]; then
				echo "BENCH-ERROR $mode: fstrace did not start:"
				cat "$dir/log"
				kill "$pid" 2>/dev/null
				continue 3
			fi
			i=$((i + 1))
			sleep 1
		done
		t=$(fsloop "$dir" "${ITERS:-20000}")
		kill -TERM "$pid"
		wait "$pid"
		set -- $(sed -n 's/^fstrace: \([0-9]*\) events, \([0-9]*\) lost$/\1 \2/p' "$dir/log")
		if [ $# -ne 2 ]; then
			# no summary: the round measured something else
			echo "BENCH-ERROR $mode: round $r, fstrace ended without its summary:"
			cat "$dir/log"
		else
			echo "BENCH $mode $r $u $t $1 $2"
		fi
		r=$((r + 1))
	done
done

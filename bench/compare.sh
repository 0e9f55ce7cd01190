#!/usr/bin/env bash
# compare.sh times a workload untraced and under each tracer given, side by
# side: every round runs, for each tracer in turn, the workload untraced and
# then under that tracer, and a tracer's figure is the median of its ratios
# to the untraced run just before, so drift in the machine's speed cancels
# out. Needs root.
#
# usage: bench/compare.sh [-r ROUNDS] [-w WORKLOAD] NAME=COMMAND...
#   -r ROUNDS    rounds (default 7)
#   -w WORKLOAD  the command timed (default: bench/fsloop in a fresh directory)
#   NAME=COMMAND a tracer (NAME without spaces), started with sh -c,
#                stdout to /dev/null; for a
#                command starting with fstrace, "-q" is not given, so its
#                start line tells when it is attached and its summary how
#                many events it delivered and lost
#
# For every tracer it prints the median ratio (min-max), the median time,
# the median ratio of the workload's own CPU time (cpu-ratio: what the
# tracer adds inside the workload's syscalls, steadier than elapsed time on
# a busy machine), the machine's context switches per event delivered, and the tracer's own
# CPU seconds (user + system) per million events delivered. The event count
# is fstrace's own; for others it is the same workload's count.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rounds=7
workload=
while getopts r:w: o; do
	case $o in
	r) rounds=$OPTARG ;;
	w) workload=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: bench/compare.sh [-r ROUNDS] [-w WORKLOAD] NAME=COMMAND..." >&2; exit 2; }

dir=$(mktemp -d /tmp/fstrace-bench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
if [ -z "$workload" ]; then
	cc -O2 -o "$dir/fsloop" "$here/fsloop.c"
	mkdir "$dir/w"
	workload="$dir/fsloop $dir/w"
fi

now_ns() { date +%s%N; }
ctxt() { awk '$1 == "ctxt" { print $2 }' /proc/stat; }
# CPU ticks (user + system) of a process and its children so far.
cpu_ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

# run_workload prints: ms ctxt cpu-ms. cpu-ms is the workload's own CPU
# time, user + system: the programs a tracer runs in the workload's
# syscalls are charged to it, and it moves less than elapsed time when
# other work shares the machine.
run_workload() {
	local c0 t0 t1 c1 cpu
	c0=$(ctxt)
	t0=$(now_ns)
	cpu=$( (sh -c "$workload" >/dev/null; times) | awk 'END {
		for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
		printf "%d", t * 1000 }')
	t1=$(now_ns)
	c1=$(ctxt)
	echo $(((t1 - t0) / 1000000)) $((c1 - c0)) "$cpu"
}

# start_tracer NAME COMMAND: starts it and waits until it is attached.
start_tracer() {
	: >"$dir/log"
	sh -c "exec $2" >/dev/null 2>"$dir/log" &
	pid=$!
	case $2 in
	*fstrace*)
		local i=0
		until grep -q "tracing" "$dir/log"; do
			kill -0 "$pid" 2>/dev/null || { echo "$1 exited:" >&2; cat "$dir/log" >&2; exit 1; }
			i=$((i + 1))
			[ $i -lt 600 ] || { echo "$1 did not start" >&2; exit 1; }
			sleep 0.1
		done ;;
	*)
		# Peers print no dependable "attached" line: give them time.
		sleep 3
		kill -0 "$pid" 2>/dev/null || { echo "$1 exited:" >&2; cat "$dir/log" >&2; exit 1; } ;;
	esac
}

stop_tracer() {
	local i=0
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
}

names=()
for spec in "$@"; do
	name=${spec%%=*}
	case $name in *[[:space:]]*|'') echo "compare: a tracer's name has no spaces: '$name'" >&2; exit 2 ;; esac
	names+=("$name")
done
: >"$dir/results"
r=0
while [ $r -lt "$rounds" ]; do
	r=$((r + 1))
	for spec in "$@"; do
		read -r base_ms base_cs base_cpu < <(run_workload)
		echo "untraced $r $base_ms $base_cs 0 0 0 $base_ms $base_cpu $base_cpu" >>"$dir/results"
		name=${spec%%=*}
		cmd=${spec#*=}
		start_tracer "$name" "$cmd"
		sleep 0.2
		c0=$(cpu_ticks "$pid")
		read -r ms cs cpu < <(run_workload)
		# Let it catch up with the reorder window before reading its CPU.
		sleep 0.2
		c1=$(cpu_ticks "$pid")
		stop_tracer
		# fstrace's summary: "fstrace: N events, M lost".
		ev=$(sed -n 's/^fstrace: \([0-9]*\) events, \([0-9]*\) lost$/\1 \2/p' "$dir/log")
		[ -n "$ev" ] || ev="0 0"
		echo "$name $r $ms $cs $((c1 - c0)) $ev $base_ms $cpu $base_cpu" >>"$dir/results"
	done
	printf 'round %d/%d done\n' "$r" "$rounds" >&2
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit } print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

# A workload's own event count, for tracers that do not print one: the
# median of fstrace's counts.
events=$(awk '$1 != "untraced" && $6 > 0 { print $6 }' "$dir/results" | median)
[ "$events" != - ] || events=0

echo "machine: $(nproc) CPUs, $(uname -r), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "workload: $workload; $rounds rounds, medians"
printf '%-28s %-8s %-13s %8s %-9s %10s %12s %10s %6s\n' tracer ratio spread ms "cpu-ratio" "ctxsw/ev" "cpu-s/Mev" events lost
u_ms=$(awk '$1 == "untraced" { print $3 }' "$dir/results" | median)
u_cs=$(awk '$1 == "untraced" { print $4 }' "$dir/results" | median)
printf '%-28s %-8s %-13s %8s %-9s %10s %12s %10s %6s\n' untraced 1.00 - "$u_ms" 1.00 "($u_cs)" - - -
for name in "${names[@]}"; do
	rows=$(awk -v n="$name" '$1 == n' "$dir/results")
	ratio=$(echo "$rows" | awk '{ printf "%.3f\n", $3 / $8 }' | median)
	spread=$(echo "$rows" | awk '{ printf "%.2f\n", $3 / $8 }' | minmax)
	ms=$(echo "$rows" | awk '{ print $3 }' | median)
	ev=$(echo "$rows" | awk -v e="$events" '{ print ($6 > 0 ? $6 : e) }' | median)
	cs=$(echo "$rows" | awk -v e="$events" '{ n = ($6 > 0 ? $6 : e); printf "%.4f\n", n ? $4 / n : 0 }' | median)
	cpu=$(echo "$rows" | awk -v e="$events" -v hz="$hz" '{ n = ($6 > 0 ? $6 : e); printf "%.2f\n", n ? $5 / hz / n * 1e6 : 0 }' | median)
	lost=$(echo "$rows" | awk '{ s += $7 } END { print s + 0 }')
	wcpu=$(echo "$rows" | awk '$10 > 0 { printf "%.3f\n", $9 / $10 }' | median)
	printf '%-28s %-8s %-13s %8s %-9s %10s %12s %10s %6s\n' "$name" "$ratio" "$spread" "$ms" "$wcpu" "$cs" "$cpu" "$ev" "$lost"
done

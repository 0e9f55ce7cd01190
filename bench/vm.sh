#!/usr/bin/env bash
# vm.sh: the per-mode figures in QEMU guests (make bench-vm): in each kernel,
# bench/fsloop untraced and under `fstrace -o json` in every hook mode,
# alternating (bench/guest-bench.sh), and per mode the median ratio of
# traced to untraced, its spread, the events delivered and lost.
# The guests run under software emulation with both vCPUs on one host
# thread, so fstrace's own CPU time counts in full.
# usage: bench/vm.sh [KERNEL...]   (default 5.10 6.1 6.12 7.2)
# env: ROUNDS (5), ITERS (20000), MODES ("fentry kprobe syscall"; also
#      syscall-raw), ARGS (fstrace's, default "-o json"),
#      FSTRACE (a static fstrace binary to measure instead of this tree's)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(5.10 6.1 6.12 7.2)

vmtests/fetch-kernels.sh "${kernels[@]}"
work=$(mktemp -d /tmp/fstrace-benchvm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" "$work/logs"
if [ -n "${FSTRACE:-}" ]; then
	cp "$FSTRACE" "$work/bin/fstrace"
else
	CGO_ENABLED=0 go build -trimpath -o "$work/bin/fstrace" ./cmd/fstrace
fi
cc -O2 -static -o "$work/bin/fsloop" bench/fsloop.c
cp bench/guest-bench.sh "$work/bin/"

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit } print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

printf '%-8s %-8s %-8s %-12s %10s %10s %6s\n' kernel mode ratio spread "ms(untr)" events lost
for k in "${kernels[@]}"; do
	vmtests/run-vm.sh -b "$work/bin" -o "$work/logs" -n "$k" -t 5400 \
		-e ROUNDS="${ROUNDS:-5}" -e ITERS="${ITERS:-20000}" -e MODES="${MODES:-fentry kprobe syscall}" -e ARGS="${ARGS:--o json}" \
		"$k" -- sh /bin/guest-bench.sh >/dev/null 2>&1 || echo "bench-vm: $k: guest exited $?" >&2
	tr -d '\r' <"$work/logs/$k.log" | grep -E '^BENCH' >"$work/$k.txt" || true
	grep '^BENCH-ERROR' "$work/$k.txt" >&2 || true
	for mode in ${MODES:-fentry kprobe syscall}; do
		rows=$(awk -v m="$mode" '$1 == "BENCH" && $2 == m' "$work/$k.txt")
		if [ -z "$rows" ]; then
			printf '%-8s %-8s %s\n' "$k" "$mode" "no figures (see the error above)"
			continue
		fi
		ratio=$(echo "$rows" | awk '{ printf "%.3f\n", $5 / $4 }' | median)
		spread=$(echo "$rows" | awk '{ printf "%.2f\n", $5 / $4 }' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }')
		ums=$(echo "$rows" | awk '{ print $4 }' | median)
		ev=$(echo "$rows" | awk '{ print $6 }' | median)
		lost=$(echo "$rows" | awk '{ s += $7 } END { print s + 0 }')
		printf '%-8s %-8s %-8s %-12s %10s %10s %6s\n' "$k" "$mode" "$ratio" "$spread" "$ums" "$ev" "$lost"
	done
done

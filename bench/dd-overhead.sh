#!/usr/bin/env bash
# The cost of tracing reads, writes and closes in their aggregated form on
# dd if=/dev/zero of=FILE bs=4k count=100000: rounds alternate between no
# tracer and `fstrace -o none -e read,write,close [FLAGS]`; prints every
# time, both medians and their ratio. Needs root.
# usage: bench/dd-overhead.sh FSTRACE ROUNDS [FSTRACE FLAGS...]
set -eu
fstrace=${1:-./fstrace}
rounds=${2:-7}
shift 2 || shift $#
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

run_dd() {
	s=$(now_ms)
	dd if=/dev/zero of="$dir/out" bs=4k count=100000 2>/dev/null
	e=$(now_ms)
	rm -f "$dir/out"
	echo $((e - s))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

untraced= traced=
i=0
while [ "$i" -lt "$rounds" ]; do
	untraced="$untraced $(run_dd)"
	: >"$dir/log" # emptied first: the last round's "tracing" must not count
	"$fstrace" -o none -e read,write,close "$@" 2>"$dir/log" &
	pid=$!
	# It says "tracing ..." once attached.
	until grep -q "tracing" "$dir/log"; do
		kill -0 "$pid" || { cat "$dir/log" >&2; exit 1; }
		sleep 0.2
	done
	traced="$traced $(run_dd)"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	i=$((i + 1))
done
u=$(printf '%s\n' $untraced | median)
t=$(printf '%s\n' $traced | median)
echo "untraced ms:$untraced"
echo "traced ms:  $traced"
awk -v u="$u" -v t="$t" 'BEGIN { printf "median untraced %d ms, traced %d ms, ratio %.3f\n", u, t, t / u }'

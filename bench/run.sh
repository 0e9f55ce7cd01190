#!/usr/bin/env bash
# run.sh: the benchmark table of BENCHMARKS.md on this machine (make bench).
# Installs the peers from the distribution's packages when they are missing
# (libbpf-tools, bpftrace, fatrace, inotify-tools), mounts tracefs and
# debugfs where they are not (the peers need them), builds fstrace, then:
#   1. the file-heavy loop (bench/fsloop) untraced and under every tracer,
#      side by side (bench/compare.sh);
#   2. dd in 4 KiB writes under -e read,write,close, aggregated and each call;
#   3. 1, 2 and 4 writer threads creating files flat out: the rate, and
#      whether fstrace lost anything at it;
#   4. the Go side's cost per event: decode, merge, JSON, text.
# Needs root. env: ROUNDS (default 7), FSTRACE (a prebuilt binary).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${ROUNDS:-7}

[ "$(id -u)" = 0 ] || { echo "bench: needs root (BPF, and the peers)" >&2; exit 1; }

need=()
command -v opensnoop >/dev/null || [ -x /usr/sbin/opensnoop ] || need+=(libbpf-tools)
command -v bpftrace >/dev/null || need+=(bpftrace)
command -v fatrace >/dev/null || need+=(fatrace)
command -v inotifywait >/dev/null || need+=(inotify-tools)
command -v cc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || { echo "bench: missing ${need[*]}, and no apt-get to install them" >&2; exit 1; }
	echo "bench: installing ${need[*]}"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
export PATH=$PATH:/usr/sbin
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug

fstrace=${FSTRACE:-}
if [ -z "$fstrace" ]; then
	CGO_ENABLED=0 go build -o bench/.fstrace ./cmd/fstrace
	fstrace=$PWD/bench/.fstrace
fi
mode=$("$fstrace" probe | awk '$1 == "mode" { print $2 }')
echo "fstrace $("$fstrace" --version | awk '{ print $2 }'), $mode mode"

echo
echo "== 1. file-heavy loop: open+close of one file, create+unlink every 10th (bench/fsloop, 200 000 iterations)"
bench/compare.sh -r "$rounds" \
	"opensnoop=opensnoop" \
	"bpftrace=bpftrace -e 'tracepoint:syscalls:sys_enter_openat { printf(\"%s %s\\n\", comm, str(args->filename)); }'" \
	"fatrace=fatrace" \
	"inotifywait=inotifywait -m -r -q /tmp" \
	"fstrace-json=$fstrace -o json" \
	"fstrace-text=$fstrace -o text" \
	"fstrace-none=$fstrace -o none" \
	"fstrace-e-mkdir=$fstrace -o json -e mkdir" \
	"fstrace-pid-1=$fstrace -o json --pid 1"

echo
echo "== 2. dd if=/dev/zero bs=4k count=100000, -e read,write,close"
echo "-- aggregated (first read and write per open file, totals at close)"
bench/dd-overhead.sh "$fstrace" "$rounds"
echo "-- every call (read:each,write:each)"
bench/dd-overhead.sh "$fstrace" "$rounds" -e read:each,write:each,close

echo
echo "== 3. writer threads creating and unlinking flat out for 5 s (bench/creates), fstrace -o json -e create,unlink"
work=$(mktemp -d /tmp/fstrace-creates.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -pthread -o "$work/creates" bench/creates.c
printf '%-8s %16s %16s %10s %6s\n' threads "untraced ops/s" "traced ops/s" events lost
for n in 1 2 4; do
	mkdir -p "$work/u$n" "$work/t$n"
	u=$("$work/creates" "$work/u$n" "$n" 5)
	: >"$work/log" # emptied first: the last round's "tracing" must not count
	"$fstrace" -o json -e create,unlink --path "$work" >/dev/null 2>"$work/log" &
	pid=$!
	until grep -q tracing "$work/log"; do sleep 0.1; done
	t=$("$work/creates" "$work/t$n" "$n" 5)
	kill -TERM "$pid"
	wait "$pid" || true
	read -r ev lost < <(sed -n 's/^fstrace: \([0-9]*\) events, \([0-9]*\) lost$/\1 \2/p' "$work/log")
	printf '%-8s %16s %16s %10s %6s\n' "$n" "$u" "$t" "$ev" "$lost"
done

echo
echo "== 4. the Go side, per event"
go test -run '^$' -bench 'Decode|AppendJSON|AppendText|Merge' -benchmem ./pkg/events ./pkg/tracer | grep -E '^(Benchmark|ok)'

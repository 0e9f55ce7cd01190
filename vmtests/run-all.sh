#!/usr/bin/env bash
# Run the guest test suite on each kernel in turn: boot it with run-vm.sh, run
# guest.sh (every *.test binary in the bin dir, with -test.v), then print a
# summary table and fail if any kernel failed.
#
# usage: vmtests/run-all.sh [SERIES...]      (default: 5.10 6.1 6.12 7.2)
# env: VMTEST_RUN        forwarded to the test binaries as -test.run
#      VMTEST_TESTFLAGS  extra flags for every test binary, e.g. -test.count=1
#      VMTEST_MODES      hook modes each test runs in (default: fentry kprobe syscall)
#      VMTEST_BIN_DIR    guest binaries (default vmtests/.cache/bin)
#      FSTRACE_REQUIRE   forwarded to the guest, default 1 (skips become failures)
#      VMTEST_LOG_DIR    console logs SERIES.log and summary.txt
#                        (default vmtests/.cache/logs)
#      VMTEST_BOOT_RETRIES  extra boots when a VM dies before /init (default 2)
#      and whatever run-vm.sh reads (VMTEST_TIMEOUT, FSTRACE_KERNEL_CACHE, ...)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bindir=${VMTEST_BIN_DIR:-$HERE/.cache/bin}
logdir=${VMTEST_LOG_DIR:-$HERE/.cache/logs}
cache=${FSTRACE_KERNEL_CACHE:-/var/cache/fstrace-kernels}

series=("$@")
[[ ${#series[@]} -gt 0 ]] || series=(5.10 6.1 6.12 7.2)

shopt -s nullglob
tests=("$bindir"/*.test)
if [[ ${#tests[@]} -eq 0 ]]; then
	echo "run-all: error: no *.test binaries in $bindir (make vmtest-bins builds them)" >&2
	exit 2
fi
mkdir -p "$logdir"

# FSTRACE_REQUIRE=1: the integration tests skip where fstrace cannot trace;
# in these VMs it must, so a skip there is a failure.
vm_args=(-b "$bindir" -f "$HERE/guest.sh:/bin/guest.sh" -o "$logdir"
	-e FSTRACE_BIN=/bin/fstrace -e "FSTRACE_REQUIRE=${FSTRACE_REQUIRE:-1}")
[[ -n ${VMTEST_RUN:-} ]] && vm_args+=(-e "VMTEST_RUN=$VMTEST_RUN")
[[ -n ${VMTEST_TESTFLAGS:-} ]] && vm_args+=(-e "VMTEST_TESTFLAGS=$VMTEST_TESTFLAGS")
# Each test runs in every hook mode the kernels offer.
vm_args+=(-e "FSTRACE_MODES=${VMTEST_MODES:-fentry kprobe syscall}")

rows=()
npass=0 nfail=0
total_start=$(date +%s.%N)
retries=${VMTEST_BOOT_RETRIES:-2}
for k in "${series[@]}"; do
	echo "run-all: ===== kernel $k ====="
	start=$(date +%s.%N)
	note=
	for ((try = 0; ; try++)); do
		set +e
		"$HERE/run-vm.sh" "${vm_args[@]}" "$k" -- /bin/guest.sh
		rc=$?
		set -e
		# 123: the VM died or hung before /init, so no test ran: an emulation
		# flake, worth another boot (the failed log is kept).
		[[ $rc -eq 123 && $try -lt $retries ]] || break
		mv -f "$logdir/$k.log" "$logdir/$k.bootfail$((try + 1)).log"
		note=" [boot retries: $((try + 1))]"
		echo "run-all: kernel $k did not boot; retrying ($((try + 1))/$retries)"
	done
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	case $rc in
	0) result=PASS ;;
	3) result="FAIL (no tests)" ;; # guest.sh found no binaries
	123) result="BOOT FAILURE" ;;
	124) result=TIMEOUT ;;
	125) result="CRASH (no exit marker)" ;;
	126) result="ERROR (host setup)" ;;
	*) result="FAIL (exit $rc)" ;;
	esac
	if [[ $rc -eq 0 ]]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
	pkg=$(cat "$cache/vmlinuz-$k.version" 2>/dev/null || echo -)
	rows+=("$(printf '%-7s %-24s %8s  %s%s' "$k" "$result" "$secs" "$pkg" "$note")")
done
total=$(awk -v s="$total_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

{
	echo
	printf '%-7s %-24s %8s  %s\n' kernel result seconds package
	printf '%s\n' "${rows[@]}"
	echo "total ${total}s; logs in $logdir"
	# 'N passed, N failed' is the closing line CI tooling reads.
	echo "vmtest: $npass passed, $nfail failed"
} | tee "$logdir/summary.txt"
[[ $nfail -eq 0 ]]

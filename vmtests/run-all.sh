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
#      VMTEST_JOBS       kernels booted side by side (default 1)
#      VMTEST_IMAGE_DIR  the container image as make image-test leaves it
#                        (DIR/oci, DIR/bundle): copied in, and TestImage
#                        must run it in every guest
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
# The image, unpacked on the host (umoci needs no guest): TestImage runs
# its bundle with runc in the guest's kernel.
if [[ -n ${VMTEST_IMAGE_DIR:-} ]]; then
	for d in oci bundle; do
		[[ -d $VMTEST_IMAGE_DIR/$d ]] || { echo "run-all: error: no $VMTEST_IMAGE_DIR/$d (make image-test makes it)" >&2; exit 2; }
	done
	vm_args+=(-d "$VMTEST_IMAGE_DIR/oci:/image/oci" -d "$VMTEST_IMAGE_DIR/bundle:/image/bundle"
		-e FSTRACE_IMAGE_OCI=/image/oci -e FSTRACE_IMAGE_BUNDLE=/image/bundle -e FSTRACE_REQUIRE_IMAGE=1)
fi
# Each test runs in every hook mode the kernels offer.
vm_args+=(-e "FSTRACE_MODES=${VMTEST_MODES:-fentry kprobe syscall}")
# runc, where the host has it (Debian's runc package), with its shared
# libraries at the same paths: the container tests run a real container
# with it (containers_test.go), and skip without it.
if runc=$(command -v runc); then
	vm_args+=(-f "$runc:/bin/runc")
	while read -r lib; do
		vm_args+=(-f "$lib:$lib")
	done < <(ldd "$runc" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
fi

# run_kernel K: boots kernel K (again when it dies before /init), writes
# its summary row to $logdir/K.row and its exit status to $logdir/K.rc.
run_kernel() {
	local k=$1 start note= rc try secs result pkg
	echo "run-all: ===== kernel $k ====="
	start=$(date +%s.%N)
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
	pkg=$(cat "$cache/vmlinuz-$k.version" 2>/dev/null || echo -)
	printf '%-7s %-24s %8s  %s%s\n' "$k" "$result" "$secs" "$pkg" "$note" >"$logdir/$k.row"
	echo "$rc" >"$logdir/$k.rc"
}

total_start=$(date +%s.%N)
retries=${VMTEST_BOOT_RETRIES:-2}
# VMTEST_JOBS guests at a time: each runs under single-threaded emulation
# and keeps one host CPU busy, so a 2-CPU machine runs two for nearly the
# price of one. With more than one, a kernel's console output is printed
# when it is done, not as it comes.
jobs=${VMTEST_JOBS:-1}
for k in "${series[@]}"; do
	rm -f "$logdir/$k.row" "$logdir/$k.rc"
done
if [[ $jobs -le 1 ]]; then
	for k in "${series[@]}"; do
		run_kernel "$k"
	done
else
	running=0
	for k in "${series[@]}"; do
		if [[ $running -ge $jobs ]]; then
			wait -n || true
			running=$((running - 1))
		fi
		(run_kernel "$k" >"$logdir/$k.out" 2>&1; cat "$logdir/$k.out") &
		running=$((running + 1))
	done
	wait || true
fi
rows=()
npass=0 nfail=0
for k in "${series[@]}"; do
	rc=$(cat "$logdir/$k.rc" 2>/dev/null || echo 126)
	if [[ $rc -eq 0 ]]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
	rows+=("$(cat "$logdir/$k.row" 2>/dev/null || printf '%-7s %-24s' "$k" "ERROR (no result)")")
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

#!/bin/sh
# Runs inside the test VM (busybox sh, so POSIX sh, not bash): runs every
# /bin/*.test with -test.v and exits non-zero if any failed or none exist.
# env: VMTEST_RUN        passed as -test.run=...
#      VMTEST_TESTFLAGS  extra flags for every test binary (word-split)
#      FSTRACE_BIN       defaults to /bin/fstrace
# No 'set -e': one failing binary must not stop the others.
set -u
export FSTRACE_BIN="${FSTRACE_BIN:-/bin/fstrace}"

uptime_s() { cut -d' ' -f1 /proc/uptime; }

n=0
failed=
for t in /bin/*.test; do
	[ -x "$t" ] || continue
	n=$((n + 1))
	name=$(basename "$t")
	set -- -test.v
	[ -n "${VMTEST_RUN:-}" ] && set -- "$@" "-test.run=$VMTEST_RUN"
	# shellcheck disable=SC2086 # word splitting of the extra flags is wanted
	set -- "$@" ${VMTEST_TESTFLAGS:-}
	echo "=== vmtest-guest: run $name $*"
	start=$(uptime_s)
	"$t" "$@"
	rc=$?
	secs=$(awk -v s="$start" -v e="$(uptime_s)" 'BEGIN { printf "%.2f", e - s }')
	if [ "$rc" -eq 0 ]; then
		echo "=== vmtest-guest: PASS $name (${secs}s)"
	else
		echo "=== vmtest-guest: FAIL $name: exit $rc (${secs}s)"
		failed="$failed $name"
	fi
done

if [ "$n" -eq 0 ]; then
	echo "=== vmtest-guest: no /bin/*.test binaries to run"
	exit 3
fi
if [ -n "$failed" ]; then
	echo "=== vmtest-guest: failed:$failed"
	exit 1
fi
echo "=== vmtest-guest: all $n test binaries passed"

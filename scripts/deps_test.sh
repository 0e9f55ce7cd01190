#!/usr/bin/env bash
# deps_test.sh: scripts/deps.sh says nothing when nothing is missing, and
# one line naming what is missing (and how to install it), status 1, when
# it cannot install: not root, or FSTRACE_DEPS=check. 'make deps-test'.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ${FSTRACE_DEPS:-} == skip ]]; then
	echo "deps_test: FSTRACE_DEPS=skip: not tested"
	exit 0
fi
unset FSTRACE_DEPS FSTRACE_DEPS_EXTRA
fake=fstrace-deps-test-no-such-package
fail=0
bad() { echo "deps_test: $*" >&2; fail=1; }

# expect DESCRIPTION STATUS LINES PATTERN -- COMMAND...: COMMAND exits with
# STATUS, prints nothing on stdout and LINES lines on stderr, matching
# PATTERN (an extended regex) when LINES is 1.
expect() {
	local what=$1 status=$2 lines=$3 pat=$4
	shift 5
	local out err rc
	err=$(mktemp)
	out=$("$@" 2>"$err")
	rc=$?
	local n
	n=$(wc -l <"$err")
	[[ $rc == "$status" ]] || bad "$what: status $rc, want $status; stderr: $(cat "$err")"
	[[ -z $out ]] || bad "$what: stdout: $out"
	[[ $n == "$lines" ]] || bad "$what: $n lines on stderr, want $lines: $(cat "$err")"
	[[ $lines != 1 ]] || grep -Eq -- "$pat" "$err" || bad "$what: stderr does not match /$pat/: $(cat "$err")"
	rm -f "$err"
}

# Everything make check needs is there by now (make runs deps first).
start=$(date +%s%N)
expect "nothing missing" 0 0 "" -- scripts/deps.sh
ms=$((($(date +%s%N) - start) / 1000000))
((ms < 5000)) || bad "nothing missing took $ms ms"

oneline="^deps: missing $fake: install them with 'sudo apt-get install $fake' \(.*\)$"
expect "FSTRACE_DEPS=check" 1 1 "$oneline" -- env FSTRACE_DEPS=check FSTRACE_DEPS_EXTRA=$fake scripts/deps.sh
expect "FSTRACE_DEPS=skip" 0 0 "" -- env FSTRACE_DEPS=skip FSTRACE_DEPS_EXTRA=$fake scripts/deps.sh
expect "a bad FSTRACE_DEPS" 2 1 "FSTRACE_DEPS=bogus" -- env FSTRACE_DEPS=bogus scripts/deps.sh

# Not root: reports, never installs (as root, as nobody).
if [[ $(id -u) != 0 ]]; then
	expect "not root" 1 1 "$oneline" -- env FSTRACE_DEPS_EXTRA=$fake scripts/deps.sh
elif command -v setpriv >/dev/null; then
	# A copy nobody can reach: the work tree may be under /root.
	tmpd=$(mktemp -d)
	cp scripts/deps.sh "$tmpd/"
	chmod 755 "$tmpd" "$tmpd/deps.sh"
	expect "not root" 1 1 "$oneline" -- setpriv --reuid 65534 --regid 65534 --clear-groups \
		env --chdir=/ FSTRACE_DEPS_EXTRA=$fake "$tmpd/deps.sh"
	rm -rf "$tmpd"
else
	echo "deps_test: no setpriv: the not-root case is not tested" >&2
fi

[[ $fail == 0 ]] && echo "deps_test: ok (nothing missing: $ms ms)"
exit $fail

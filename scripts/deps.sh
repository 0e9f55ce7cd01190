#!/usr/bin/env bash
# deps.sh: the distribution packages the Makefile's targets need, installed
# when they are missing and this can be done (root, and apt-get).
#
# usage: scripts/deps.sh [TARGET...]
#   With targets (generate, lint-c, race, vmtest, hosttest, check), only the packages those
#   need; without, all of them (what 'make check' needs).
#   Nothing missing: silent, status 0. Missing, and root with apt-get: it
#   installs them and says so. Missing otherwise: one line on stderr naming
#   them and the command that installs them, status 1.
#
# env: FSTRACE_DEPS=install  the default
#      FSTRACE_DEPS=check    only report (status 1 when something is missing)
#      FSTRACE_DEPS=skip     do nothing (a machine set up some other way)
#      FSTRACE_DEPS_EXTRA    more package names, space-separated (tests)
set -euo pipefail

mode=${FSTRACE_DEPS:-install}
case $mode in
install | check) ;;
skip) exit 0 ;;
*) echo "deps: FSTRACE_DEPS=$mode: want install, check or skip" >&2; exit 2 ;;
esac

# The one list: package, the targets needing it, why.
table=$(cat <<'EOF'
clang                   generate,race  the BPF objects; cgo under -race
llvm                    generate       llvm-strip, which bpf2go runs
libbpf-dev              generate       bpf/bpf_helpers.h and the other libbpf headers
git                     generate       check-generate compares with git diff
clang-format-14         lint-c         make lint-c checks the BPF sources' layout
ca-certificates         check          Go module downloads (https)
qemu-system-x86         vmtest         the guests
busybox-static          vmtest         the guests' initramfs
cpio                    vmtest         packing it
debian-archive-keyring  vmtest         fetch-kernels.sh verifies the kernels' packages
runc                    vmtest,image,hosttest  TestContainerRunc's runtime (FSTRACE_REQUIRE=1 fails without it), copied into the guests with its libraries; make image-test runs the image with it
strace                  hosttest       TestStraceOracle's oracle (FSTRACE_REQUIRE=1 fails without it)
buildah                 image          make image, where neither podman nor buildah is there
umoci                   image          make image-test unpacks the image into a bundle
make                    check          needed to get here; listed for direct runs
EOF
)

want=()
while read -r pkg targets _; do
	[[ -n $pkg ]] || continue
	for t in "${@:-check}"; do
		# check needs everything; the other targets their own column.
		if [[ $t == check || ,$targets, == *,$t,* ]]; then
			want+=("$pkg")
			break
		fi
	done
done <<<"$table"
# shellcheck disable=SC2206
want+=(${FSTRACE_DEPS_EXTRA:-})
[[ ${#want[@]} -gt 0 ]] || exit 0

if ! command -v dpkg-query >/dev/null; then
	echo "deps: no dpkg-query (not a Debian-like system) to check for ${want[*]}: install them or their equivalents, then run make with FSTRACE_DEPS=skip" >&2
	exit 1
fi

# missing prints the packages of "$@" that are not installed.
missing() {
	# One dpkg-query for all: unknown names print nothing on stdout.
	local installed
	installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null | awk '$2 ~ /^ii/ { print $1 }' || true)
	local p
	for p in "$@"; do
		grep -qx -- "$p" <<<"$installed" || echo "$p"
	done
}

mapfile -t miss < <(missing "${want[@]}")
[[ ${#miss[@]} -gt 0 ]] || exit 0

if [[ $(id -u) != 0 || $mode == check ]] || ! command -v apt-get >/dev/null; then
	why="as root, make installs them itself"
	[[ $mode == check ]] && why="FSTRACE_DEPS=check: not installing"
	command -v apt-get >/dev/null || why="no apt-get here"
	echo "deps: missing ${miss[*]}: install them with 'sudo apt-get install ${miss[*]}' ($why)" >&2
	exit 1
fi

echo "deps: installing ${miss[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "${miss[@]}" >&2 ||
	{ echo "deps: 'apt-get install ${miss[*]}' failed (status $?)" >&2; exit 1; }

mapfile -t miss < <(missing "${miss[@]}")
if [[ ${#miss[@]} -gt 0 ]]; then
	echo "deps: apt-get did not install ${miss[*]}" >&2
	exit 1
fi

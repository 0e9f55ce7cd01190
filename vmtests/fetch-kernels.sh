#!/usr/bin/env bash
# Fetch the Debian cloud kernels the VM tests boot, keeping only their vmlinuz.
#
# usage: vmtests/fetch-kernels.sh [SERIES...]     (default: 5.10 6.1 6.12 7.2)
#
# Result, in $FSTRACE_KERNEL_CACHE (default /var/cache/fstrace-kernels):
#   vmlinuz-SERIES           the kernel image
#   vmlinuz-SERIES.version   "PACKAGE VERSION" of the .deb it came from
# A series whose two files exist is skipped, so re-running is cheap.
# Everything is fetched with apt-get from Debian, through a private package list
# under $CACHE/apt, so the host's own apt sources and state are never touched.
# The archive is the one the host's apt sources name (as apt itself would use),
# read from /etc/apt/sources.list and sources.list.d (one-line and deb822).
#
# env: FSTRACE_KERNEL_CACHE   cache dir
#      FSTRACE_KERNEL_REFRESH=1  force 'apt-get update' of the private lists
#      FSTRACE_DEBIAN_MIRROR, FSTRACE_DEBIAN_SECURITY_MIRROR  the archives'
#                             URIs, where the host's sources name none
set -euo pipefail

CACHE=${FSTRACE_KERNEL_CACHE:-/var/cache/fstrace-kernels}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
ALL_SERIES=(5.10 6.1 6.12 7.2)

die() { echo "fetch-kernels: error: $*" >&2; exit 1; }
log() { echo "fetch-kernels: $*" >&2; }

# Package-name patterns per series (extended regex, whole name). Names carry an
# ABI number that changes with every Debian update, so they are looked up, not
# hard-coded.
series_pattern() {
	case $1 in
	5.10) echo '^linux-image-5\.10\.0-[0-9]+-cloud-amd64-unsigned$' ;;
	# bookworm's own 6.1, not the 6.1.0-0.deb11.N backports to bullseye
	6.1) echo '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' ;;
	6.12) echo '^linux-image-6\.12\.[0-9]+\+deb13-cloud-amd64-unsigned$' ;;
	# sid ships the image in linux-binary-*; the -unsigned one is a fallback
	7.2) echo '^linux-binary-(unsigned-)?7\.2\.[0-9]+\+deb[0-9]+-cloud-amd64$' ;;
	*) return 1 ;;
	esac
}

series=("$@")
[[ ${#series[@]} -gt 0 ]] || series=("${ALL_SERIES[@]}")
for s in "${series[@]}"; do
	series_pattern "$s" >/dev/null || die "unknown kernel series '$s' (known: ${ALL_SERIES[*]})"
done

todo=()
for s in "${series[@]}"; do
	if [[ -s $CACHE/vmlinuz-$s && -s $CACHE/vmlinuz-$s.version ]]; then
		log "$s: cached ($(cat "$CACHE/vmlinuz-$s.version"))"
	else
		todo+=("$s")
	fi
done
[[ ${#todo[@]} -gt 0 ]] || exit 0

for tool in apt-get apt-cache dpkg-deb flock; do
	command -v "$tool" >/dev/null || die "'$tool' not found (needs a Debian-like host with apt and util-linux)"
done
[[ -r $KEYRING ]] || die "$KEYRING missing: apt-get install debian-archive-keyring"
mkdir -p "$CACHE" 2>/dev/null || die "cannot create $CACHE (run as root or set FSTRACE_KERNEL_CACHE)"
[[ -w $CACHE ]] || die "$CACHE is not writable (run as root or set FSTRACE_KERNEL_CACHE)"

# Two CI jobs sharing a cache must not download into each other's state.
exec 9>"$CACHE/.lock"
flock 9

# host_uris prints the URIs of the host's apt sources, one per line.
host_uris() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -r $f ]] || continue
		# deb [options] URI suite components
		awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } if (i <= NF) print $i }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
	done
}
# The Debian archive and its security archive, as the host's sources name them.
MIRROR=${FSTRACE_DEBIAN_MIRROR:-$(host_uris | grep -E '/debian/?$' | head -n1 || true)}
MIRROR=${MIRROR%/}
[[ -n $MIRROR ]] || die "no Debian archive (a URI ending in /debian) in the host's apt sources; set FSTRACE_DEBIAN_MIRROR"
SECURITY=${FSTRACE_DEBIAN_SECURITY_MIRROR:-$(host_uris | grep -E '/debian-security/?$' | head -n1 || true)}
SECURITY=${SECURITY%/}
SECURITY=${SECURITY:-$MIRROR-security}

APTDIR=$CACHE/apt
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/dl"
cat >"$APTDIR/sources.list" <<EOF
deb [signed-by=$KEYRING] $MIRROR bullseye main
deb [signed-by=$KEYRING] $SECURITY bullseye-security main
deb [signed-by=$KEYRING] $MIRROR bookworm main
deb [signed-by=$KEYRING] $MIRROR trixie main
deb [signed-by=$KEYRING] $MIRROR sid main
EOF
: >"$APTDIR/status" # empty dpkg status: host packages must not affect candidates

APT_OPTS=(
	-oDir::Etc::SourceList="$APTDIR/sources.list"
	-oDir::Etc::SourceParts=/dev/null
	-oDir::State::Lists="$APTDIR/lists"
	-oDir::State::Status="$APTDIR/status"
	-oDir::Cache="$APTDIR/cache"
	-oDebug::NoLocking=1
	-oAPT::Architecture=amd64
	-oAPT::Architectures::=amd64
	-oAcquire::Languages=none
	# the host's appstream config would add large DEP-11 indexes we never read
	-oAcquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
	-oAcquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
	-oAcquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
	-oAcquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false
	# downloads land in our own dir; apt's _apt sandbox user may not reach it
	-oAPT::Sandbox::User=root
)

# Refresh the private lists when absent, older than a day, or asked to.
stamp=$APTDIR/lists/.updated
if [[ ${FSTRACE_KERNEL_REFRESH:-0} = 1 || ! -e $stamp || -n $(find "$stamp" -mmin +1440 2>/dev/null) ]]; then
	log "apt-get update (private lists in $APTDIR)"
	apt-get "${APT_OPTS[@]}" -q update >"$APTDIR/update.log" 2>&1 || {
		sed 's/^/fetch-kernels:   /' "$APTDIR/update.log" >&2
		die "apt-get update failed (log: $APTDIR/update.log)"
	}
	# apt-get update exits 0 on some fetch errors; the E: lines tell.
	if grep -q '^E:' "$APTDIR/update.log"; then
		grep '^[EW]:' "$APTDIR/update.log" | sed 's/^/fetch-kernels:   /' >&2
		die "apt-get update reported errors (log: $APTDIR/update.log)"
	fi
	touch "$stamp"
fi

# fetch_one SERIES: download the newest package that downloads, extract vmlinuz.
fetch_one() {
	local s=$1 pat cands pkg deb ver tmp img
	pat=$(series_pattern "$s")
	# Newest first; a listed package can still 404 on the mirror, so fall back.
	# Newest first (signed before -unsigned); a listed package can still 404 on
	# the mirror, so the loop below falls back to older ones.
	mapfile -t cands < <(apt-cache "${APT_OPTS[@]}" pkgnames 2>/dev/null | grep -E "$pat" |
		awk '{k=$0; u=sub(/^linux-binary-unsigned-/, "linux-binary-", k); print k, u, $0}' |
		sort -k1,1Vr -k2,2n | awk '{print $3}')
	[[ ${#cands[@]} -gt 0 ]] || { log "$s: no package matches /$pat/ in the lists"; return 1; }

	for pkg in "${cands[@]}"; do
		rm -rf "$APTDIR/dl"/*
		log "$s: trying $pkg"
		if ! (cd "$APTDIR/dl" && apt-get "${APT_OPTS[@]}" -q download "$pkg") >"$APTDIR/download.log" 2>&1; then
			log "$s: $pkg did not download: $(grep -E '^(E|Err):' "$APTDIR/download.log" | head -n1 || true)"
			continue
		fi
		deb=$(find "$APTDIR/dl" -maxdepth 1 -name '*.deb' | head -n1)
		[[ -n $deb ]] || { log "$s: apt-get download of $pkg left no .deb"; continue; }
		ver=$(dpkg-deb -f "$deb" Version)
		tmp=$(mktemp -d "$APTDIR/x.XXXXXX")
		if ! dpkg-deb -x "$deb" "$tmp"; then
			rm -rf "$tmp"
			log "$s: dpkg-deb -x failed on $deb"
			continue
		fi
		# bullseye..trixie: boot/vmlinuz-*; sid's linux-binary: usr/lib/modules/*/vmlinuz
		img=$(find "$tmp/boot" "$tmp/usr/lib/modules" -maxdepth 2 \( -name 'vmlinuz-*' -o -name vmlinuz \) -type f 2>/dev/null | head -n1)
		if [[ -z $img ]]; then
			rm -rf "$tmp"
			log "$s: no vmlinuz inside $pkg"
			continue
		fi
		# Atomic renames, version file last: a partial run never looks cached.
		cp "$img" "$CACHE/vmlinuz-$s.tmp"
		mv -f "$CACHE/vmlinuz-$s.tmp" "$CACHE/vmlinuz-$s"
		echo "$pkg $ver" >"$CACHE/vmlinuz-$s.version.tmp"
		mv -f "$CACHE/vmlinuz-$s.version.tmp" "$CACHE/vmlinuz-$s.version"
		rm -rf "$tmp" "$APTDIR/dl"/*
		log "$s: ok: $pkg $ver -> $CACHE/vmlinuz-$s"
		return 0
	done
	log "$s: none of ${#cands[@]} candidate package(s) could be fetched"
	return 1
}

failed=()
for s in "${todo[@]}"; do
	# Another job may have filled it while we waited for the lock.
	if [[ -s $CACHE/vmlinuz-$s && -s $CACHE/vmlinuz-$s.version ]]; then
		log "$s: cached ($(cat "$CACHE/vmlinuz-$s.version"))"
		continue
	fi
	fetch_one "$s" || failed+=("$s")
done
if [[ ${#failed[@]} -gt 0 ]]; then
	die "could not fetch kernel series: ${failed[*]} (try FSTRACE_KERNEL_REFRESH=1)"
fi

#!/usr/bin/env bash
# Boot one kernel in QEMU (software emulation) with a busybox initramfs and run
# one command in it as root.
#
# usage: vmtests/run-vm.sh [options] KERNEL [--] CMD [ARG...]
#   KERNEL  a series fetched by fetch-kernels.sh (5.10 6.1 6.12 7.2), or a path
#           to a vmlinuz
#   CMD     runs in the guest as root, cwd /root; it is looked up in the guest
#           PATH (/bin:/sbin:/usr/bin:/usr/sbin)
# options:
#   -b DIR        static binaries copied to the guest's /bin
#                 (default vmtests/.cache/bin, if present; -b '' for none)
#   -f SRC[:DST]  also copy host file SRC to guest path DST (default /bin/NAME)
#   -d SRC:DST    also copy host directory tree SRC to guest path DST
#   -e NAME=VAL   export NAME=VAL to CMD in the guest (repeatable)
#   -o DIR        write the console log to DIR/NAME.log (default vmtests/.cache/logs)
#   -n NAME       log name (default: KERNEL's series, or the vmlinuz file name)
#   -t SECS       host-side timeout for the whole run (default $VMTEST_TIMEOUT or 900)
# env: FSTRACE_KERNEL_CACHE (kernel cache, default /var/cache/fstrace-kernels),
#      VMTEST_TIMEOUT, VMTEST_BOOT_TIMEOUT (s until /init starts, 180),
#      VMTEST_MEM (MiB, 2048), VMTEST_SMP (2),
#      VMTEST_ACCEL (QEMU -accel, default tcg,thread=single),
#      VMTEST_LSM (lsm= value, default lockdown,capability,bpf; empty omits lsm=),
#      VMTEST_APPEND (extra kernel command line), VMTEST_QEMU_ARGS (extra
#      QEMU arguments, word-split), QEMU (qemu-system-x86_64),
#      BUSYBOX (a static busybox, default: busybox in PATH)
#
# The guest prints "FSTRACE-VMTEST-BOOT ..." when /init starts and, as its
# last line, "FSTRACE-VMTEST-EXIT <rc>", then powers off.
# exit status: the guest CMD's status (0-255), or
#   123  boot failure: /init never started (hang or crash while booting, or
#        QEMU could not start); never caused by the tests, so safe to retry
#   124  host timeout: QEMU killed before the guest finished
#   125  crash: QEMU ended without the EXIT marker after /init started
#        (kernel panic/oops, init died)
#   126  host-side setup or usage error (nothing booted)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXIT_NOBOOT=123 EXIT_TIMEOUT=124 EXIT_NOMARKER=125 EXIT_SETUP=126

die() { echo "run-vm: error: $*" >&2; exit $EXIT_SETUP; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit $EXIT_SETUP; }

bindir=
[[ -d $HERE/.cache/bin ]] && bindir=$HERE/.cache/bin
outdir=$HERE/.cache/logs
name=
timeout_s=${VMTEST_TIMEOUT:-900}
extra_files=()
extra_dirs=()
guest_env=()
while getopts ':b:f:d:e:o:n:t:h' opt; do
	case $opt in
	b) bindir=$OPTARG ;;
	f) extra_files+=("$OPTARG") ;;
	d) [[ $OPTARG == *:/* ]] || die "-d wants SRC:/GUEST/PATH, got '$OPTARG'"
	   extra_dirs+=("$OPTARG") ;;
	e) [[ $OPTARG =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "-e wants NAME=VALUE, got '$OPTARG'"
	   guest_env+=("$OPTARG") ;;
	o) outdir=$OPTARG ;;
	n) name=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	h) usage ;;
	:) die "option -$OPTARG needs an argument" ;;
	*) die "unknown option -$OPTARG (-h for help)" ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] || usage
kernel_arg=$1
shift
[[ ${1:-} == -- ]] && shift
[[ $# -ge 1 ]] || die "no guest command given"
[[ $timeout_s =~ ^[0-9]+$ && $timeout_s -gt 0 ]] || die "timeout must be a positive number of seconds, got '$timeout_s'"

# --- host prerequisites ---------------------------------------------------
cache=${FSTRACE_KERNEL_CACHE:-/var/cache/fstrace-kernels}
if [[ $kernel_arg =~ ^[0-9]+\.[0-9]+$ ]]; then
	kernel=$cache/vmlinuz-$kernel_arg
	[[ -s $kernel ]] || die "no kernel $kernel: run vmtests/fetch-kernels.sh $kernel_arg"
	: "${name:=$kernel_arg}"
	kver=$(cat "$kernel.version" 2>/dev/null || echo unknown)
elif [[ -f $kernel_arg ]]; then
	kernel=$kernel_arg
	: "${name:=$(basename "$kernel_arg")}"
	kver="(local file)"
else
	die "KERNEL must be a series like 6.1 or a vmlinuz file, got '$kernel_arg'"
fi
QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || die "$QEMU not found: apt-get install qemu-system-x86"
command -v cpio >/dev/null || die "cpio not found: apt-get install cpio"
bb=${BUSYBOX:-$(command -v busybox || true)}
[[ -n $bb && -x $bb ]] || die "busybox not found: apt-get install busybox-static"
# The initramfs has no libc, so everything in it must be statically linked.
is_dynamic() { ldd "$1" >/dev/null 2>&1; }
is_dynamic "$bb" && die "$bb is dynamically linked: apt-get install busybox-static"
if [[ -n $bindir ]]; then
	[[ -d $bindir ]] || die "binary dir $bindir does not exist"
fi

mkdir -p "$outdir"
log=$outdir/$name.log
work=$(mktemp -d "${TMPDIR:-/tmp}/fstrace-vm.XXXXXX")
qpid='' wpid=''
# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	if [[ -n $wpid ]]; then kill "$wpid" 2>/dev/null || true; fi
	if [[ -n $qpid ]]; then kill -TERM "$qpid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- initramfs ------------------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/vmtest,dev,proc,sys,tmp,run,root,home/fstest,var/tmp}
cp "$bb" "$root/bin/busybox"
while read -r applet; do
	if [[ -n $applet && ! -e $root/$applet ]]; then
		ln -s /bin/busybox "$root/$applet"
	fi
done < <("$root/bin/busybox" --list-full)
# The kernel opens /dev/console for /init before devtmpfs exists; without the
# node (mknod needs root) /init re-opens it after mounting devtmpfs.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

if [[ -n $bindir ]]; then
	for f in "$bindir"/*; do
		[[ -f $f ]] || continue
		is_dynamic "$f" && echo "run-vm: warning: $f is dynamically linked and will not run in the guest (build with CGO_ENABLED=0)" >&2
		rm -f "$root/bin/$(basename "$f")"
		cp -p "$f" "$root/bin/"
	done
fi
for spec in ${extra_files[@]+"${extra_files[@]}"}; do
	src=${spec%%:*}
	dst=/bin/$(basename "$src")
	[[ $spec == *:* ]] && dst=${spec#*:}
	[[ -f $src ]] || die "-f: no such file $src"
	[[ $dst == /* ]] || die "-f: guest path must be absolute, got '$dst'"
	mkdir -p "$root$(dirname "$dst")"
	rm -f "$root$dst"
	cp -p "$src" "$root$dst"
done
for spec in ${extra_dirs[@]+"${extra_dirs[@]}"}; do
	src=${spec%%:*} dst=${spec#*:}
	[[ -d $src ]] || die "-d: no such directory $src"
	mkdir -p "$root$(dirname "$dst")"
	rm -rf "$root$dst"
	cp -a "$src" "$root$dst"
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
fstest:x:1000:1000:fstrace test user:/home/fstest:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
fstest:x:1000:
nogroup:x:65534:
EOF
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$root/etc/hosts"
echo vmtest >"$root/etc/hostname"

# Quote for sh: the command and env cross into the guest as shell source.
shq() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
{
	echo "export HOME=/root TMPDIR=/tmp USER=root LOGNAME=root"
	for kv in ${guest_env[@]+"${guest_env[@]}"}; do
		echo "export ${kv%%=*}=$(shq "${kv#*=}")"
	done
} >"$root/etc/vmtest/env"
{
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(shq "$a")"; done
	printf '\n'
} >"$root/etc/vmtest/cmd"

cat >"$root/init" <<'EOF'
#!/bin/sh
# PID 1 of the test VM: set up a minimal system, run the command, report, power off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs -o mode=0755 devtmpfs /dev
exec </dev/console >/dev/console 2>&1
m() { # m FSTYPE TARGET [OPTIONS]: a failed mount is reported, not fatal
	mkdir -p "$2"
	mount -t "$1" ${3:+-o "$3"} "$1" "$2" || echo "vmtest-init: warning: cannot mount $1 on $2"
}
m proc /proc
m sysfs /sys
m devpts /dev/pts
m tmpfs /dev/shm mode=1777
m tmpfs /tmp mode=1777
m tmpfs /run mode=0755
m bpf /sys/fs/bpf mode=0700
m tracefs /sys/kernel/tracing
m debugfs /sys/kernel/debug
m securityfs /sys/kernel/security
m cgroup2 /sys/fs/cgroup
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/mounts /etc/mtab
chmod 1777 /var/tmp
chown -R 1000:1000 /home/fstest
hostname -F /etc/hostname
ip link set lo up || echo "vmtest-init: warning: cannot bring up lo"
# 5.10 still charges BPF maps to RLIMIT_MEMLOCK.
ulimit -l unlimited 2>/dev/null || true
echo "FSTRACE-VMTEST-BOOT kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)s" \
	"lsm=$(cat /sys/kernel/security/lsm 2>/dev/null)" \
	"lockdown=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/security/lockdown 2>/dev/null)"
. /etc/vmtest/env
cd /root
sh /etc/vmtest/cmd
rc=$?
sync
# Kernel messages printed mid-line could split the marker the host looks
# for: from here on only emergencies reach the console.
echo 1 >/proc/sys/kernel/printk 2>/dev/null
# Own line, even if the command's output did not end with a newline.
echo
echo "FSTRACE-VMTEST-EXIT $rc"
poweroff -f
EOF
chmod 755 "$root/init"

initrd=$work/initrd.cpio
# -R 0:0: files are root's in the guest whoever builds the image.
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$initrd"

# --- boot -----------------------------------------------------------------
append="console=ttyS0 panic=-1 quiet"
[[ -n ${VMTEST_LSM-lockdown,capability,bpf} ]] && append+=" lsm=${VMTEST_LSM-lockdown,capability,bpf}"
[[ -n ${VMTEST_APPEND:-} ]] && append+=" $VMTEST_APPEND"
{
	echo "run-vm: kernel $name: $kver"
	echo "run-vm: initramfs $(($(stat -c %s "$initrd") / 1024 / 1024)) MiB; timeout ${timeout_s}s; append: $append"
} | tee "$log"

# Single-threaded TCG by default: with multi-threaded TCG the kernel's live
# code patching (static keys, BPF trampolines: int3 + IPI sync) races between
# vCPUs; we saw int3 oopses, soft lockups and boot hangs (a few percent of
# boots), and none of those with thread=single.
accel=${VMTEST_ACCEL:-tcg,thread=single}
boot_timeout=${VMTEST_BOOT_TIMEOUT:-180}
start=$(date +%s.%N)
# No -enable-kvm: KVM guests hang on this machine kind (see shared/KERNELS.md).
# The serial console goes to our stdout and, via QEMU's own chardev log, to
# $log (',' doubled: QEMU's option escape); stdin is /dev/null so QEMU never
# grabs the terminal.
# shellcheck disable=SC2086 # VMTEST_QEMU_ARGS is split on purpose
timeout -k 10 "$timeout_s" "$QEMU" \
	-nodefaults -display none -no-reboot \
	-machine pc -accel "$accel" -cpu max -smp "${VMTEST_SMP:-2}" -m "${VMTEST_MEM:-2048}" \
	-chardev "stdio,id=con0,signal=off,logfile=${log//,/,,},logappend=on" -serial chardev:con0 \
	-kernel "$kernel" -initrd "$initrd" -append "$append" \
	${VMTEST_QEMU_ARGS:-} </dev/null &
qpid=$!
# A guest that hangs before /init would otherwise hold us for the whole timeout.
(
	for ((i = 0; i < boot_timeout; i++)); do
		sleep 1
		grep -q FSTRACE-VMTEST-BOOT "$log" && exit 0
		kill -0 "$qpid" 2>/dev/null || exit 0
	done
	echo "run-vm: /init did not start within ${boot_timeout}s: stopping QEMU" >&2
	kill -TERM "$qpid" 2>/dev/null
) &
wpid=$!
set +e
wait "$qpid"
qrc=$?
set -e
qpid=
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
wpid=
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

marker=$(tr -d '\r' <"$log" | grep -ao 'FSTRACE-VMTEST-EXIT [0-9]*' | tail -n1 || true)
if [[ -n $marker ]]; then
	rc=${marker##* }
	why="guest exit $rc"
elif ! grep -q FSTRACE-VMTEST-BOOT "$log"; then
	rc=$EXIT_NOBOOT
	why="BOOT FAILURE: /init never started (QEMU status $qrc; emulation flake or kernel/initramfs problem)"
elif [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
	rc=$EXIT_TIMEOUT
	why="TIMEOUT after ${timeout_s}s"
else
	rc=$EXIT_NOMARKER
	why="CRASH: QEMU exited ($qrc) without FSTRACE-VMTEST-EXIT (kernel panic/oops?)"
fi
echo "run-vm: kernel $name: $why, ${secs}s wall, log $log" | tee -a "$log"
exit "$rc"

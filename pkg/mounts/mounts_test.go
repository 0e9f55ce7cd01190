package mounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/internal/testutil"
)

// A host with containers, as /proc/1/mountinfo shows it: the root on
// 8:1, /var/lib/docker on the same disk, an overlay (0:52) for a
// container's root, a bind mount of part of the root disk, a tmpfs over
// /mnt/hidden after a bind there, a name with a space.
const hostInfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw
25 22 0:5 / /dev rw shared:2 - devtmpfs udev rw
40 22 0:52 / /var/lib/docker/overlay2/abc/merged rw,relatime shared:30 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
41 22 8:1 /srv/data /mnt/data rw,relatime shared:1 - ext4 /dev/sda1 rw
42 22 8:17 /exports/a /mnt/a rw - xfs /dev/sdb1 rw
43 22 8:17 /exports /mnt/exports rw - xfs /dev/sdb1 rw
44 22 8:17 /exports/a/b /mnt/hidden rw - xfs /dev/sdb1 rw
45 22 0:60 / /mnt/hidden rw - tmpfs tmpfs rw
46 22 8:33 / /mnt/with\040space rw - ext4 /dev/sdc1 rw
47 22 0:61 / /mnt/under rw - tmpfs tmpfs rw
48 47 8:49 / /mnt/under/inner rw - ext4 /dev/sdd1 rw
`

func TestPlace(t *testing.T) {
	tab, err := Parse(strings.NewReader(hostInfo))
	if err != nil {
		t.Fatal(err)
	}
	dev := unix.Mkdev
	for _, c := range []struct {
		name string
		dev  uint64
		rel  string
		want string // "" for none
	}{
		{"chroot on the root disk", dev(8, 1), "/tmp/jail/chrooted.txt", "/tmp/jail/chrooted.txt"},
		{"the root itself", dev(8, 1), "/", "/"},
		{"root mount preferred to a bind of a part", dev(8, 1), "/srv/data/f", "/srv/data/f"},
		{"container overlay root", dev(0, 52), "/etc/passwd", "/var/lib/docker/overlay2/abc/merged/etc/passwd"},
		{"overlay root dir", dev(0, 52), "/", "/var/lib/docker/overlay2/abc/merged"},
		{"bind of a part only", dev(8, 17), "/exports/a/x", "/mnt/exports/a/x"},
		{"the widest bind wins", dev(8, 17), "/exports/a", "/mnt/exports/a"},
		{"outside every bind", dev(8, 17), "/other/x", ""},
		{"component prefix only", dev(8, 17), "/exportsx/y", ""},
		{"a tmpfs the host has not mounted", dev(0, 99), "/x", ""},
		{"escaped mount point", dev(8, 33), "/f", "/mnt/with space/f"},
		{"over-mounted bind is hidden", dev(0, 60), "/f", "/mnt/hidden/f"},
		{"path under a deeper mount is hidden", dev(0, 61), "/inner/f", ""},
		{"beside the deeper mount", dev(0, 61), "/other", "/mnt/under/other"},
		{"deeper mount itself", dev(8, 49), "/f", "/mnt/under/inner/f"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := tab.Place(c.dev, c.rel)
			if ok != (c.want != "") || got != c.want {
				t.Errorf("Place(%d:%d, %q) = %q, %v; want %q", unix.Major(c.dev), unix.Minor(c.dev), c.rel, got, ok, c.want)
			}
		})
	}
}

func TestRoot(t *testing.T) {
	tab, err := Parse(strings.NewReader("1 1 0:1 / / rw - rootfs rootfs rw\n" + hostInfo))
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := tab.Root(); !ok || id != 22 {
		t.Errorf("Root() = %d, %v; want 22 (the root mounted last)", id, ok)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"1 2 3\n", "x 1 8:1 / / rw - ext4 a rw\n", "1 1 81 / / rw - ext4 a rw\n"} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
}

func TestResolverRereads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mountinfo")
	if err := os.WriteFile(p, []byte("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.MissInterval = 0
	if _, ok := r.Place(unix.Mkdev(0, 52), "/f", bootNow()); ok {
		t.Fatal("placed a file of a filesystem not mounted")
	}
	// a new mount: found on the miss
	if err := os.WriteFile(p, []byte("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n40 22 0:52 / /c rw - overlay o rw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, ok := r.Place(unix.Mkdev(0, 52), "/f", bootNow()); !ok || got != "/c/f" {
		t.Errorf("after the mount: %q, %v; want /c/f", got, ok)
	}
	// gone, with misses rate-limited: the stale place stays until told
	r.MissInterval = 1 << 62
	if err := os.WriteFile(p, []byte("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n41 22 0:52 / /d rw - overlay o rw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Place(unix.Mkdev(0, 52), "/f", bootNow()); got != "/c/f" {
		t.Errorf("before Invalidate: %q, want the cached /c/f", got)
	}
	r.Invalidate()
	atD := bootNow()
	if got, _ := r.Place(unix.Mkdev(0, 52), "/f", atD); got != "/d/f" {
		t.Errorf("after Invalidate: %q, want /d/f", got)
	}
	// unmounted: still placed for a while, for the events of its life
	if err := os.WriteFile(p, []byte("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Refresh()
	if got, _ := r.Place(unix.Mkdev(0, 52), "/f", atD); got != "/d/f" {
		t.Errorf("just unmounted: %q, want /d/f", got)
	}
	if got, ok := r.Place(unix.Mkdev(0, 52), "/f", bootNow()); ok {
		t.Errorf("a file seen after its mount was found gone: %q", got)
	}
	r.GoneFor = 0
	if got, ok := r.Place(unix.Mkdev(0, 52), "/f", bootNow()); ok {
		t.Errorf("unmounted and forgotten: %q", got)
	}
}

// TestResolverPolls: on /proc, a mount made after the table was read is
// found at once, by poll(2), with misses not rate-limited otherwise.
func TestResolverPolls(t *testing.T) {
	testutil.NeedRoot(t, "to mount")
	r, err := Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.proc {
		t.Fatal("/proc/self/mountinfo not seen as a /proc file")
	}
	r.MissInterval, r.PollInterval = 1<<62, 1<<62
	dir := t.TempDir()
	if err := unix.Mount("none", dir, "tmpfs", 0, ""); err != nil {
		testutil.Skip(t, "mount tmpfs: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	if got, ok := r.Place(st.Dev, "/f", bootNow()); !ok || got != dir+"/f" {
		t.Errorf("Place in a tmpfs mounted after Open: %q, %v; want %s/f", got, ok, dir)
	}
}

// TestResolverWatch: a mount that is gone before the file is placed, but
// was there long enough for Watch to read it.
func TestResolverWatch(t *testing.T) {
	testutil.NeedRoot(t, "to mount")
	r, err := Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Watch(); err != nil {
		t.Fatal(err)
	}
	r.MissInterval, r.PollInterval = 1<<62, 1<<62
	dir := t.TempDir()
	if err := unix.Mount("none", dir, "tmpfs", 0, ""); err != nil {
		testutil.Skip(t, "mount tmpfs: %v", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, ok := r.Table().Place(st.Dev, "/"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Watch did not read the table again after a mount")
		}
	}
	at := bootNow()
	unix.Unmount(dir, unix.MNT_DETACH)
	if got, ok := r.Place(st.Dev, "/f", at); !ok || got != dir+"/f" {
		t.Errorf("Place in a tmpfs just unmounted: %q, %v; want %s/f", got, ok, dir)
	}
}

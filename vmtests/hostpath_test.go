package vmtests

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Where a file of a chroot or of another mount namespace lies on the host
// (issue 14): host_path and host_new_path.

func init() {
	helpers["hostpath"] = func(h helperEnv) error {
		d := func(n string) string { return filepath.Join(h.dir, n) }
		for _, root := range []string{"jail", "src"} {
			if err := withBusybox(d(root)); err != nil {
				return err
			}
		}
		for _, p := range []string{"ns/b", "ns/t"} {
			if err := os.MkdirAll(d(p), 0o755); err != nil {
				return err
			}
		}
		// (1) A chroot: a create, a rename and a link by names from
		// its root.
		for _, args := range [][]string{{"touch", "/chrooted.txt"}, {"mv", "/chrooted.txt", "/moved.txt"},
			{"ln", "/moved.txt", "/linked.txt"}} {
			if err := chrooted(d("jail"), args...); err != nil {
				return err
			}
		}
		// (2, 3) A process in a mount namespace of its own.
		ns := exec.Command(os.Args[0], "-test.run=^$")
		ns.Env = append(os.Environ(), "FSTRACE_HELPER=hostpath-ns", "FSTRACE_INFO="+d(".ns-info"))
		// Go makes every mount of the new namespace private first.
		ns.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		if out, err := ns.CombinedOutput(); err != nil {
			return fmt.Errorf("helper in its own mount namespace: %v: %s", err, out)
		}
		// (4) An overlay mounted on the host, chrooted into: a
		// container's root.
		if err := overlayCase(d("ovl")); err != nil {
			return err
		}
		// (6) The host's own.
		return os.WriteFile(d("host.txt"), nil, 0o644)
	}
	helpers["hostpath-ns"] = func(h helperEnv) error {
		d := func(n string) string { return filepath.Join(h.dir, n) }
		if err := unix.Mount(d("src"), d("ns/b"), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind mount: %v", err)
		}
		if err := unix.Mount("none", d("ns/t"), "tmpfs", 0, ""); err != nil {
			return fmt.Errorf("tmpfs: %v", err)
		}
		if err := os.WriteFile(d("ns/t/intmpfs.txt"), nil, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(d("ns/b/viabind.txt"), nil, 0o644); err != nil {
			return err
		}
		return chrooted(d("ns/b"), "touch", "/inbind.txt")
	}
}

// overlayCase mounts an overlay whose lower layer holds busybox at
// dir/merged, on a tmpfs of its own (the upper layer needs one), and makes
// a file in it from a chroot. Without overlay in the kernel it says so in
// dir/none.
func overlayCase(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("none", dir, "tmpfs", 0, ""); err != nil {
		return fmt.Errorf("tmpfs: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	for _, p := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, p), 0o755); err != nil {
			return err
		}
	}
	if err := withBusybox(filepath.Join(dir, "lower")); err != nil {
		return err
	}
	merged := filepath.Join(dir, "merged")
	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", dir, dir, dir)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return os.WriteFile(filepath.Join(dir, "..", "no-overlay"), []byte(err.Error()), 0o644)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)
	return chrooted(merged, "touch", "/inovl.txt")
}

// withBusybox makes root/bin/busybox, a copy of this system's.
func withBusybox(root string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return err
	}
	in, err := os.Open(bb)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(filepath.Join(root, "bin/busybox"), os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// chrooted runs busybox args in a chroot to root.
func chrooted(root string, args ...string) error {
	c := exec.Command("/bin/busybox", args...)
	c.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	c.Dir = "/"
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("chroot %s busybox %s: %v: %s", root, strings.Join(args, " "), err, out)
	}
	return nil
}

func TestHostPath(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		d := func(n string) string { return filepath.Join(dir, n) }
		r := trace(t, mode, dir, "hostpath", "-e", "create,rename,link")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d: %s", r.status, r.stderr)
		}
		// one finds the one event of kind on path by a process other
		// than the helper (which is the host's)
		one := func(kind, path string) event {
			t.Helper()
			var evs []event
			for _, e := range r.find(kind, path) {
				if e.num("pid") != int64(r.pid) {
					evs = append(evs, e)
				}
			}
			if len(evs) != 1 {
				t.Fatalf("want one %s of %q, got %d; all events:\n%s", kind, path, len(evs), r.dump())
			}
			return evs[0]
		}
		expect(t, one("create", "/chrooted.txt"), map[string]any{"ret": 0, "host_path": d("jail/chrooted.txt")})
		expect(t, one("rename", "/chrooted.txt"), map[string]any{"ret": 0, "host_path": d("jail/chrooted.txt"),
			"new_path": "/moved.txt", "host_new_path": d("jail/moved.txt")})
		expect(t, one("link", "/moved.txt"), map[string]any{"ret": 0, "host_path": d("jail/moved.txt"),
			"new_path": "/linked.txt", "host_new_path": d("jail/linked.txt")})
		// a bind mount only the namespace has, into a chroot, and without
		expect(t, one("create", "/inbind.txt"), map[string]any{"ret": 0, "host_path": d("src/inbind.txt")})
		expect(t, one("create", d("ns/b/viabind.txt")), map[string]any{"ret": 0, "host_path": d("src/viabind.txt")})
		// a tmpfs the host has not mounted: no host path
		expect(t, one("create", d("ns/t/intmpfs.txt")), map[string]any{"ret": 0, "host_path": nil})
		if b, err := os.ReadFile(d("no-overlay")); err == nil {
			if haveFS("overlay") {
				t.Errorf("overlay is in /proc/filesystems, but did not mount: %s", b)
			} else {
				t.Logf("no overlay in this kernel: %s", b)
			}
		} else {
			expect(t, one("create", "/inovl.txt"), map[string]any{"ret": 0, "host_path": d("ovl/merged/inovl.txt")})
		}
		// the host's own: no host path at all
		expect(t, r.one(t, "create", d("host.txt")), map[string]any{"ret": 0, "host_path": nil})
		for _, e := range r.events {
			if e.num("pid") == int64(r.pid) && (e["host_path"] != nil || e["host_new_path"] != nil) {
				t.Errorf("an event of a host process has a host path: %v", e)
			}
		}
	})
}

// TestHostPathFilter: --path matches host_path too, for an event whose
// path (from the process's root) is outside it.
func TestHostPathFilter(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		d := func(n string) string { return filepath.Join(dir, n) }
		r := trace(t, mode, dir, "hostpath", "-e", "create,rename", "--path", d("jail"), "--path", d("src"))
		if r.status != 0 {
			t.Fatalf("fstrace exited %d: %s", r.status, r.stderr)
		}
		for _, c := range []struct{ kind, path, host string }{
			{"create", "/chrooted.txt", d("jail/chrooted.txt")},
			{"rename", "/chrooted.txt", d("jail/chrooted.txt")},
			{"create", "/inbind.txt", d("src/inbind.txt")},
			{"create", d("ns/b/viabind.txt"), d("src/viabind.txt")},
		} {
			if evs := r.find(c.kind, c.path); len(evs) != 1 {
				t.Errorf("want one %s of %q (host %s), got %d", c.kind, c.path, c.host, len(evs))
			} else {
				expect(t, evs[0], map[string]any{"host_path": c.host})
			}
		}
		for _, e := range r.events {
			hp, _ := e["host_path"].(string)
			if !strings.HasPrefix(hp, d("jail")+"/") && !strings.HasPrefix(hp, d("src")+"/") &&
				!strings.HasPrefix(e.str("path"), d("jail")+"/") && !strings.HasPrefix(e.str("path"), d("src")+"/") {
				t.Errorf("an event outside --path: %v", e)
			}
		}
	})
}

// haveFS reports whether the kernel has a filesystem type.
func haveFS(name string) bool {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] == name {
			return true
		}
	}
	return false
}

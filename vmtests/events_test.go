package vmtests

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// seesInodes: the VFS-level modes know the inode of what they rename or
// delete; the syscall mode knows only names.
func seesInodes(mode string) bool { return mode != "syscall" }

// testDir makes a fresh directory for one test. Its path is resolved so
// that expected paths are canonical (TMPDIR may be a symlink).
func testDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Another uid must reach it: open the per-test parent too.
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func init() {
	helpers["open"] = func(h helperEnv) error {
		fd, err := unix.Open(filepath.Join(h.dir, "exists"), unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		unix.Close(fd)
		if err := os.Chdir(h.dir); err != nil {
			return err
		}
		// A relative name that does not exist: ENOENT, reported absolute.
		if _, err := unix.Open("missing", unix.O_RDONLY, 0); err != unix.ENOENT {
			return fmt.Errorf("open missing: %v", err)
		}
		fd, err = unix.Open("new file", unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o640)
		if err != nil {
			return err
		}
		unix.Close(fd)
		return nil
	}
}

func TestOpen(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		if err := os.WriteFile(filepath.Join(dir, "exists"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := trace(t, mode, dir, "open", "-e", "open,create")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		ino, dev := statIno(t, filepath.Join(dir, "exists"))
		e := r.one(t, "open", filepath.Join(dir, "exists"))
		r.common(t, e, 0, 0)
		expect(t, e, map[string]any{"ret": 0, "flags": "O_RDONLY", "error": nil, "mode": nil, "ino": int(ino), "dev": int(dev)})

		e = r.one(t, "open", filepath.Join(dir, "missing"))
		expect(t, e, map[string]any{"ret": -2, "error": "ENOENT", "flags": "O_RDONLY"})

		p := filepath.Join(dir, "new file")
		ino, _ = statIno(t, p)
		c := r.one(t, "create", p)
		expect(t, c, map[string]any{"ret": 0, "mode": "0640", "ino": int(ino)})
		o := r.one(t, "open", p)
		expect(t, o, map[string]any{"ret": 0, "flags": "O_WRONLY|O_CREAT|O_TRUNC", "mode": "0640"})
		if c.num("seq") >= o.num("seq") {
			t.Errorf("create (seq %d) should come before open (seq %d)", c.num("seq"), o.num("seq"))
		}
	})
}

func init() {
	helpers["namespace"] = func(h helperEnv) error {
		d := h.dir
		steps := []func() error{
			func() error { return unix.Mkdir(d+"/sub", 0o750) },
			func() error { return unix.Mknod(d+"/fifo", unix.S_IFIFO|0o600, 0) },
			func() error { return unix.Mknod(d+"/regular", unix.S_IFREG|0o604, 0) },
			func() error { return unix.Symlink("../some/target", d+"/sub/link") },
			func() error { return unix.Link(d+"/regular", d+"/sub/hard") },
			func() error { return unix.Rename(d+"/regular", d+"/renamed") },
			func() error { return unix.Unlink(d + "/sub/hard") },
			func() error { return unix.Unlink(d + "/sub/link") },
			func() error { return unix.Rmdir(d + "/sub") },
			func() error {
				if err := unix.Unlink(d + "/nothing"); err != unix.ENOENT {
					return fmt.Errorf("unlink nothing: %v", err)
				}
				if err := unix.Rmdir(d + "/renamed"); err != unix.ENOTDIR {
					return fmt.Errorf("rmdir file: %v", err)
				}
				return nil
			},
		}
		for i, s := range steps {
			if err := s(); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		return nil
	}
}

func TestNamespaceOps(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		// On the default kinds, as a user starts it; the other tests
		// name theirs: loading every default program costs seconds a
		// start in an emulated guest.
		r := trace(t, mode, dir, "namespace")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		e := r.one(t, "mkdir", dir+"/sub")
		r.common(t, e, 0, 0)
		expect(t, e, map[string]any{"ret": 0, "mode": "0750"})
		expect(t, r.one(t, "mknod", dir+"/fifo"), map[string]any{"ret": 0, "mode": "0600", "file_type": "fifo"})
		expect(t, r.one(t, "create", dir+"/regular"), map[string]any{"ret": 0, "mode": "0604"})
		expect(t, r.one(t, "symlink", dir+"/sub/link"), map[string]any{"ret": 0, "target": "../some/target"})
		expect(t, r.one(t, "link", dir+"/regular"), map[string]any{"ret": 0, "new_path": dir + "/sub/hard"})
		rn := r.one(t, "rename", dir+"/regular")
		expect(t, rn, map[string]any{"ret": 0, "new_path": dir + "/renamed", "flags": nil})
		ul := r.one(t, "unlink", dir+"/sub/hard")
		expect(t, ul, map[string]any{"ret": 0})
		if seesInodes(actualMode(t, mode)) {
			ino, _ := statIno(t, dir+"/renamed")
			expect(t, rn, map[string]any{"ino": int(ino)})
			expect(t, ul, map[string]any{"ino": int(ino)})
		}
		expect(t, r.one(t, "unlink", dir+"/sub/link"), map[string]any{"ret": 0})
		expect(t, r.one(t, "rmdir", dir+"/sub"), map[string]any{"ret": 0})
		expect(t, r.one(t, "unlink", dir+"/nothing"), map[string]any{"ret": -2, "error": "ENOENT"})
		expect(t, r.one(t, "rmdir", dir+"/renamed"), map[string]any{"ret": -20, "error": "ENOTDIR"})
	})
}

func init() {
	helpers["dirfd"] = func(h helperEnv) error {
		dfd, err := unix.Open(h.dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		fd, err := unix.Openat(dfd, "at-file", unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		unix.Close(fd)
		if err := unix.Mkdirat(dfd, "at-dir", 0o700); err != nil {
			return err
		}
		if err := unix.Renameat2(dfd, "at-file", dfd, "at-dir/moved", unix.RENAME_NOREPLACE); err != nil {
			return err
		}
		if err := os.WriteFile(h.dir+"/other", nil, 0o644); err != nil {
			return err
		}
		if err := unix.Renameat2(dfd, "other", dfd, "at-dir/moved", unix.RENAME_NOREPLACE); err != unix.EEXIST {
			return fmt.Errorf("renameat2 NOREPLACE onto existing: %v", err)
		}
		if err := unix.Renameat2(dfd, "other", dfd, "at-dir/moved", unix.RENAME_EXCHANGE); err != nil {
			return err
		}
		if err := unix.Unlinkat(dfd, "at-dir/moved", 0); err != nil {
			return err
		}
		if err := unix.Unlinkat(dfd, "at-dir/missing", 0); err != unix.ENOENT {
			return fmt.Errorf("unlinkat missing: %v", err)
		}
		return unix.Unlinkat(dfd, "at-dir", unix.AT_REMOVEDIR)
	}
}

func TestDirfdRelative(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		r := trace(t, mode, dir, "dirfd", "-e", "open,mkdir,rename,unlink,rmdir")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		expect(t, r.one(t, "open", dir+"/at-file"), map[string]any{"ret": 0, "flags": "O_RDWR|O_CREAT|O_EXCL", "mode": "0600"})
		expect(t, r.one(t, "mkdir", dir+"/at-dir"), map[string]any{"ret": 0, "mode": "0700"})
		renames := r.find("rename", dir+"/at-file")
		if len(renames) != 1 {
			t.Fatalf("want 1 rename of at-file, got %d:\n%s", len(renames), r.dump())
		}
		expect(t, renames[0], map[string]any{"ret": 0, "new_path": dir + "/at-dir/moved", "flags": "RENAME_NOREPLACE"})
		rs := r.find("rename", dir+"/other")
		if len(rs) != 2 {
			t.Fatalf("want 2 renames of other, got %d:\n%s", len(rs), r.dump())
		}
		expect(t, rs[0], map[string]any{"ret": -17, "error": "EEXIST", "new_path": dir + "/at-dir/moved", "flags": "RENAME_NOREPLACE"})
		expect(t, rs[1], map[string]any{"ret": 0, "new_path": dir + "/at-dir/moved", "flags": "RENAME_EXCHANGE"})
		expect(t, r.one(t, "unlink", dir+"/at-dir/moved"), map[string]any{"ret": 0})
		expect(t, r.one(t, "unlink", dir+"/at-dir/missing"), map[string]any{"ret": -2, "error": "ENOENT"})
		expect(t, r.one(t, "rmdir", dir+"/at-dir"), map[string]any{"ret": 0})
	})
}

var oddNames = []string{"with space", "new\nline", "bad\xff\xfebytes", "tab\there"}

func init() {
	helpers["names"] = func(h helperEnv) error {
		for _, n := range oddNames {
			if err := os.WriteFile(filepath.Join(h.dir, n), nil, 0o644); err != nil {
				return err
			}
		}
		long := h.dir
		for i := 0; i < 12; i++ {
			long += "/" + strings.Repeat(string(rune('a'+i)), 100)
			if err := os.Mkdir(long, 0o755); err != nil {
				return err
			}
		}
		return os.WriteFile(long+"/leaf", nil, 0o644)
	}
}

func TestOddNamesAndLongPaths(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		r := trace(t, mode, dir, "names", "-e", "create")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		for _, n := range oddNames {
			// JSON carries invalid UTF-8 as U+FFFD, as encoding/json
			// does, and then the exact bytes in path_hex.
			p := filepath.Join(dir, n)
			e := r.one(t, "create", jsonString(p))
			if utf8.ValidString(p) {
				expect(t, e, map[string]any{"path_hex": nil})
			} else {
				expect(t, e, map[string]any{"path_hex": hex.EncodeToString([]byte(p))})
			}
		}
		long := dir
		for i := 0; i < 12; i++ {
			long += "/" + strings.Repeat(string(rune('a'+i)), 100)
		}
		if len(long) < 1000 {
			t.Fatalf("test path too short: %d", len(long))
		}
		e := r.one(t, "create", long+"/leaf")
		expect(t, e, map[string]any{"ret": 0, "path_truncated": nil})
	})
}

// jsonString is how a path comes back from JSON: each invalid byte becomes
// U+FFFD.
func jsonString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError (U+FFFD) for an invalid byte, n == 1
		i += n
	}
	return b.String()
}

func init() {
	helpers["attrs"] = func(h helperEnv) error {
		p := h.dir + "/f"
		if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
			return err
		}
		if err := unix.Chmod(p, 0o600); err != nil {
			return err
		}
		if err := unix.Chown(p, 1000, 1000); err != nil {
			return err
		}
		if err := unix.Chown(p, -1, 1001); err != nil {
			return err
		}
		if err := unix.Truncate(p, 3); err != nil {
			return err
		}
		ts := []unix.Timespec{unix.NsecToTimespec(1700000000123456789), {Sec: 0, Nsec: unix.UTIME_OMIT}}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0); err != nil {
			return err
		}
		// Failures in path lookup, before any VFS helper runs.
		nope := h.dir + "/nope"
		if err := unix.Chmod(nope, 0o600); err != unix.ENOENT {
			return fmt.Errorf("chmod missing: %v", err)
		}
		if err := unix.Chown(nope, 1000, -1); err != unix.ENOENT {
			return fmt.Errorf("chown missing: %v", err)
		}
		if err := unix.Truncate(nope, 7); err != unix.ENOENT {
			return fmt.Errorf("truncate missing: %v", err)
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, nope, ts, 0); err != unix.ENOENT {
			return fmt.Errorf("utimensat missing: %v", err)
		}
		if err := unix.Chmod(p+"/sub", 0o600); err != unix.ENOTDIR {
			return fmt.Errorf("chmod under a file: %v", err)
		}
		return nil
	}
}

func TestSetattr(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		r := trace(t, mode, dir, "attrs", "-e", "setattr")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		evs := r.find("setattr", dir+"/f")
		if len(evs) != 5 {
			t.Fatalf("want 5 setattr events, got %d:\n%s", len(evs), r.dump())
		}
		atime := time.Unix(0, 1700000000123456789).UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
		wants := []map[string]any{
			{"mode": "0600"},
			{"uid": 1000, "gid": 1000},
			{"gid": 1001},
			{"size": 3},
			{"atime": atime},
		}
		for i, w := range wants {
			expect(t, evs[i], map[string]any{"ret": 0, "attrs": w})
		}
		r.common(t, evs[0], 0, 0)

		// Each mode sees the calls that fail in path lookup, with the
		// name made absolute and the change that was asked for.
		fails := r.find("setattr", dir+"/nope")
		if len(fails) != 4 {
			t.Fatalf("want 4 failed setattr events on %s/nope, got %d:\n%s", dir, len(fails), r.dump())
		}
		for i, w := range []map[string]any{{"mode": "0600"}, {"uid": 1000}, {"size": 7}, {"atime": atime}} {
			expect(t, fails[i], map[string]any{"ret": -2, "error": "ENOENT", "attrs": w})
		}
		r.common(t, fails[0], 0, 0)
		expect(t, r.one(t, "setattr", dir+"/f/sub"), map[string]any{"ret": -20, "error": "ENOTDIR", "attrs": map[string]any{"mode": "0600"}})
	})
}

func init() {
	helpers["otheruser"] = func(h helperEnv) error {
		if err := unix.Setgroups(nil); err != nil {
			return err
		}
		// Raw syscalls: the whole process (Go's setresuid applies to all
		// threads as well).
		if err := unix.Setresgid(1000, 1000, 1000); err != nil {
			return err
		}
		if err := unix.Setresuid(1000, 1000, 1000); err != nil {
			return err
		}
		if err := os.WriteFile(h.dir+"/mine", nil, 0o644); err != nil {
			return err
		}
		if err := unix.Unlink(h.dir + "/protected/file"); err != unix.EACCES {
			return fmt.Errorf("unlink protected: %v", err)
		}
		return nil
	}
}

func TestOtherUserAndPermissionDenied(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		if err := os.Mkdir(dir+"/protected", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/protected/file", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r := trace(t, mode, dir, "otheruser", "-e", "create,unlink")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		e := r.one(t, "create", dir+"/mine")
		r.common(t, e, 1000, 1000)
		e = r.one(t, "unlink", dir+"/protected/file")
		expect(t, e, map[string]any{"ret": -13, "error": "EACCES", "uid": 1000, "gid": 1000})
	})
}

func init() {
	helpers["family"] = func(h helperEnv) error {
		// Let the outsider write while this command is traced, then go on:
		// helper -> sh -> touch, the grandchild's create must be seen.
		if err := os.WriteFile(h.dir+"/ready", nil, 0o644); err != nil {
			return err
		}
		if err := awaitFile(h.dir + "/outsider-done"); err != nil {
			return err
		}
		return exec.Command("sh", "-c", "touch '"+h.dir+"/by-grandchild'; exit 0").Run()
	}
}

func init() {
	helpers["execthread"] = func(h helperEnv) error {
		// Exec from a thread that is not the group leader: the kernel makes
		// the old leader exit first, and the process must stay followed.
		errc := make(chan error)
		go func() {
			runtime.LockOSThread()
			sh, err := exec.LookPath("sh")
			if err != nil {
				errc <- err
				return
			}
			errc <- unix.Exec(sh, []string{"sh", "-c", "touch '" + h.dir + "/after-exec'"}, os.Environ())
		}()
		return <-errc
	}
}

func TestExecFromThread(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		r := trace(t, mode, dir, "execthread", "-e", "create")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		if evs := r.find("create", dir+"/after-exec"); len(evs) != 1 {
			t.Fatalf("want the create after an exec from a non-leader thread, got %d:\n%s", len(evs), r.dump())
		}
	})
}

func TestGrandchildAndExitStatus(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		// An outsider writing while the command runs must not appear. It
		// stops before the command ends, so that nothing is inside a hooked
		// function when fstrace detaches.
		done := make(chan struct{})
		go func() {
			defer close(done)
			awaitFile(dir + "/ready")
			for i := 0; i < 20; i++ {
				os.WriteFile(fmt.Sprintf("%s/outsider-%d", dir, i), nil, 0o644)
			}
			os.WriteFile(dir+"/outsider-done", nil, 0o644)
		}()
		r := trace(t, mode, dir, "family", "-e", "create")
		<-done
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		gc := r.find("create", dir+"/by-grandchild")
		if len(gc) != 1 {
			t.Fatalf("want one create by the grandchild, got %d:\n%s", len(gc), r.dump())
		}
		if e := gc[0]; e.str("comm") != "touch" || e.num("pid") == int64(r.pid) {
			t.Errorf("grandchild event: comm %q pid %d (helper %d)", e.str("comm"), e.num("pid"), r.pid)
		}
		for _, ev := range r.events {
			if strings.Contains(ev.str("path"), "outsider") {
				t.Errorf("event of a process outside the command: %v", ev)
			}
		}
		// The command's exit status is fstrace's.
		out, err := exec.Command(fstraceBin(t), "-q", "-o", "none", "--hook-mode", mode, "-e", "mkdir", "--", "sh", "-c", "exit 7").CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Errorf("fstrace -- sh -c 'exit 7': %v, %s", err, out)
		}
	})
}

func init() {
	helpers["mount"] = func(h helperEnv) error {
		mp := h.dir + "/mnt"
		if err := unix.Mount("fstest", mp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m"); err != nil {
			return err
		}
		if err := os.WriteFile(mp+"/inside", nil, 0o644); err != nil {
			return err
		}
		if err := unix.Unmount(mp, 0); err != nil {
			return err
		}
		if err := unix.Unmount(mp, 0); err != unix.EINVAL {
			return fmt.Errorf("second umount: %v", err)
		}
		if err := unix.Mount("fstest2", h.dir+"/nope", "tmpfs", 0, ""); err != unix.ENOENT {
			return fmt.Errorf("mount on a missing directory: %v", err)
		}
		if err := unix.Unmount(h.dir+"/nope", unix.MNT_DETACH); err != unix.ENOENT {
			return fmt.Errorf("umount of a missing directory: %v", err)
		}
		return nil
	}
}

func TestMountTmpfs(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		if err := os.Mkdir(dir+"/mnt", 0o755); err != nil {
			t.Fatal(err)
		}
		r := trace(t, mode, dir, "mount", "-e", "mount,umount,create")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		expect(t, r.one(t, "mount", dir+"/mnt"), map[string]any{"ret": 0, "source": "fstest", "fstype": "tmpfs", "flags": "MS_NOSUID|MS_NODEV"})
		r.one(t, "create", dir+"/mnt/inside")
		us := r.find("umount", dir+"/mnt")
		if len(us) != 2 {
			t.Fatalf("want 2 umount events, got %d:\n%s", len(us), r.dump())
		}
		expect(t, us[0], map[string]any{"ret": 0})
		expect(t, us[1], map[string]any{"ret": -22, "error": "EINVAL"})
		// A mount point that does not resolve: seen in every mode.
		expect(t, r.one(t, "mount", dir+"/nope"), map[string]any{"ret": -2, "error": "ENOENT", "source": "fstest2", "fstype": "tmpfs"})
		expect(t, r.one(t, "umount", dir+"/nope"), map[string]any{"ret": -2, "error": "ENOENT"})
	})
}

const burst = 20000

func init() {
	helpers["burst"] = func(h helperEnv) error {
		for i := 0; i < burst; i++ {
			fd, err := unix.Open(fmt.Sprintf("%s/b%05d", h.dir, i), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
		return nil
	}
}

func TestBurstNoLoss(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		r := trace(t, mode, dir, "burst", "-e", "create")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d: %s", r.status, r.stderr)
		}
		t.Logf("fstrace's stderr:\n%s", r.stderr)
		seen := map[string]bool{}
		var last int64
		for _, e := range r.events {
			if e.str("event") != "create" {
				continue
			}
			if s := e.num("seq"); s != last+1 {
				t.Fatalf("seq gap: %d after %d", s, last)
			} else {
				last = s
			}
			seen[e.str("path")] = true
		}
		var missing []string
		for i := 0; i < burst; i++ {
			if p := fmt.Sprintf("%s/b%05d", dir, i); !seen[p] {
				missing = append(missing, filepath.Base(p))
			}
		}
		// None lost silently: where the kernel skipped fstrace's programs
		// (a task preempted inside one, on kernels that preempt them:
		// 7.2's kprobe mode), fstrace says how many events may be gone.
		if bound := reportedMissing(r.stderr); len(missing) > 0 && len(missing) <= bound {
			t.Logf("%d creates not delivered, within the %d fstrace reported may be missing", len(missing), bound)
		} else if len(missing) > 0 {
			t.Fatalf("%d creates not delivered, unreported (saw %d distinct of %d, in %d events): %v; stderr:\n%s", len(missing), len(seen), burst, last, missing[:min(len(missing), 10)], r.stderr)
		}
		if m := summaryRE.FindStringSubmatch(r.stderr); m == nil || m[2] != "0" {
			t.Errorf("stderr does not report 0 lost: %s", r.stderr)
		}
	})
}

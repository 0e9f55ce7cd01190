package vmtests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Names the process passes from memory fstrace cannot read, and from
// pages the kernel has not yet faulted in (issue 10): a name is reported
// exactly, or marked unknown, and never replaced by another path.

// coldName maps a file holding name (NUL-terminated) and returns a pointer
// to it in a page nothing has touched yet: the kernel's own read of the
// name is the first access.
func coldName(dir, file, name string) (*byte, error) {
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, append([]byte(name), 0), 0o600); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Drop the page cache, so that even a read-ahead mapping starts empty.
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	b, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	return &b[0], nil
}

func init() {
	helpers["coldnames"] = func(h helperEnv) error {
		if err := os.Chdir(h.dir); err != nil {
			return err
		}
		call := func(nr uintptr, args ...uintptr) unix.Errno {
			var a [6]uintptr
			copy(a[:], args)
			_, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
			return e
		}
		cwd := unix.AT_FDCWD
		at := uintptr(cwd) // sign-extended, as the kernel reads an int
		names := map[string]string{
			"m1": "cold-dir", "m2": "missing/cold-dir", "o1": "cold-open", "o2": "no/cold-open",
			"u1": "cold-unlink", "r1": "cold-from", "r2": "cold-to", "c1": "cold-chmod",
		}
		ptr := map[string]uintptr{}
		for k, n := range names {
			p, err := coldName(h.dir, ".name-"+k, n)
			if err != nil {
				return err
			}
			ptr[k] = uintptr(unsafe.Pointer(p))
		}
		for _, f := range []string{"cold-unlink", "cold-from", "cold-chmod"} {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				return err
			}
		}
		for _, c := range []struct {
			what string
			err  unix.Errno
			got  unix.Errno
		}{
			{"mkdirat cold-dir", 0, call(unix.SYS_MKDIRAT, at, ptr["m1"], 0o755)},
			{"mkdirat missing/cold-dir", unix.ENOENT, call(unix.SYS_MKDIRAT, at, ptr["m2"], 0o755)},
			{"openat cold-open", 0, call(unix.SYS_OPENAT, at, ptr["o1"], unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)},
			{"openat no/cold-open", unix.ENOENT, call(unix.SYS_OPENAT, at, ptr["o2"], unix.O_RDONLY)},
			{"unlinkat cold-unlink", 0, call(unix.SYS_UNLINKAT, at, ptr["u1"], 0)},
			{"renameat cold-from cold-to", 0, call(unix.SYS_RENAMEAT, at, ptr["r1"], at, ptr["r2"])},
			{"fchmodat cold-chmod", 0, call(unix.SYS_FCHMODAT, at, ptr["c1"], 0o600)},
			// A name that cannot be read at all: EFAULT.
			{"mkdirat <bad pointer>", unix.EFAULT, call(unix.SYS_MKDIRAT, at, 1, 0o755)},
			{"renameat cold-to <bad pointer>", unix.EFAULT, call(unix.SYS_RENAMEAT, at, ptr["r2"], at, 1)},
		} {
			if c.got != c.err {
				return fmt.Errorf("%s: got %v, want %v", c.what, c.got, c.err)
			}
		}
		return nil
	}
}

func TestColdNames(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		r := trace(t, mode, dir, "coldnames", "-e", "open,create,mkdir,unlink,rename,setattr")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d: %s", r.status, r.stderr)
		}
		p := func(n string) string { return filepath.Join(dir, n) }
		expect(t, r.one(t, "mkdir", p("cold-dir")), map[string]any{"ret": 0, "path_unknown": nil})
		r.one(t, "create", p("cold-open"))
		expect(t, r.one(t, "unlink", p("cold-unlink")), map[string]any{"ret": 0})
		expect(t, r.one(t, "rename", p("cold-from")), map[string]any{"ret": 0, "new_path": p("cold-to")})
		expect(t, r.one(t, "setattr", p("cold-chmod")), map[string]any{"ret": 0})
		// Failures never reach a dentry: the name itself is reported. On
		// 5.10 the fentry and kprobe modes read mkdirat's name from user
		// memory at do_mkdirat's entry, before the kernel has faulted
		// its page in: there the name may be unknown (README), never
		// another.
		if (mode == "fentry" || mode == "kprobe") && userNameKernel() {
			var found bool
			for _, e := range r.find("mkdir", "") {
				if e.num("ret") == -2 && e["path_unknown"] == true {
					found = true
				}
			}
			if !found {
				expect(t, r.one(t, "mkdir", p("missing/cold-dir")), map[string]any{"ret": -2, "error": "ENOENT"})
			}
		} else {
			expect(t, r.one(t, "mkdir", p("missing/cold-dir")), map[string]any{"ret": -2, "error": "ENOENT"})
		}
		expect(t, r.one(t, "open", p("no/cold-open")), map[string]any{"ret": -2, "error": "ENOENT"})

		// Unreadable names: marked unknown, with an empty path, and
		// never replaced by the cwd or another guess.
		var bad []event
		for _, e := range r.events {
			if e.str("error") == "EFAULT" {
				bad = append(bad, e)
			}
			if e.str("path") == dir {
				t.Errorf("an event reports the working directory itself: %v", e)
			}
		}
		if len(bad) != 2 {
			t.Fatalf("want 2 EFAULT events (mkdir, rename), got %d:\n%s", len(bad), r.dump())
		}
		expect(t, bad[0], map[string]any{"event": "mkdir", "path": "", "path_unknown": true})
		expect(t, bad[1], map[string]any{"event": "rename", "path": p("cold-to"), "new_path": "", "new_path_unknown": true})
	})
}

func init() {
	helpers["tidynames"] = func(h helperEnv) error {
		if err := os.Chdir(h.dir); err != nil {
			return err
		}
		if err := os.Mkdir("sub", 0o755); err != nil {
			return err
		}
		for _, n := range []string{"sub//x3", "./x4/", h.dir + "//./x5"} {
			if err := unix.Mkdir(n, 0o755); err != nil {
				return fmt.Errorf("mkdir %s: %v", n, err)
			}
		}
		if err := unix.Mkdir(".//nope/./x6", 0o755); err != unix.ENOENT {
			return fmt.Errorf("mkdir .//nope/./x6: %v", err)
		}
		if err := unix.Mkdir("./.x7", 0o755); err != nil {
			return err
		}
		// A name of 256 bytes, the length the kernel's tidying stops
		// at: reported whole, never cut to its directory.
		if err := unix.Mkdir("sub/"+strings.Repeat("a", 252), 0o755); err != nil {
			return err
		}
		return unix.Rename("./x4", ".//sub/./x8")
	}
}

// Names with "." components and repeated slashes are reported as the
// kernel resolves them, and --path matches that form.
func TestTidyNames(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		r := trace(t, mode, dir, "tidynames", "-e", "mkdir,rename", "--path", dir)
		if r.status != 0 {
			t.Fatalf("fstrace exited %d: %s", r.status, r.stderr)
		}
		p := func(n string) string { return filepath.Join(dir, n) }
		for _, n := range []string{"sub", "sub/x3", "x4", "x5", ".x7"} {
			expect(t, r.one(t, "mkdir", p(n)), map[string]any{"ret": 0})
		}
		// A failure that reaches no dentry: syscall mode tidies the name
		// passed; fentry and kprobe report it as passed (README).
		failed := p("nope/x6")
		if mode == "fentry" || mode == "kprobe" {
			failed = dir + "/.//nope/./x6"
		}
		expect(t, r.one(t, "mkdir", failed), map[string]any{"ret": -2})
		expect(t, r.one(t, "rename", p("x4")), map[string]any{"ret": 0, "new_path": p("sub/x8")})
		expect(t, r.one(t, "mkdir", p("sub/"+strings.Repeat("a", 252))), map[string]any{"ret": 0})

		// --path with the tidy form matches a name passed untidy.
		dir = testDir(t)
		r = trace(t, mode, dir, "tidynames", "-e", "mkdir", "--path", filepath.Join(dir, "sub/x3"))
		if r.status != 0 {
			t.Fatalf("fstrace exited %d: %s", r.status, r.stderr)
		}
		if got := len(r.events); got != 1 {
			t.Fatalf("--path %s/sub/x3: want 1 event, got %d:\n%s", dir, got, r.dump())
		}
		expect(t, r.events[0], map[string]any{"event": "mkdir", "path": filepath.Join(dir, "sub/x3")})
	})
}

// userNameKernel: a kernel whose namei entry points (do_mkdirat and
// friends) still take user pointers, before 5.12.
func userNameKernel() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	return major < 5 || (major == 5 && minor < 12)
}

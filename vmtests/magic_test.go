package vmtests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Names through /proc magic links (issue 10): tar's chmod("/proc/self/fd/5")
// and the like are reported with the file they designate, and a link whose
// process or fd is gone keeps its name, marked path_unknown.

// Never a pid (pid_max is at most 2^22), and an fd the helper never opens.
const (
	deadPID  = "2147483647"
	closedFD = "987"
)

func init() {
	helpers["magiclinks"] = func(h helperEnv) error {
		if err := os.Chdir(h.dir); err != nil {
			return err
		}
		for _, f := range []string{"a", "b", "u", "sub/g"} {
			if f == "sub/g" {
				if err := os.Mkdir("sub", 0o755); err != nil {
					return err
				}
			}
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				return err
			}
		}
		a, err := os.OpenFile("a", os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer a.Close()
		sub, err := os.Open("sub")
		if err != nil {
			return err
		}
		defer sub.Close()
		// Another live process holding b as its fd 3.
		b, err := os.Open("b")
		if err != nil {
			return err
		}
		child := exec.Command("sleep", "600")
		child.ExtraFiles = []*os.File{b}
		if err := child.Start(); err != nil {
			return err
		}
		b.Close()
		defer func() { child.Process.Kill(); child.Wait() }()

		// A pipe: a file with no path.
		var pp [2]int
		if err := unix.Pipe2(pp[:], unix.O_CLOEXEC); err != nil {
			return err
		}
		defer unix.Close(pp[0])
		defer unix.Close(pp[1])

		af, sf := strconv.Itoa(int(a.Fd())), strconv.Itoa(int(sub.Fd()))
		self := strconv.Itoa(os.Getpid())
		other := strconv.Itoa(child.Process.Pid)
		for _, c := range []struct {
			what string
			err  error
			want error
		}{
			{"chmod self/fd", unix.Chmod("/proc/self/fd/"+af, 0o600), nil},
			{"chown thread-self/fd", unix.Chown("/proc/thread-self/fd/"+af, os.Getuid(), os.Getgid()), nil},
			{"chmod PID/fd", unix.Chmod("/proc/"+self+"/fd/"+af, 0o640), nil},
			{"chmod other PID/fd", unix.Chmod("/proc/"+other+"/fd/3", 0o600), nil},
			{"rename self/fd/D/g", unix.Rename("/proc/self/fd/"+sf+"/g", h.dir+"/h"), nil},
			{"unlink self/cwd/u", unix.Unlink("/proc/self/cwd/u"), nil},
			{"mkdir self/root/DIR/m", unix.Mkdir("/proc/self/root"+h.dir+"/m", 0o755), nil},
			{"rename to self/fd/D/h2", unix.Rename(h.dir+"/h", "/proc/self/fd/"+sf+"/h2"), nil},
			// A lookup that fails below a resolved link.
			{"chmod self/fd/D/missing", unix.Chmod("/proc/self/fd/"+sf+"/missing", 0o600), unix.ENOENT},
			// Links that resolve to nothing: kept as passed, marked.
			{"chmod dead PID", unix.Chmod("/proc/"+deadPID+"/fd/3", 0o600), unix.ENOENT},
			{"chmod closed fd", unix.Chmod("/proc/self/fd/"+closedFD, 0o600), unix.ENOENT},
			{"truncate pipe", unix.Truncate("/proc/self/fd/"+strconv.Itoa(pp[0]), 0), unix.EINVAL},
		} {
			if !errors.Is(c.err, c.want) {
				return fmt.Errorf("%s: got %v, want %v", c.what, c.err, c.want)
			}
		}
		fd, err := unix.Open("/proc/self/fd/"+af, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open self/fd: %v", err)
		}
		return unix.Close(fd)
	}
}

// pidLookup: `fstrace probe` says syscall mode follows another process's
// /proc/PID links here.
func pidLookup(t *testing.T) bool {
	t.Helper()
	out := probeReport(t)
	var r struct {
		PidLookup bool `json:"pid_lookup"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("fstrace probe: %v: %s", err, out)
	}
	return r.PidLookup
}

func TestMagicLinks(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		// --path matches the resolved path: the names passed are all
		// under /proc, and only the two that resolve to nothing are let
		// through as such.
		r := trace(t, mode, dir, "magiclinks", "-e", "open,mkdir,unlink,rename,setattr",
			"--path", dir, "--path", "/proc/"+deadPID, "--path", "/proc/self/fd")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d: %s", r.status, r.stderr)
		}
		p := func(n string) string { return filepath.Join(dir, n) }
		syscall := actualMode(t, mode) == "syscall"

		ino, dev := statIno(t, p("a"))
		inode := map[string]any{"ino": int(ino), "dev": int(dev)}
		if syscall { // setattr knows only names there (README)
			inode = map[string]any{"ino": nil, "dev": nil}
		}
		var chmods, chowns []event
		for _, e := range r.find("setattr", p("a")) {
			if e.str("error") != "" || e["path_unknown"] != nil {
				t.Errorf("setattr %s: %v", p("a"), e)
			}
			attrs, _ := e["attrs"].(map[string]any)
			if _, ok := attrs["uid"]; ok {
				chowns = append(chowns, e)
			} else {
				chmods = append(chmods, e)
			}
		}
		if len(chmods) != 2 || len(chowns) != 1 {
			t.Fatalf("want 2 chmods and 1 chown of %s, got %d and %d:\n%s", p("a"), len(chmods), len(chowns), r.dump())
		}
		for _, e := range append(chmods, chowns...) {
			expect(t, e, inode)
		}
		expect(t, chmods[0], map[string]any{"attrs": map[string]any{"mode": "0600"}})
		expect(t, chmods[1], map[string]any{"attrs": map[string]any{"mode": "0640"}})

		opens := r.find("open", p("a")) // created, opened, then through the link
		if len(opens) != 3 {
			t.Fatalf("want 3 opens of %s, got %d:\n%s", p("a"), len(opens), r.dump())
		}
		expect(t, opens[2], map[string]any{"ret": 0, "ino": int(ino), "dev": int(dev), "path_unknown": nil})
		expect(t, r.one(t, "rename", p("sub/g")), map[string]any{"ret": 0, "new_path": p("h")})
		expect(t, r.one(t, "rename", p("h")), map[string]any{"ret": 0, "new_path": p("sub/h2")})
		expect(t, r.one(t, "unlink", p("u")), map[string]any{"ret": 0, "path_unknown": nil})
		expect(t, r.one(t, "mkdir", p("m")), map[string]any{"ret": 0, "path_unknown": nil})
		expect(t, r.one(t, "setattr", p("sub/missing")), map[string]any{"ret": -2, "path_unknown": nil})

		// Another process's fd: followed where the kernel lets fstrace
		// look it up (fentry and kprobe modes see the file itself).
		lookup := !syscall || pidLookup(t)
		t.Logf("another process's links followed: %v", lookup)
		if lookup {
			expect(t, r.one(t, "setattr", p("b")), map[string]any{"ret": 0, "path_unknown": nil})
		} else {
			var found bool
			for _, e := range r.events {
				if e.str("event") == "setattr" && e["path_unknown"] == true && e.num("ret") == 0 {
					found = true
				}
				if e.str("event") == "setattr" && e.str("path") == p("b") {
					t.Errorf("another process's fd resolved without a lookup: %v", e)
				}
			}
			if found {
				t.Errorf("an unresolved link passed --path %s:\n%s", dir, r.dump())
			}
		}

		// Nothing to resolve to: the name as passed, marked.
		expect(t, r.one(t, "setattr", "/proc/"+deadPID+"/fd/3"), map[string]any{"ret": -2, "path_unknown": true})
		expect(t, r.one(t, "setattr", "/proc/self/fd/"+closedFD), map[string]any{"ret": -2, "path_unknown": true})
		// A pipe has no path: syscall mode keeps the name (fentry and
		// kprobe modes see the pipe's own dentry).
		if syscall {
			var pipe []event
			for _, e := range r.events {
				if e.str("event") == "setattr" && e.str("error") == "EINVAL" {
					pipe = append(pipe, e)
				}
			}
			if len(pipe) != 1 || !strings.HasPrefix(pipe[0].str("path"), "/proc/self/fd/") || pipe[0]["path_unknown"] != true {
				t.Errorf("truncate of a pipe through /proc/self/fd: want one event with the name passed, marked, got:\n%s", r.dump())
			}
		}
		for _, e := range r.events {
			if e.str("path") == dir {
				t.Errorf("an event reports the working directory itself: %v", e)
			}
		}
	})
}

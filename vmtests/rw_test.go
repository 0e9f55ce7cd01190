package vmtests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

const rwSize = 10000

func init() {
	helpers["rw"] = func(h helperEnv) error {
		d := h.dir + "/rw"
		if err := os.WriteFile(d+"/src", bytes.Repeat([]byte("x"), rwSize), 0o644); err != nil {
			return err
		}
		// cp of a file, by the system's cp (read/write, sendfile or
		// copy_file_range, whichever it uses).
		if out, err := exec.Command("cp", d+"/src", d+"/dst").CombinedOutput(); err != nil {
			return fmt.Errorf("cp: %v: %s", err, out)
		}
		// An append.
		fd, err := unix.Open(d+"/dst", unix.O_WRONLY|unix.O_APPEND, 0)
		if err != nil {
			return err
		}
		if _, err := unix.Write(fd, []byte("abc")); err != nil {
			return err
		}
		unix.Close(fd)
		// A file read twice, in 4 KiB reads.
		for i := 0; i < 2; i++ {
			fd, err := unix.Open(d+"/src", unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			buf := make([]byte, 4096)
			for {
				n, err := unix.Read(fd, buf)
				if err != nil {
					return err
				}
				if n == 0 {
					break
				}
			}
			unix.Close(fd)
		}
		// A write through a dup'ed descriptor: one open file, one close.
		fd, err = unix.Open(d+"/dup", unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		fd2, err := unix.Dup(fd)
		if err != nil {
			return err
		}
		unix.Write(fd, []byte("a"))
		unix.Write(fd2, []byte("bc"))
		unix.Close(fd)
		unix.Write(fd2, []byte("de"))
		unix.Close(fd2)
		// Opened read-write ("r+") and closed without a write: opened
		// for write, no byte written.
		if fd, err = unix.Open(d+"/src", unix.O_RDWR, 0); err != nil {
			return err
		}
		unix.Close(fd)
		return nil
	}
}

// closes lists the close events of a path as bytes read, bytes written and
// opened_for_write.
func (r traced) closes(path string) []string {
	var out []string
	for _, e := range r.find("close", path) {
		out = append(out, fmt.Sprintf("r%d w%d %v", e.num("bytes_read"), e.num("bytes_written"), e["opened_for_write"]))
	}
	return out
}

func TestReadWriteClose(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		if err := os.Mkdir(dir+"/rw", 0o777); err != nil {
			t.Fatal(err)
		}
		r := trace(t, mode, dir, "rw", "-e", "read,write,close", "--path", dir+"/rw")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		src, dst, dup := dir+"/rw/src", dir+"/rw/dst", dir+"/rw/dup"
		check := func(what string, got []string, want ...string) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: got %q, want %q\n%s", what, got, want, r.dump())
			}
		}
		// src: written once by the helper, read by cp, read twice, then
		// opened r+ and closed unwritten.
		check("close src", r.closes(src), "r0 w10000 true", "r10000 w0 false", "r10000 w0 false", "r10000 w0 false", "r0 w0 true")
		// dst: written by cp, then appended to.
		check("close dst", r.closes(dst), "r0 w10000 true", "r0 w3 true")
		// dup: one close, at the last reference, with both fds' writes.
		check("close dup", r.closes(dup), "r0 w5 true")

		// The aggregated form: one write event per open file written, one
		// read per open file read.
		var writes, reads []string
		for _, e := range r.events {
			switch e.str("event") {
			case "write":
				writes = append(writes, fmt.Sprintf("%s@%d", e.str("path")[len(dir):], e.num("offset")))
			case "read":
				reads = append(reads, fmt.Sprintf("%s@%d", e.str("path")[len(dir):], e.num("offset")))
			}
		}
		check("writes", writes, "/rw/src@0", "/rw/dst@0", "/rw/dst@10000", "/rw/dup@0")
		check("reads", reads, "/rw/src@0", "/rw/src@0", "/rw/src@0")
		for _, e := range r.find("read", src) {
			if e.num("bytes") <= 0 {
				t.Errorf("read without bytes: %v", e)
			}
		}

		// Every call, on request.
		dir2 := testDir(t)
		if err := os.Mkdir(dir2+"/rw", 0o777); err != nil {
			t.Fatal(err)
		}
		r2 := trace(t, mode, dir2, "rw", "-e", "read:each", "--path", dir2+"/rw/src")
		var total int64
		n := 0
		for _, e := range r2.events {
			if e.str("event") == "read" && e.num("bytes") == 4096 || e.num("bytes") == rwSize%4096 {
				n++
			}
			total += e.num("bytes")
		}
		if total != 3*rwSize {
			t.Errorf("read:each: %d bytes in %d events, want %d in all\n%s", total, len(r2.events), 3*rwSize, r2.dump())
		}
		if n < 6 {
			t.Errorf("read:each: %d 4 KiB-sized reads, want the helper's 6 at least", n)
		}
	})
}

func init() {
	helpers["fileid"] = func(h helperEnv) error {
		d := h.dir + "/fid"
		a, err := unix.Open(d+"/a", unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		b, err := unix.Open(d+"/b", unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		if _, err := unix.Write(a, []byte("x")); err != nil {
			return err
		}
		if _, err := unix.Read(b, make([]byte, 8)); err != nil {
			return err
		}
		unix.Close(a)
		unix.Close(b)
		return os.WriteFile(h.dir+"/fds", []byte(fmt.Sprintf("%d %d", a, b)), 0o644)
	}
}

// fd and file_id tie an open file's events together (issue 12.9): open,
// read or write, and close of one file share one file_id, two files open
// at once have two; fd is the descriptor where the mode sees it (syscall
// mode), and absent elsewhere rather than made up.
func TestFileIdentity(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		if err := os.Mkdir(dir+"/fid", 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/fid/b", []byte("12345678"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := trace(t, mode, dir, "fileid", "-e", "open,read,write,close", "--path", dir+"/fid")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d:\n%s", r.status, r.stderr)
		}
		var fdA, fdB int
		if b, err := os.ReadFile(dir + "/fds"); err != nil {
			t.Fatal(err)
		} else {
			fmt.Sscan(string(b), &fdA, &fdB)
		}
		ids := map[string]string{}
		for _, c := range []struct {
			path string
			fd   int
			rw   string
		}{{dir + "/fid/a", fdA, "write"}, {dir + "/fid/b", fdB, "read"}} {
			var id string
			for _, kind := range []string{"open", c.rw, "close"} {
				e := r.one(t, kind, c.path)
				got := e.str("file_id")
				if len(got) != 16 {
					t.Errorf("%s %s: file_id %q, want 16 hex digits", kind, c.path, got)
				}
				if id == "" {
					id = got
				} else if got != id {
					t.Errorf("%s %s: file_id %s, the open's was %s", kind, c.path, got, id)
				}
				want := any(nil)
				if actualMode(t, mode) == "syscall" {
					want = c.fd
				}
				expect(t, e, map[string]any{"fd": want})
			}
			ids[c.path] = id
		}
		if ids[dir+"/fid/a"] == ids[dir+"/fid/b"] {
			t.Errorf("two files open at once share file_id %s:\n%s", ids[dir+"/fid/a"], r.dump())
		}
	})
}

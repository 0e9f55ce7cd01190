package vmtests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	helpers["filtered"] = func(h helperEnv) error {
		for _, d := range []string{"/in", "/in/sub", "/out"} {
			if err := os.Mkdir(h.dir+d, 0o755); err != nil {
				return err
			}
		}
		for _, f := range []string{"/in/a", "/in/sub/b", "/out/c", "/inx"} {
			if err := os.WriteFile(h.dir+f, nil, 0o644); err != nil {
				return err
			}
		}
		if err := unix.Rename(h.dir+"/out/c", h.dir+"/in/c"); err != nil {
			return err
		}
		if err := unix.Unlink(h.dir + "/in/missing"); err != unix.ENOENT {
			return fmt.Errorf("unlink missing: %v", err)
		}
		return exec.Command("sh", "-c", "touch '"+h.dir+"/in/by-sh'").Run()
	}
}

// paths lists the events' kind:path (relative to dir) in order.
func (r traced) paths(dir string) []string {
	var out []string
	for _, e := range r.events {
		if p, ok := strings.CutPrefix(e.str("path"), dir); ok && !strings.HasPrefix(p, "/.helper") {
			out = append(out, e.str("event")+":"+p)
		}
	}
	return out
}

type filterCase struct {
	name  string
	flags func(dir string) []string
	want  []string
}

// The filters in the kernel, which see each mode's paths.
var kernelFilterCases = []filterCase{
	{"path subtree", func(d string) []string { return []string{"-e", "create,mkdir,rename", "--path", d + "/in"} },
		[]string{"mkdir:/in", "mkdir:/in/sub", "create:/in/a", "create:/in/sub/b", "rename:/out/c", "create:/in/by-sh"}},
	{"exclude path", func(d string) []string {
		return []string{"-e", "create", "--path", d + "/in", "--exclude-path", d + "/in/sub"}
	}, []string{"create:/in/a", "create:/in/by-sh"}},
	// (setattr left out: in syscall mode busybox touch's first,
	// failing utimensat of the file it then creates shows too)
	{"failed only", func(d string) []string {
		return []string{"--failed", "--path", d, "-e", "open,create,mkdir,unlink,rename"}
	},
		[]string{"unlink:/in/missing"}},
	// The kinds the helper makes, not the default set: on 5.10 loading every
	// default program costs some 25 s a run in fentry and kprobe modes, and
	// other tests load them all already.
	{"no match", func(d string) []string { return []string{"--uid", "1000", "-e", "open,create,mkdir,unlink,rename"} }, nil},
}

// The filters on who did it: in the kernel, but judged again on every
// record's header by emit_record (bpf/lib/emit.h), which every mode's
// records pass through, whatever the hooks decided early. One mode is
// enough.
var whoFilterCases = []filterCase{
	{"comm", func(d string) []string { return []string{"-e", "create", "--comm", "touch"} },
		[]string{"create:/in/by-sh"}},
	{"exclude comm and events", func(d string) []string {
		return []string{"-e", "create,unlink", "--exclude-comm", "touch", "--path", d}
	}, []string{"create:/in/a", "create:/in/sub/b", "create:/out/c", "create:/inx", "unlink:/in/missing"}},
	{"uid and gid by name", func(d string) []string {
		return []string{"-e", "mkdir", "--uid", "root", "--gid", "root", "--path", d}
	}, []string{"mkdir:/in", "mkdir:/in/sub", "mkdir:/out"}},
}

// The filters in fstrace itself, on decoded events: the same in every mode.
var ownFilterCases = []filterCase{
	{"succeeded", func(d string) []string { return []string{"--succeeded", "--path", d, "-e", "create,unlink"} },
		[]string{"create:/in/a", "create:/in/sub/b", "create:/out/c", "create:/inx", "create:/in/by-sh"}},
	{"path glob on the base name", func(d string) []string {
		return []string{"-e", "create", "--path", d, "--path-glob", "b*"}
	}, []string{"create:/in/sub/b", "create:/in/by-sh"}},
	{"path glob on the whole path", func(d string) []string {
		return []string{"-e", "create,rename", "--path-glob", d + "/in/*"}
	}, []string{"create:/in/a", "rename:/out/c", "create:/in/by-sh"}},
}

func TestFilters(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) { runFilterCases(t, mode, kernelFilterCases) })
}

func TestWhoFilters(t *testing.T) {
	forOneMode(t, func(t *testing.T, mode string) { runFilterCases(t, mode, whoFilterCases) })
}

func TestOwnFilters(t *testing.T) {
	forOneMode(t, func(t *testing.T, mode string) { runFilterCases(t, mode, ownFilterCases) })
}

func runFilterCases(t *testing.T, mode string, cases []filterCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := testDir(t)
			r := trace(t, mode, dir, "filtered", tc.flags(dir)...)
			if r.status != 0 {
				t.Fatalf("fstrace exited %d", r.status)
			}
			got := r.paths(dir)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("events\n got %q\nwant %q", got, tc.want)
			}
			// What fstrace's own filters drop is counted: the
			// failed unlink; the creates of .helper-info, a, c, inx.
			want, ok := map[string]int{"succeeded": 1, "path glob on the base name": 4}[tc.name]
			if m := droppedRE.FindStringSubmatch(r.stderr); ok && (m == nil || m[1] != strconv.Itoa(want)) {
				t.Errorf("summary does not say %d dropped:\n%s", want, r.stderr)
			}
		})
	}
}

func init() {
	helpers["reload"] = func(h helperEnv) error {
		if err := os.WriteFile(h.dir+"/p1/before", nil, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(h.dir+"/phase1-done", nil, 0o644); err != nil {
			return err
		}
		if err := awaitFile(h.dir + "/go1"); err != nil {
			return err
		}
		for _, f := range []string{"/p1/after", "/p2/after"} {
			if err := os.WriteFile(h.dir+f, nil, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
}

// A SIGHUP reloads --filter-file; the new set applies to what follows.
func TestFilterReload(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		requireTracing(t, mode)
		dir := testDir(t)
		for _, d := range []string{"/p1", "/p2"} {
			if err := os.Mkdir(dir+d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		ff := dir + "/filter.yaml"
		write := func(p string) {
			if err := os.WriteFile(ff, []byte("events: [create]\npath: ["+p+"]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(dir + "/p1")
		cmd := exec.Command(fstraceBin(t), "-o", "json", "--hook-mode", mode, "--filter-file", ff,
			"--", os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "FSTRACE_HELPER=reload", "FSTRACE_DIR="+dir, "FSTRACE_INFO="+dir+"/.helper-info")
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		wait := func(what string, cond func() bool) {
			for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("timed out waiting for %s", what)
				}
			}
		}
		waitFile(t, dir+"/phase1-done")
		write(dir + "/p2")
		cmd.Process.Signal(syscall.SIGHUP)
		wait("the reload", func() bool {
			select {
			case l := <-lines:
				return strings.Contains(l, "filters reloaded")
			default:
				return false
			}
		})
		os.WriteFile(dir+"/go1", nil, 0o644)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("fstrace: %v", err)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			var e event
			if json.Unmarshal([]byte(l), &e) == nil {
				got = append(got, strings.TrimPrefix(e.str("path"), dir))
			}
		}
		want := []string{"/p1/before", "/p2/after"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("events %q, want %q", got, want)
		}
	})
}

package vmtests

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

// The login uid the helper sets for itself (auditd's auid), where the
// kernel keeps one (CONFIG_AUDIT: /proc/self/loginuid).
const whoAUID = 4321

func init() {
	helpers["who"] = func(h helperEnv) error {
		if _, err := os.Stat("/proc/self/loginuid"); err == nil {
			if err := os.WriteFile("/proc/self/loginuid", []byte("4321"), 0); err != nil {
				return err
			}
		}
		if err := os.WriteFile(h.dir+"/as-root", nil, 0o644); err != nil {
			return err
		}
		// Effective ids apart from the real ones, as in a setuid
		// program: the saved ids (0) bring them back.
		if err := syscall.Setresgid(-1, 2000, -1); err != nil {
			return err
		}
		if err := syscall.Setresuid(-1, 1000, -1); err != nil {
			return err
		}
		err := os.WriteFile(h.dir+"/as-euid", nil, 0o644)
		if err2 := syscall.Setresuid(-1, 0, -1); err == nil {
			err = err2
		}
		if err2 := syscall.Setresgid(-1, 0, -1); err == nil {
			err = err2
		}
		if err != nil {
			return err
		}
		if err := exec.Command("touch", h.dir+"/by-child").Run(); err != nil {
			return err
		}
		return os.WriteFile(h.dir+"/again", nil, 0o644)
	}
}

// Who did it, in full (issue 12.8): the effective ids next to the real
// ones, the login uid, the executable, and the command line at a process's
// first event only, in every mode. The helper's exec and touch's happen
// while tracing, so the kernel's exec records name them.
func TestWhoFields(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		r := trace(t, mode, dir, "who", "-e", "create", "--path", dir)
		if r.status != 0 {
			t.Fatalf("fstrace exited %d:\n%s", r.status, r.stderr)
		}
		self, err := filepath.EvalSymlinks(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		touchPath, err := exec.LookPath("touch")
		if err != nil {
			t.Fatal(err)
		}
		touch, err := filepath.EvalSymlinks(touchPath)
		if err != nil {
			t.Fatal(err)
		}
		auid := any(nil)
		if _, err := os.Stat("/proc/self/loginuid"); err == nil {
			auid = whoAUID
		}

		// The helper's first event carries its command line, as the
		// launcher exec'd it; no later one does.
		var first event
		for _, e := range r.events {
			if e.num("pid") == int64(r.pid) && (first == nil || e.num("seq") < first.num("seq")) {
				first = e
			}
		}
		if first == nil {
			t.Fatalf("no event of the helper:\n%s", r.dump())
		}
		if got, want := first["cmdline"], []any{os.Args[0], "-test.run=^$"}; !reflect.DeepEqual(got, want) {
			t.Errorf("first helper event %q: cmdline %v, want %v", first.str("path"), got, want)
		}
		for _, e := range r.events {
			if e.num("pid") == int64(r.pid) && e.num("seq") != first.num("seq") && e["cmdline"] != nil {
				t.Errorf("cmdline again on %q: %v", e.str("path"), e["cmdline"])
			}
		}

		e := r.one(t, "create", dir+"/as-root")
		expect(t, e, map[string]any{"uid": 0, "euid": 0, "gid": 0, "egid": 0, "auid": auid, "exe": self})
		e = r.one(t, "create", dir+"/as-euid")
		expect(t, e, map[string]any{"uid": 0, "euid": 1000, "gid": 0, "egid": 2000, "auid": auid, "exe": self})
		e = r.one(t, "create", dir+"/again")
		expect(t, e, map[string]any{"euid": 0, "egid": 0, "exe": self, "cmdline": nil})

		c := r.find("create", dir+"/by-child")
		if len(c) != 1 {
			t.Fatalf("want one create of by-child, got %d:\n%s", len(c), r.dump())
		}
		expect(t, c[0], map[string]any{"comm": "touch", "exe": touch, "auid": auid})
		if got, want := c[0]["cmdline"], []any{"touch", dir + "/by-child"}; !reflect.DeepEqual(got, want) {
			t.Errorf("touch's cmdline %v, want %v", got, want)
		}
	})
}

package vmtests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/internal/testutil"
)

// Containers without a runtime: cgroups made by hand in the layouts the
// runtimes and the kubelet use, a process moved into each (what a runtime
// does), and what fstrace says of the file it creates.

const ctrPodUID = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"

// ctrCgroupRoot is the cgroup v2 mount: $FSTRACE_CGROUP2 on a host whose
// /sys/fs/cgroup is v1 (with v2 at /sys/fs/cgroup/unified, say).
var ctrCgroupRoot = func() string {
	if p := os.Getenv("FSTRACE_CGROUP2"); p != "" {
		return p
	}
	return "/sys/fs/cgroup"
}()

// ctrID makes a distinct 64-hex id for case n.
func ctrID(n int) string {
	return fmt.Sprintf("%02x", n) + strings.Repeat("4f7c1a2b3c4d5e6f", 4)[2:]
}

type ctrCase struct {
	name    string // the file the process creates
	cgroup  string // under ctrCgroupRoot
	id      string
	runtime string
	pod     string
}

var ctrCases = func() []ctrCase {
	u := strings.ReplaceAll(ctrPodUID, "-", "_")
	return []ctrCase{
		{"docker-systemd", "system.slice/docker-" + ctrID(1) + ".scope", ctrID(1), "docker", ""},
		{"docker-cgroupfs", "docker/" + ctrID(2), ctrID(2), "docker", ""},
		{"containerd-k8s-systemd", "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u +
			".slice/cri-containerd-" + ctrID(3) + ".scope", ctrID(3), "containerd", ctrPodUID},
		{"crio-k8s-systemd", "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u +
			".slice/crio-" + ctrID(4) + ".scope", ctrID(4), "cri-o", ctrPodUID},
		{"k8s-cgroupfs", "kubepods/burstable/pod" + ctrPodUID + "/" + ctrID(5), ctrID(5), "containerd", ctrPodUID},
		{"k8s-cgroupfs-guaranteed", "kubepods/pod" + ctrPodUID + "/" + ctrID(6), ctrID(6), "containerd", ctrPodUID},
		{"podman", "machine.slice/libpod-" + ctrID(7) + ".scope", ctrID(7), "podman", ""},
		{"unknown-layout", "ci/" + ctrID(8), ctrID(8), "cgroup", ""},
		// Made, used for one create and removed as fast as a process
		// can be started: named all the same.
		{"short-lived", "system.slice/docker-" + ctrID(9) + ".scope", ctrID(9), "docker", ""},
	}
}()

// inCgroup runs `touch file` in a new process moved into cgroup first.
func inCgroup(cgroup, file string) error {
	cmd := exec.Command("sh", "-c", `echo $$ > "$1/cgroup.procs" && exec touch "$2"`, "sh", cgroup, file)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("touch in %s: %v: %s", cgroup, err, out)
	}
	return nil
}

// rmdirCgroup removes a cgroup once its last process is gone (the exit
// is seen by the cgroup a moment after the wait).
func rmdirCgroup(p string) error {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		err := unix.Rmdir(p)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("rmdir %s: %w", p, err)
		}
	}
}

func init() {
	helpers["containers"] = func(h helperEnv) error {
		if err := os.WriteFile(h.dir+"/host", nil, 0o644); err != nil {
			return err
		}
		for _, c := range ctrCases {
			cg := filepath.Join(ctrCgroupRoot, c.cgroup)
			start := time.Now()
			if err := os.MkdirAll(cg, 0o755); err != nil {
				return err
			}
			if err := inCgroup(cg, h.dir+"/"+c.name); err != nil {
				return err
			}
			if c.name == "short-lived" {
				if err := rmdirCgroup(cg); err != nil {
					return err
				}
				os.WriteFile(h.dir+"/.helper-lived", []byte(time.Since(start).String()), 0o644)
			}
		}
		if _, err := exec.LookPath("unshare"); err == nil {
			if out, err := exec.Command("unshare", "-m", "touch", h.dir+"/unshared").CombinedOutput(); err != nil {
				return fmt.Errorf("unshare -m: %v: %s", err, out)
			}
		}
		return nil
	}
}

// newCgroups lists the cgroups of paths (relative to ctrCgroupRoot) and
// of their parents that do not exist yet, deepest first: what a test's
// cleanup is to remove, and nothing the host had before (a systemd host's
// own system.slice, which is in use and cannot be removed).
func newCgroups(paths ...string) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, c := range paths {
		for p := strings.Trim(c, "/"); p != "." && p != ""; p = filepath.Dir(p) {
			if _, err := os.Stat(filepath.Join(ctrCgroupRoot, p)); err == nil || seen[p] {
				continue
			}
			seen[p] = true
			dirs = append(dirs, p)
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	return dirs
}

// removeCgroups removes the cgroups newCgroups listed.
func removeCgroups(t *testing.T, dirs []string) {
	for _, p := range dirs {
		if err := rmdirCgroup(filepath.Join(ctrCgroupRoot, p)); err != nil {
			t.Error(err)
		}
	}
}

// requireCgroup2 checks the guest's (or host's) cgroup v2 mount. Where
// /sys/fs/cgroup is v1 (a hybrid host, as CI's may be) and no
// FSTRACE_CGROUP2 names another, it mounts the v2 hierarchy, which the
// kernel keeps whether or not anything mounts it, in a directory of its own
// for the tests (unmounted by TestMain).
func requireCgroup2(t *testing.T) {
	t.Helper()
	cgroup2Once.Do(func() {
		if isCgroup2(ctrCgroupRoot) || os.Getenv("FSTRACE_CGROUP2") != "" || os.Geteuid() != 0 {
			return
		}
		d, err := os.MkdirTemp("", "fstrace-cgroup2-")
		if err != nil {
			return
		}
		if err := unix.Mount("none", d, "cgroup2", 0, ""); err != nil {
			os.Remove(d)
			return
		}
		ctrCgroupRoot, cgroup2Mounted = d, d
		os.Setenv("FSTRACE_CGROUP2", d) // for the helpers, the test binary again
	})
	if !isCgroup2(ctrCgroupRoot) {
		testutil.Skip(t, "%s is not a cgroup v2 mount, and none could be made", ctrCgroupRoot)
	}
}

var (
	cgroup2Once    sync.Once
	cgroup2Mounted string // the v2 mount requireCgroup2 made, if any
)

func isCgroup2(p string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(p, &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC
}

// unmountCgroup2 undoes requireCgroup2's mount.
func unmountCgroup2() {
	if cgroup2Mounted != "" {
		unix.Unmount(cgroup2Mounted, unix.MNT_DETACH)
		os.Remove(cgroup2Mounted)
	}
}

func nsIno(t *testing.T, p string) int {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Ino)
}

// hostNSIno is the initial namespace's inode as fstrace takes it: pid 1's,
// or its own where pid 1's cannot be read (a sandbox whose pid 1 is not
// ours to inspect).
func hostNSIno(t *testing.T, name string) int {
	t.Helper()
	var st unix.Stat_t
	if unix.Stat("/proc/1/ns/"+name, &st) == nil {
		return int(st.Ino)
	}
	return nsIno(t, "/proc/self/ns/"+name)
}

func traceContainers(t *testing.T, mode string, flags ...string) (traced, string) {
	t.Helper()
	requireCgroup2(t)
	dir := testDir(t)
	var paths []string
	for _, c := range ctrCases {
		paths = append(paths, c.cgroup)
	}
	made := newCgroups(paths...)
	t.Cleanup(func() { removeCgroups(t, made) })
	r := trace(t, mode, dir, "containers", append([]string{"-e", "create", "--path", dir}, flags...)...)
	if r.status != 0 {
		t.Fatalf("fstrace exited %d:\n%s", r.status, r.stderr)
	}
	return r, dir
}

func TestContainerAttribution(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		r, dir := traceContainers(t, mode)
		hostMnt := hostNSIno(t, "mnt")
		host := r.one(t, "create", dir+"/host")
		expect(t, host, map[string]any{"container_id": nil, "container_runtime": nil, "pod_uid": nil, "mntns": nil})
		for _, c := range ctrCases {
			evs := r.find("create", dir+"/"+c.name)
			if len(evs) != 1 {
				t.Errorf("%s: want one create, got %d; all events:\n%s", c.name, len(evs), r.dump())
				continue
			}
			want := map[string]any{"container_id": c.id, "container_runtime": c.runtime, "mntns": hostMnt, "comm": "touch"}
			if c.pod != "" {
				want["pod_uid"] = c.pod
			} else {
				want["pod_uid"] = nil
			}
			expect(t, evs[0], want)
		}
		if b, err := os.ReadFile(dir + "/.helper-lived"); err == nil {
			t.Logf("the short-lived cgroup lived %s", b)
		}
		if _, err := exec.LookPath("unshare"); err != nil {
			t.Log("no unshare here: the mount namespace case is not run")
			return
		}
		evs := r.find("create", dir+"/unshared")
		if len(evs) != 1 {
			t.Fatalf("unshare -m: want one create, got %d; all events:\n%s", len(evs), r.dump())
		}
		e := evs[0]
		expect(t, e, map[string]any{"container_id": nil, "container_runtime": nil, "pod_uid": nil})
		if n := e.num("mntns"); n <= 0 || n == int64(hostMnt) {
			t.Errorf("unshare -m: mntns %v, want one other than the host's %d", e["mntns"], hostMnt)
		}
	})
}

func TestContainerFilters(t *testing.T) {
	var all, containers []string
	for _, c := range ctrCases {
		all = append(all, c.name)
		containers = append(containers, c.name)
	}
	unshared := []string{}
	if _, err := exec.LookPath("unshare"); err == nil {
		unshared = []string{"unshared"}
	}
	except := func(name string) []string {
		out := []string{"host"}
		for _, n := range all {
			if n != name {
				out = append(out, n)
			}
		}
		return append(out, unshared...)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		want  []string
		every bool // in every mode; the others in the mode fstrace picks (the kernel's filter code is one)
	}{
		{"container by short id", []string{"--container", ctrID(3)[:12]}, []string{"containerd-k8s-systemd"}, true},
		{"two containers one by full id", []string{"--container", ctrID(1)[:12] + "," + ctrID(5)},
			[]string{"docker-systemd", "k8s-cgroupfs"}, false},
		{"exclude container", []string{"--exclude-container", ctrID(7)[:20]}, except("podman"), false},
		{"host only", []string{"--host-only"}, []string{"host"}, true},
		{"containers only", []string{"--containers-only"}, append(containers, unshared...), false},
	} {
		run := forModes
		if !tc.every {
			run = forOneMode
		}
		t.Run(tc.name, func(t *testing.T) {
			run(t, func(t *testing.T, mode string) {
				r, dir := traceContainers(t, mode, tc.flags...)
				var got []string
				for _, p := range r.paths(dir) {
					got = append(got, strings.TrimPrefix(p, "create:/"))
				}
				if strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Errorf("events\n got %q\nwant %q\nfstrace said:\n%s", got, tc.want, r.stderr)
				}
			})
		})
	}
}

// A prefix shorter than docker ps's short id is refused, in one line.
func TestContainerShortPrefix(t *testing.T) {
	out, err := exec.Command(fstraceBin(t), "--container", "4f7c1a2b3c4", "--", "true").CombinedOutput()
	if s := exitStatus(t, err); s != 2 || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 ||
		!strings.Contains(string(out), "12 to 64 hex digits") {
		t.Errorf("exit %d, output %q; want 2 and one line", s, out)
	}
}

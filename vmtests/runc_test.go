package vmtests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fstrace/fstrace/internal/testutil"
)

// A real container: runc (Debian's, copied into the guest with its
// libraries by run-all.sh) runs a busybox bundle with linux.cgroupsPath in
// the kubelet's cgroupfs layout; in an initramfs it must run --no-pivot.

var runcCtrID = ctrID(0x21)

const runcCgroup = "/kubepods/besteffort/pod" + ctrPodUID

// runcBundle makes a bundle whose process creates /data/in-runc, with the
// host's dir/shared bind-mounted at /data.
func runcBundle(dir string) error {
	rootfs := filepath.Join(dir, "bundle", "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "tmp", "data"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	for _, a := range []string{"sh", "touch"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "shared"), 0o777); err != nil {
		return err
	}
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"terminal": false,
			"user":     map[string]any{"uid": 0, "gid": 0},
			"args":     []string{"/bin/sh", "-c", "touch /in-rootfs /data/in-runc"},
			"env":      []string{"PATH=/bin"},
			"cwd":      "/",
		},
		"root": map[string]any{"path": "rootfs"},
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/data", "type": "bind", "source": filepath.Join(dir, "shared"), "options": []string{"rbind", "rw"}},
		},
		"linux": map[string]any{
			"cgroupsPath": runcCgroup + "/" + runcCtrID,
			"namespaces": []map[string]any{
				{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"},
			},
		},
	}
	j, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bundle", "config.json"), j, 0o644)
}

func init() {
	helpers["runc"] = func(h helperEnv) error {
		cmd := exec.Command("runc", "--root", filepath.Join(h.dir, "state"), "run", "--no-pivot",
			"-b", filepath.Join(h.dir, "bundle"), runcCtrID)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("runc run: %v: %s", err, out)
		}
		return nil
	}
}

func TestContainerRunc(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		testutil.Skip(t, "no runc here (scripts/deps.sh hosttest installs it; the host's runc is copied into the guests)")
	}
	requireCgroup2(t)
	first := true
	forModes(t, func(t *testing.T, mode string) {
		// The filters in the first mode only (TestContainerFilters has
		// them in every mode); the attribution in each.
		filters := first
		first = false
		dir := testDir(t)
		if err := runcBundle(dir); err != nil {
			t.Fatal(err)
		}
		made := newCgroups(runcCgroup + "/" + runcCtrID)
		t.Cleanup(func() { removeCgroups(t, made) })
		for _, tc := range []struct {
			flags []string
			want  int
		}{
			{nil, 1},
			{[]string{"--container", runcCtrID[:12]}, 1},
			{[]string{"--host-only"}, 0},
		} {
			if tc.flags != nil && !filters {
				continue
			}
			os.Remove(dir + "/shared/in-runc")
			os.Remove(dir + "/bundle/rootfs/in-rootfs")
			r := trace(t, mode, dir, "runc", append([]string{"-e", "create"}, tc.flags...)...)
			if r.status != 0 {
				t.Fatalf("fstrace %q exited %d:\n%s", tc.flags, r.status, r.stderr)
			}
			evs := r.find("create", "/data/in-runc")
			if len(evs) != tc.want {
				t.Fatalf("fstrace %q: want %d creates of /data/in-runc, got %d; all events:\n%s", tc.flags, tc.want, len(evs), r.dump())
			}
			if tc.want == 0 {
				continue
			}
			e := evs[0]
			expect(t, e, map[string]any{"container_id": runcCtrID, "container_runtime": "containerd",
				"pod_uid": ctrPodUID, "comm": "touch"})
			if n := e.num("mntns"); n <= 0 || n == int64(hostNSIno(t, "mnt")) {
				t.Errorf("mntns %v, want the container's own", e["mntns"])
			}
			// Where the files lie on the host: the bind mount's source,
			// the bundle's rootfs.
			expect(t, e, map[string]any{"host_path": dir + "/shared/in-runc"})
			if in := r.find("create", "/in-rootfs"); len(in) != 1 {
				t.Errorf("want one create of /in-rootfs, got %d:\n%s", len(in), r.dump())
			} else {
				expect(t, in[0], map[string]any{"container_id": runcCtrID, "host_path": dir + "/bundle/rootfs/in-rootfs"})
			}
		}
	})
}

package vmtests

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/internal/testutil"
)

// The container image (issue 15.3), unpacked into an OCI bundle by `make
// image-test` (FSTRACE_IMAGE_OCI: the image as an OCI layout;
// FSTRACE_IMAGE_BUNDLE: umoci's bundle of it): its contract, and a run
// with runc as a host agent (the host's PID and network namespaces, the
// mounts and capabilities README's "Container image" lists) that traces a
// process outside the container.

// ociConfig is the part of an OCI image configuration the contract names.
type ociConfig struct {
	Config struct {
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	} `json:"config"`
}

// ociBlob reads the blob a descriptor names from an OCI layout.
func ociBlob(t *testing.T, layout string, desc map[string]any) []byte {
	t.Helper()
	d, _ := desc["digest"].(string)
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		t.Fatalf("descriptor without a digest: %v", desc)
	}
	b, err := os.ReadFile(filepath.Join(layout, "blobs", alg, hex))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// imageConfig reads the configuration of the one image in an OCI layout.
func imageConfig(t *testing.T, layout string) ociConfig {
	t.Helper()
	var index struct {
		Manifests []map[string]any `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d manifests, want 1", err, len(index.Manifests))
	}
	var manifest struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(ociBlob(t, layout, index.Manifests[0]), &manifest); err != nil {
		t.Fatal(err)
	}
	var c ociConfig
	if err := json.Unmarshal(ociBlob(t, layout, manifest.Config), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// agentSpec turns the bundle's runtime configuration into a host agent's:
// the host's PID and network namespaces; sysfs with the host's BTF, bpffs,
// tracefs, debugfs and cgroup2 bound in; a tmpfs /tmp (fstrace's probes
// create a file); run (a host directory) at /run/fstrace; the capabilities
// README lists, and no others.
func agentSpec(t *testing.T, spec map[string]any, rootfs, run string, args []string) {
	t.Helper()
	process := spec["process"].(map[string]any)
	process["args"] = args
	process["terminal"] = false
	caps := []string{"CAP_BPF", "CAP_PERFMON", "CAP_DAC_READ_SEARCH"}
	// 5.10 charges BPF maps to RLIMIT_MEMLOCK, which fstrace raises.
	var v unix.Utsname
	unix.Uname(&v)
	if k := unix.ByteSliceToString(v.Release[:]); strings.HasPrefix(k, "5.") {
		caps = append(caps, "CAP_SYS_RESOURCE")
	}
	process["capabilities"] = map[string]any{"bounding": caps, "effective": caps, "permitted": caps}
	linux := spec["linux"].(map[string]any)
	var ns []any
	for _, n := range linux["namespaces"].([]any) {
		if typ := n.(map[string]any)["type"]; typ != "pid" && typ != "network" {
			ns = append(ns, n)
		}
	}
	linux["namespaces"] = ns
	delete(linux, "maskedPaths")
	delete(linux, "readonlyPaths")
	mounts := []any{}
	for _, m := range spec["mounts"].([]any) {
		if d := m.(map[string]any)["destination"]; d != "/sys" && d != "/tmp" {
			mounts = append(mounts, m)
		}
	}
	mounts = append(mounts, map[string]any{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": []string{"nosuid", "noexec", "nodev", "ro"}})
	for _, d := range []string{"/sys/kernel/btf", "/sys/fs/bpf", "/sys/kernel/tracing", "/sys/kernel/debug", "/sys/fs/cgroup"} {
		if _, err := os.Stat(d); err == nil {
			mounts = append(mounts, map[string]any{"destination": d, "type": "bind", "source": d, "options": []string{"rbind", "ro"}})
		}
	}
	mounts = append(mounts,
		map[string]any{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "nodev", "mode=1777"}},
		map[string]any{"destination": "/run/fstrace", "type": "bind", "source": run, "options": []string{"rbind", "rw"}})
	spec["mounts"] = mounts
	spec["root"] = map[string]any{"path": rootfs, "readonly": true}
}

func TestImage(t *testing.T) {
	layout, bundle := os.Getenv("FSTRACE_IMAGE_OCI"), os.Getenv("FSTRACE_IMAGE_BUNDLE")
	if layout == "" || bundle == "" {
		msg := "no image: FSTRACE_IMAGE_OCI and FSTRACE_IMAGE_BUNDLE are set by `make image-test`"
		if os.Getenv("FSTRACE_REQUIRE_IMAGE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// The contract: entrypoint fstrace, JSON on stdout, the exporter's port.
	c := imageConfig(t, layout)
	if !slices.Equal(c.Config.Entrypoint, []string{"/usr/bin/fstrace"}) || !slices.Equal(c.Config.Cmd, []string{"-o", "json"}) {
		t.Errorf("entrypoint %q, cmd %q; want [/usr/bin/fstrace] and [-o json]", c.Config.Entrypoint, c.Config.Cmd)
	}
	if _, ok := c.Config.ExposedPorts["9464/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 9464/tcp", c.Config.ExposedPorts)
	}
	// Nothing in it but a static binary.
	rootfs := filepath.Join(bundle, "rootfs")
	var files []string
	filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, rootfs))
		}
		return nil
	})
	if !slices.Equal(files, []string{"/usr/bin/fstrace"}) {
		t.Errorf("image files %q, want just /usr/bin/fstrace", files)
	}
	if f, err := elf.Open(filepath.Join(rootfs, "usr/bin/fstrace")); err != nil {
		t.Error(err)
	} else {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("/usr/bin/fstrace is dynamically linked")
			}
		}
		f.Close()
	}

	// From inside the container, a process outside it.
	runc, err := exec.LookPath("runc")
	if err != nil {
		testutil.Skip(t, "no runc here to run the image (scripts/deps.sh image installs it)")
	}
	testutil.NeedRoot(t, "for runc here")
	dir := testDir(t)
	os.Mkdir(dir+"/w", 0o777)
	run := dir + "/run"
	os.Mkdir(run, 0o777)
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	args := append(append(slices.Clone(c.Config.Entrypoint), c.Config.Cmd...),
		"-e", "create", "--path", dir+"/w", "-n", "1", "--ready-file", "/run/fstrace/ready")
	agentSpec(t, spec, rootfs, run, args)
	// The bundle of this run: its own config, the image's rootfs.
	b2 := filepath.Join(dir, "bundle")
	os.Mkdir(b2, 0o755)
	out, _ := json.MarshalIndent(spec, "", " ")
	if err := os.WriteFile(filepath.Join(b2, "config.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("fstrace-image-%d", os.Getpid())
	runArgs := []string{"run", "--bundle", b2}
	if inGuest() {
		runArgs = append(runArgs, "--no-pivot") // an initramfs cannot pivot_root
	}
	cmd := exec.Command(runc, append(runArgs, id)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer exec.Command(runc, "delete", "-f", id).Run()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(run + "/ready"); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the container ended before tracing: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not start tracing in 2 minutes:\n%s", stderr.String())
		}
	}
	if err := os.WriteFile(dir+"/w/from-outside", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("runc run: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the container did not end after -n 1:\n%s", stderr.String())
	}
	var e event
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &e); err != nil {
		t.Fatalf("the container's stdout is not one JSON event: %v: %q\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("from inside the container: %s", bytes.TrimSpace(stdout.Bytes()))
	// The host's pid: the container sees the host's PID namespace.
	if e.str("event") != "create" || e.str("path") != dir+"/w/from-outside" || e.num("pid") != int64(os.Getpid()) {
		t.Errorf("event %v, want the create of %s/w/from-outside by pid %d", e, dir, os.Getpid())
	}
	if !strings.Contains(stderr.String(), "1 event, 0 lost") {
		t.Errorf("no summary:\n%s", stderr.String())
	}
}

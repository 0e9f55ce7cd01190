package vmtests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// capMask is a capability set as /proc/PID/status shows it.
func capMask(caps ...int) string {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return fmt.Sprintf("%016x", m)
}

// procCaps reads the capability sets of every thread of pid, as
// "CapEff=... CapPrm=..." lines, one per distinct answer.
func procCaps(t *testing.T, pid int) []string {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, st := range tasks {
		b, err := os.ReadFile(st)
		if err != nil {
			t.Fatal(err)
		}
		var f []string
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.HasPrefix(k, "Cap") {
				f = append(f, k+"="+strings.TrimSpace(v))
			}
		}
		if s := strings.Join(f, " "); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Once attached, fstrace keeps no capability but CAP_BPF (the kernel asks
// for it on bpf(2) calls before 6.5), and with a filter file
// CAP_DAC_READ_SEARCH to read it again, in every thread and every set; and
// it goes on tracing.
func TestCapabilitiesDropped(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		os.Mkdir(dir+"/w", 0o777)
		for _, tc := range []struct {
			name  string
			flags []string
			keep  []int
		}{
			{"plain", nil, []int{unix.CAP_BPF}},
			{"filter file", []string{"--filter-file", dir + "/filters"}, []int{unix.CAP_BPF, unix.CAP_DAC_READ_SEARCH}},
		} {
			os.WriteFile(dir+"/filters", []byte(`{"path": ["`+dir+`/w"]}`), 0o644)
			s := startSystem(t, mode, dir+"/ready", append([]string{"-e", "create", "--path", dir + "/w"}, tc.flags...)...)
			set := capMask(tc.keep...)
			want := fmt.Sprintf("CapInh=%s CapPrm=%s CapEff=%s CapBnd=%s CapAmb=%s", capMask(), set, set, set, capMask())
			if got := procCaps(t, s.cmd.Process.Pid); len(got) != 1 || got[0] != want {
				t.Errorf("%s: capabilities %q, want %q in every thread", tc.name, got, want)
			}
			f := dir + "/w/" + strings.ReplaceAll(tc.name, " ", "_")
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			s.cmd.Process.Signal(syscall.SIGTERM)
			status, evs := s.wait(t)
			if got := kindPaths(evs, dir); status != 0 || strings.Join(got, " ") != "create:"+strings.TrimPrefix(f, dir) {
				t.Errorf("%s: status %d, events %q, want 0 and the create", tc.name, status, got)
			}
		}
	})
}

// asUser runs fstrace as the unprivileged uid 65534 holding just caps (as
// ambient capabilities, which survive its exec).
func asUser(t *testing.T, caps []int, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(fstraceBin(t), args...)
	var amb []uintptr
	for _, c := range caps {
		amb = append(amb, uintptr(c))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
		AmbientCaps: amb,
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	status := exitStatus(t, cmd.Run())
	return status, stdout.String(), stderr.String()
}

// fstrace does not need root: as an ordinary user given CAP_BPF,
// CAP_PERFMON, CAP_DAC_READ_SEARCH (syscall mode's tracepoint ids) and
// CAP_SYS_RESOURCE (5.10's memlock limit) it traces, in every mode; in the
// modes that open perf events, with CAP_SYS_ADMIN too where
// perf_event_paranoid is 3, and a line saying so without it. Without
// CAP_PERFMON it says so in one line and exits 1.
func TestUnprivilegedWithCapabilities(t *testing.T) {
	var caps []int
	for _, c := range []int{unix.CAP_BPF, unix.CAP_PERFMON, unix.CAP_DAC_READ_SEARCH, unix.CAP_SYS_RESOURCE} {
		// a sandbox may hold some out of reach: without
		// CAP_DAC_READ_SEARCH syscall mode takes the raw tracepoints
		if inBounding(c) {
			caps = append(caps, c)
		}
	}
	forModes(t, func(t *testing.T, mode string) {
		requireTracing(t, mode)
		dir := testDir(t)
		f := dir + "/by-nobody"
		caps := caps
		if mode != "fentry" && perfParanoid() > 2 {
			// Debian's level 3: perf events (kprobes, tracepoints)
			// for CAP_SYS_ADMIN only. Without it, the error says so,
			// unless the mode opens none here (syscall mode on the
			// raw tracepoints, before 5.15).
			status, _, stderr := asUser(t, caps, "-q", "--hook-mode", mode, "-e", "create", "--", "true")
			switch {
			case status == 0 && mode == "syscall":
			case status == 1 && strings.Contains(stderr, "missing CAP_SYS_ADMIN: kernel.perf_event_paranoid"):
				caps = append(caps, unix.CAP_SYS_ADMIN)
			default:
				t.Errorf("perf_event_paranoid %d without CAP_SYS_ADMIN: status %d, stderr %q", perfParanoid(), status, stderr)
			}
		}
		status, stdout, stderr := asUser(t, caps, "-o", "json", "-q", "--hook-mode", mode, "-e", "create", "--", "touch", f)
		if status != 0 {
			t.Fatalf("status %d, stderr:\n%s", status, stderr)
		}
		if want := `"path":"` + f + `"`; !strings.Contains(stdout, want) || !strings.Contains(stdout, `"uid":65534`) {
			t.Errorf("no create of %s by uid 65534 in:\n%s", f, stdout)
		}
	})
	t.Run("missing", func(t *testing.T) {
		requireTracing(t, "auto")
		status, _, stderr := asUser(t, []int{unix.CAP_BPF}, "-e", "create", "--", "true")
		if lines := strings.Split(strings.TrimSpace(stderr), "\n"); status != 1 || len(lines) != 1 || !strings.Contains(stderr, "CAP_PERFMON") {
			t.Errorf("status %d, stderr %q: want 1 and one line naming CAP_PERFMON", status, stderr)
		}
	})
}

// inBounding reports whether capability c is in this process's bounding
// set, so that a child can be given it.
func inBounding(c int) bool {
	r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
	return err == nil && r == 1
}

// perfParanoid is kernel.perf_event_paranoid (2, the upstream default,
// when unreadable).
func perfParanoid() int {
	b, _ := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		return n
	}
	return 2
}

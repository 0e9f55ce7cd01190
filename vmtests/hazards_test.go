package vmtests

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const cpu1Online = "/sys/devices/system/cpu/cpu1/online"

// setCPU1 takes CPU 1 offline or brings it back.
func setCPU1(on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	return os.WriteFile(cpu1Online, []byte(v), 0o644)
}

// onCPU1 creates the files from a thread bound to CPU 1: their records go
// to CPU 1's ring.
func onCPU1(t *testing.T, paths []string) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		var set unix.CPUSet
		set.Set(1)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			errc <- fmt.Errorf("bind to CPU 1: %w", err)
			return
		}
		for _, p := range paths {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// The seed's stranded messages: records waiting in the ring of a CPU that
// goes offline. fstrace is stopped (SIGSTOP) so that it cannot read them,
// creates are made on CPU 1, CPU 1 goes offline, fstrace resumes: every
// create arrives. CPU 1 comes back, and creates made on it arrive too.
func TestCPUOffline(t *testing.T) {
	if b, err := os.ReadFile(cpu1Online); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Skip("no CPU 1 online to take offline")
	}
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		w := dir + "/w"
		os.Mkdir(w, 0o777)
		s := startSystem(t, mode, dir+"/ready", "-e", "create", "--path", w)
		names := func(prefix string) []string {
			var out []string
			for i := 0; i < 100; i++ {
				out = append(out, fmt.Sprintf("%s/%s%02d", w, prefix, i))
			}
			return out
		}
		before, after := names("a"), names("b")
		s.cmd.Process.Signal(syscall.SIGSTOP)
		onCPU1(t, before)
		if err := setCPU1(false); err != nil {
			s.cmd.Process.Signal(syscall.SIGCONT)
			t.Skipf("cannot take CPU 1 offline here: %v", err)
		}
		defer setCPU1(true)
		s.cmd.Process.Signal(syscall.SIGCONT)
		time.Sleep(200 * time.Millisecond) // fstrace drains the offline CPU's ring
		if err := setCPU1(true); err != nil {
			t.Fatalf("bring CPU 1 back: %v", err)
		}
		onCPU1(t, after)
		time.Sleep(100 * time.Millisecond)
		s.cmd.Process.Signal(syscall.SIGTERM)
		status, evs := s.wait(t)
		if status != 0 {
			t.Fatalf("status %d; stderr:\n%s", status, s.errbuf.String())
		}
		want := strings.Join(append(before, after...), " ")
		var got []string
		for _, e := range evs {
			if e.str("event") == "create" {
				got = append(got, e.str("path"))
			}
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%d creates delivered, want all %d in order:\n%q", len(got), len(before)+len(after), got)
		}
	})
}

// Two fstrace processes at once (issue 11.5): each gets exactly the events
// its own filters ask for, none of the other's, and the second one's start
// and stop in the middle of the first one's run cost the first nothing. In
// the mode fstrace picks (fentry where the kernel has it: two tracers on
// one trampoline).
func TestTwoTracers(t *testing.T) {
	forOneMode(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		for _, d := range []string{"/a", "/b"} {
			if err := os.Mkdir(dir+d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		const n = 100
		create := func(sub, prefix string) {
			for i := 0; i < n; i++ {
				if err := os.WriteFile(fmt.Sprintf("%s/%s/%s%03d", dir, sub, prefix, i), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		a := startSystem(t, mode, dir+"/ready-a", "-e", "create", "--path", dir+"/a")
		create("a", "before")
		b := startSystem(t, mode, dir+"/ready-b", "-e", "create,unlink", "--path", dir+"/b")
		create("a", "during")
		create("b", "during")
		b.cmd.Process.Signal(syscall.SIGINT)
		bStatus, bEvs := b.wait(t)
		create("a", "after")
		a.cmd.Process.Signal(syscall.SIGINT)
		aStatus, aEvs := a.wait(t)

		check := func(name string, status int, evs []event, stderr string, want []string) {
			if status != 0 {
				t.Errorf("%s: status %d:\n%s", name, status, stderr)
			}
			if m := summaryRE.FindStringSubmatch(stderr); m == nil || m[2] != "0" {
				t.Errorf("%s: no summary, or events lost:\n%s", name, stderr)
			}
			got := kindPaths(evs, dir)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s: %d events, want %d:\n got %q\nwant %q", name, len(got), len(want), got, want)
			}
		}
		var wantA, wantB []string
		for _, p := range []string{"before", "during", "after"} {
			for i := 0; i < n; i++ {
				wantA = append(wantA, fmt.Sprintf("create:/a/%s%03d", p, i))
			}
		}
		for i := 0; i < n; i++ {
			wantB = append(wantB, fmt.Sprintf("create:/b/during%03d", i))
		}
		check("first fstrace (--path a)", aStatus, aEvs, a.errbuf.String(), wantA)
		check("second fstrace (--path b)", bStatus, bEvs, b.errbuf.String(), wantB)
	})
}

package vmtests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// --output-file under a real workload: 3000 creates written to files
// rotated at 16 KiB, the file moved away and SIGUSR1 sent halfway (as
// logrotate does), which opens a new PATH. Across every file, each create is there exactly once
// (or missing only within what fstrace says the kernel may have skipped),
// every line is whole JSON, no file is past the limit, and the lines add
// up to the summary's count; nothing goes to stdout.
func TestOutputFile(t *testing.T) {
	forOneMode(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		load, outDir := dir+"/load", dir+"/out"
		for _, d := range []string{load, outDir} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		const n, maxSize = 3000, 16 << 10
		path := outDir + "/events.jsonl"
		s := startSystem(t, mode, dir+"/ready", "-e", "create", "--path", load,
			"--output-file", path, "--output-file-max-size", strconv.Itoa(maxSize), "--output-file-count", "1000")
		for i := 0; i < n; i++ {
			if i == n/2 {
				if err := os.Rename(path, outDir+"/moved"); err != nil {
					t.Fatal(err)
				}
				s.cmd.Process.Signal(syscall.SIGUSR1)
				// No event comes meanwhile, so no rotation: a new
				// PATH is the reopen's.
				waitFile(t, path)
			}
			if err := os.WriteFile(fmt.Sprintf("%s/f%d", load, i), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s.cmd.Process.Signal(syscall.SIGINT)
		status, stdout := s.wait(t)
		if status != 0 {
			t.Fatalf("status %d, want 0; stderr:\n%s", status, s.errbuf.String())
		}
		if len(stdout) != 0 {
			t.Errorf("%d events on stdout with --output-file", len(stdout))
		}
		m := summaryRE.FindStringSubmatch(s.errbuf.String())
		if m == nil {
			t.Fatalf("no summary:\n%s", s.errbuf.String())
		}
		delivered, _ := strconv.Atoi(m[1])

		seen := map[string]int{}
		lines := 0
		ents, err := os.ReadDir(outDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(outDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > maxSize && e.Name() != "moved" {
				t.Errorf("%s: %d bytes, past --output-file-max-size %d", e.Name(), len(b), maxSize)
			}
			if len(b) > 0 && b[len(b)-1] != '\n' {
				t.Errorf("%s ends inside a line", e.Name())
			}
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				var ev event
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("%s: not JSON: %q", e.Name(), sc.Text())
				}
				lines++
				seen[ev.str("path")]++
			}
		}
		if _, err := os.Stat(outDir + "/moved"); err != nil {
			t.Errorf("the moved file: %v", err)
		}
		if lines != delivered {
			t.Errorf("%d lines in the files, the summary says %d events delivered", lines, delivered)
		}
		var missing []string
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("%s/f%d", load, i)
			switch seen[p] {
			case 0:
				missing = append(missing, filepath.Base(p))
			case 1:
			default:
				t.Errorf("%s: %d events, want one", filepath.Base(p), seen[p])
			}
		}
		if len(missing) > 0 {
			if bound := reportedMissing(s.errbuf.String()); len(missing) > bound {
				t.Errorf("creates not in any file, unreported: %v; stderr:\n%s", missing, s.errbuf.String())
			} else {
				t.Logf("%d creates not delivered, within the %d fstrace reported may be missing", len(missing), bound)
			}
		}
		t.Logf("%d events in %d files", lines, len(ents))
	})
}

// A write that fails while tracing (a full file system) is one line on
// stderr and ends tracing with the summary and status 1.
func TestOutputFileFull(t *testing.T) {
	forOneMode(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		load, mnt := dir+"/load", dir+"/mnt"
		for _, d := range []string{load, mnt} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := unix.Mount("fstrace-full", mnt, "tmpfs", 0, "size=64k"); err != nil {
			t.Fatalf("mount a small tmpfs: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
		s := startSystem(t, mode, dir+"/ready", "-e", "create", "--path", load,
			"--output-file", mnt+"/events.jsonl", "--output-file-max-size", "0")
		// The creates go on until fstrace has stopped: its buffer and
		// then the 64 KiB fill long before.
		stop := keepCreating(load, "f", 0)
		line := s.waitLine(t, "write output")
		status, _ := s.wait(t)
		stop()
		if !strings.Contains(line, "no space left on device") {
			t.Errorf("error line %q, want ENOSPC", line)
		}
		if status != 1 {
			t.Errorf("status %d, want 1; stderr:\n%s", status, s.errbuf.String())
		}
		if c := strings.Count(s.errbuf.String(), "write output"); c != 1 {
			t.Errorf("%d write errors reported, want one:\n%s", c, s.errbuf.String())
		}
		if !summaryRE.MatchString(s.errbuf.String()) {
			t.Errorf("no summary:\n%s", s.errbuf.String())
		}
	})
}

// Without --output-file, SIGUSR1 does nothing: fstrace traces on (it is no
// death with nothing flushed, the signal's default).
func TestSigusr1WithoutOutputFile(t *testing.T) {
	forOneMode(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		os.Mkdir(dir+"/w", 0o777)
		s := startSystem(t, mode, dir+"/ready", "-e", "create", "--path", dir+"/w")
		if err := os.WriteFile(dir+"/w/before", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		s.cmd.Process.Signal(syscall.SIGUSR1)
		if err := os.WriteFile(dir+"/w/after", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		s.cmd.Process.Signal(syscall.SIGINT)
		status, evs := s.wait(t)
		if got := kindPaths(evs, dir); status != 0 || strings.Join(got, " ") != "create:/w/before create:/w/after" {
			t.Errorf("status %d, events %q, want 0 and both creates; stderr:\n%s", status, got, s.errbuf.String())
		}
	})
}

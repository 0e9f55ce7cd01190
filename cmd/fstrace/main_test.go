package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/tracer"
)

// Bad input: one line on stderr (plus the hint), exit status 2, nothing
// loaded.
func TestBadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-e", "opne"}, `unknown event kind "opne"`},
		{[]string{"-e", ""}, `unknown event kind ""`},
		{[]string{"-o", "yaml"}, `invalid --output "yaml"`},
		{[]string{"-n", "0"}, `invalid --count "0"`},
		{[]string{"-n", ""}, `invalid --count ""`},
		{[]string{"--duration="}, `invalid --duration ""`},
		{[]string{"--count", "ten"}, `invalid --count "ten"`},
		{[]string{"-d", "soon"}, `invalid --duration "soon"`},
		{[]string{"-d", "-5s"}, `invalid --duration "-5s"`},
		{[]string{"--ring-size", "3M"}, `invalid --ring-size "3M"`},
		{[]string{"--hook-mode", "ebpf"}, `invalid --hook-mode "ebpf"`},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"--"}, "no command after --"},
		{[]string{"-e", "close:each"}, `unknown event kind "close:each"`},
		{[]string{"probe", "-o", "xml"}, `invalid --output "xml"`},
		{[]string{"--pid", "abc"}, `invalid --pid: "abc" is not a process id`},
		{[]string{"--pid", "1,,2"}, `invalid --pid: "" is not a process id`},
		{[]string{"--uid", "no-such-user-xyz"}, `invalid --uid: "no-such-user-xyz": no such user`},
		{[]string{"--gid", "no-such-group-xyz"}, `invalid --gid: "no-such-group-xyz": no such group`},
		{[]string{"--path", ""}, "invalid --path: empty path"},
		{[]string{"--comm", "a-very-long-process-name"}, `invalid --comm: comm "a-very-long-process-name"`},
		{[]string{"--cgroup", "/no/such/cgroup"}, "invalid --cgroup"},
		{[]string{"--filter-file", "/no/such/file"}, "invalid --filter-file"},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(tc.args, &stdout, &stderr); got != exitUsage {
			t.Errorf("fstrace %q: exit %d, want %d", tc.args, got, exitUsage)
		}
		first, _, _ := strings.Cut(stderr.String(), "\n")
		if !strings.HasPrefix(first, "fstrace: ") || !strings.Contains(first, tc.want) {
			t.Errorf("fstrace %q: stderr %q, want a line with %q", tc.args, stderr.String(), tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("fstrace %q wrote to stdout: %q", tc.args, stdout.String())
		}
	}
}

func TestParseArgs(t *testing.T) {
	cfg, err := parseArgs([]string{"-o", "json", "--events", "open, unlink", "-n", "5", "-d", "1.5", "--ring-size", "4M", "--", "ls", "-l", "--", "x"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.output != "json" || cfg.kinds != events.MaskOf(events.KindOpen, events.KindUnlink) ||
		cfg.count != 5 || cfg.duration != 1500*time.Millisecond || cfg.ringSize != 4<<20 {
		t.Errorf("parsed %+v", cfg)
	}
	if strings.Join(cfg.command, " ") != "ls -l -- x" {
		t.Errorf("command %q", cfg.command)
	}
	cfg, err = parseArgs([]string{"-e", "all"}, &bytes.Buffer{})
	if err != nil || cfg.kinds != tracer.SupportedKinds {
		t.Errorf("-e all: %v, %v", cfg, err)
	}
}

func TestCommandNotFound(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if got := run([]string{"--", "/nonexistent/command"}, &stdout, &stderr); got != exitNotFound {
		t.Errorf("exit %d, want %d; stderr %q", got, exitNotFound, stderr.String())
	}
	if !strings.Contains(stderr.String(), "command not found") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestFilterFlags(t *testing.T) {
	cfg, err := parseArgs([]string{"--pid", "1,2", "--pid", "3", "--uid", "root", "--gid", "0",
		"--comm", "cat", "--exclude-comm", "sshd", "--path", "/etc/", "--exclude-path", "/etc/ssl", "--failed"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.filter
	if len(f.PID) != 3 || f.PID[2].Value != 3 || len(f.UID) != 1 || f.UID[0].Value != 0 || !f.Failed {
		t.Errorf("filter %+v", f)
	}
	if len(f.Comm) != 2 || f.Comm[1].Value != "sshd" || !f.Comm[1].Exclude {
		t.Errorf("comm rules %+v", f.Comm)
	}
	if len(f.Path) != 2 || f.Path[0].Value != "/etc" || !f.Path[1].Exclude {
		t.Errorf("path rules %+v", f.Path)
	}
}

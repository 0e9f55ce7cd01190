package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/tracer"
)

// Bad input: one line on stderr, exit status 2, nothing loaded.
func TestBadUsage(t *testing.T) {
	dir := t.TempDir()
	readFile := filepath.Join(dir, "read.yaml")
	if err := os.WriteFile(readFile, []byte("events: [open, read]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unknown flag -bogus (fstrace --help lists them)"},
		{[]string{"-e", "bogus"}, `unknown event kind "bogus" (valid: open, create, mkdir, mknod, symlink, link, unlink, rmdir, rename, setattr, mount, umount, read, write, close, xattr, read:each, write:each, all)`},
		{[]string{"--ring-size", "1K"}, `invalid --ring-size "1K" (want at least the page size, 4096 bytes)`},
		{[]string{"--ring-size", "3000"}, `invalid --ring-size "3000" (want a power of two`},
		{[]string{"--ring-size", "2048"}, `invalid --ring-size "2048" (want at least the page size`},
		{[]string{"--failed", "--succeeded"}, "--failed and --succeeded exclude each other"},
		{[]string{"--path", "/etc/*.conf"}, `invalid --path: "/etc/*.conf" is a glob: --path takes a directory or file (and all below it); use --path-glob '/etc/*.conf'`},
		{[]string{"--exclude-path", "/tmp/x?"}, `invalid --exclude-path: "/tmp/x?" is a glob`},
		{[]string{"--path", "/a[b]"}, "use --path-glob '/a[b]'"},
		{[]string{"--path-glob", "[a"}, `invalid --path-glob "[a": syntax error in pattern`},
		{[]string{"--path-glob", ""}, `invalid --path-glob "": empty pattern`},
		{[]string{"--time", "iso"}, `invalid --time "iso" (want local, utc, relative or none)`},
		{[]string{"-t", "--time", "utc"}, "-t and --time=utc disagree"},
		{[]string{"--color", "yes"}, `invalid --color "yes" (want auto, always or never)`},
		{[]string{"--ready-file", ""}, "invalid --ready-file: empty path"},
		{[]string{"--pid-tree", "x"}, `invalid --pid-tree "x" (want a process id)`},
		{[]string{"--pid-tree", "0"}, `invalid --pid-tree "0" (want a process id)`},
		{[]string{"--pid-tree", "1", "--", "true"}, "--pid-tree and -- COMMAND do not go together"},
		{[]string{"-e", "open,create", "--filter-file", readFile}, "events: read not traced (-e gives open,create; the file may only narrow it)"},
		{[]string{"-e", "open,mount", "--changes"}, "--changes leaves none of open,mount"},
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
		{[]string{"probe", "--bogus"}, `probe: unexpected argument "--bogus" (fstrace probe --help)`},
		{[]string{"probe", "-o"}, "-o needs a value"},
		{[]string{"--pid", "abc"}, `invalid --pid: "abc" is not a process id`},
		{[]string{"--pid", "1,,2"}, `invalid --pid: "" is not a process id`},
		{[]string{"--uid", "no-such-user-xyz"}, `invalid --uid: "no-such-user-xyz": no such user`},
		{[]string{"--gid", "no-such-group-xyz"}, `invalid --gid: "no-such-group-xyz": no such group`},
		{[]string{"--path", ""}, "invalid --path: empty path"},
		{[]string{"--comm", "a-very-long-process-name"}, `invalid --comm: comm "a-very-long-process-name"`},
		{[]string{"--cgroup", "/no/such/cgroup"}, "invalid --cgroup"},
		{[]string{"--filter-file", "/no/such/file"}, "invalid --filter-file"},
		{[]string{"--output-file", "/no/such/dir/ev"}, "--output-file: open /no/such/dir/ev: no such file or directory"},
		{[]string{"--output-file", dir}, "is a directory"},
		{[]string{"--output-file", "/dev/null"}, "--output-file: open /dev/null: not a regular file"},
		{[]string{"--output-file", ""}, "invalid --output-file: empty path"},
		{[]string{"-o", "none", "--output-file", dir + "/ev"}, "--output-file and -o none do not go together"},
		{[]string{"--output-file-max-size", "1M"}, "--output-file-max-size needs --output-file"},
		{[]string{"--output-file-count", "2"}, "--output-file-count needs --output-file"},
		{[]string{"--output-file", dir + "/ev", "--output-file-max-size", "1T"}, `invalid --output-file-max-size "1T" (want bytes, or a K, M or G suffix`},
		{[]string{"--output-file", dir + "/ev", "--output-file-max-size", "-1"}, `invalid --output-file-max-size "-1"`},
		{[]string{"--output-file", dir + "/ev", "--output-file-count", "-1"}, `invalid --output-file-count "-1" (want a whole number from 0 to 1000)`},
		{[]string{"--output-file", dir + "/ev", "--output-file-count", "x"}, `invalid --output-file-count "x"`},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(tc.args, &stdout, &stderr); got != exitUsage {
			t.Errorf("fstrace %q: exit %d, want %d", tc.args, got, exitUsage)
		}
		first, rest, _ := strings.Cut(stderr.String(), "\n")
		if !strings.HasPrefix(first, "fstrace: ") || !strings.Contains(first, tc.want) || rest != "" {
			t.Errorf("fstrace %q: stderr %q, want one line with %q", tc.args, stderr.String(), tc.want)
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
	if cfg.outputFile != "" || cfg.outputMax != 0 || cfg.outputKeep != 0 {
		t.Errorf("no --output-file: %q max %d keep %d", cfg.outputFile, cfg.outputMax, cfg.outputKeep)
	}
}

// --output-file's rotation: 100M and 5 files by default; sizes with
// suffixes; 0 for no rotation or no file kept.
func TestOutputFileFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		max  int64
		keep int
	}{
		{nil, 100 << 20, 5},
		{[]string{"--output-file-max-size", "1G"}, 1 << 30, 5},
		{[]string{"--output-file-max-size=100M", "--output-file-count=3"}, 100 << 20, 3},
		{[]string{"--output-file-max-size", "64KiB"}, 64 << 10, 5},
		{[]string{"--output-file-max-size", "4096", "--output-file-count", "0"}, 4096, 0},
		{[]string{"--output-file-max-size", "0"}, 0, 5},
	} {
		cfg, err := parseArgs(append([]string{"-o", "json", "--output-file", "/var/log/ev.jsonl"}, tc.args...), &bytes.Buffer{})
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if cfg.outputFile != "/var/log/ev.jsonl" || cfg.outputMax != tc.max || cfg.outputKeep != tc.keep {
			t.Errorf("%q: %q max %d keep %d, want max %d keep %d", tc.args, cfg.outputFile, cfg.outputMax, cfg.outputKeep, tc.max, tc.keep)
		}
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

// TestReportToFullDisk: what the user asked to read, written to a stdout
// that fails (/dev/full), is an error, as in coreutils: status 1 and one
// line on stderr, not a silent 0.
func TestReportToFullDisk(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	for _, args := range [][]string{{"--help"}, {"--version"}, {"probe", "--help"}} {
		var stderr bytes.Buffer
		if got := run(args, full, &stderr); got != exitFailure {
			t.Errorf("%q to /dev/full: exit %d, want %d", args, got, exitFailure)
		}
		if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "no space left on device") {
			t.Errorf("%q to /dev/full: stderr %q, want one line naming the error", args, msg)
		}
	}
}

func TestHelpListsKinds(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if got := run([]string{"--help"}, &stdout, &stderr); got != exitOK {
		t.Fatalf("--help: exit %d", got)
	}
	for _, w := range strings.Split(eventWords, ", ") {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("--help does not list %q", w)
		}
	}
	for _, f := range []string{"--kill", "--ready-file", "--time", "--color", "--succeeded", "--changes", "--path-glob", "SIGHUP",
		"--output-file", "--output-file-max-size", "--output-file-count", "SIGUSR1"} {
		if !strings.Contains(stdout.String(), f) {
			t.Errorf("--help does not mention %s", f)
		}
	}
}

func TestParseEvents(t *testing.T) {
	cfg, err := parseArgs([]string{"-e", "open,read:each,write"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if want := events.MaskOf(events.KindOpen, events.KindRead, events.KindWrite); cfg.kinds != want || cfg.traceKinds() != want {
		t.Errorf("kinds %s, want %s", cfg.kinds, want)
	}
	if cfg.eachCall != events.MaskOf(events.KindRead) {
		t.Errorf("each call %s", cfg.eachCall)
	}
}

// The kinds traced: -e, else the filter file's events:, else the default;
// --changes narrows them, and alone is every kind that modifies.
func TestTraceKinds(t *testing.T) {
	dir := t.TempDir()
	ff := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(ff, []byte("events: [read, close, unlink]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := events.MaskOf
	for _, tc := range []struct {
		args []string
		want events.KindMask
	}{
		{nil, tracer.DefaultKinds},
		{[]string{"-e", "open"}, m(events.KindOpen)},
		{[]string{"--filter-file", ff}, m(events.KindRead, events.KindClose, events.KindUnlink)},
		{[]string{"-e", "all", "--filter-file", ff}, tracer.SupportedKinds},
		{[]string{"--changes"}, changeKinds},
		{[]string{"--changes", "-e", "open,unlink,write"}, m(events.KindUnlink, events.KindWrite)},
		{[]string{"--changes", "--filter-file", ff}, m(events.KindClose, events.KindUnlink)},
	} {
		cfg, err := parseArgs(tc.args, &bytes.Buffer{})
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if got := cfg.traceKinds(); got != tc.want {
			t.Errorf("%q: traces %s, want %s", tc.args, got, tc.want)
		}
		// cp -a's ACLs show with no -e, and --changes keeps them.
		if (tc.args == nil || len(tc.args) == 1 && tc.args[0] == "--changes") && !cfg.traceKinds().Has(events.KindXattr) {
			t.Errorf("%q: xattr not traced", tc.args)
		}
	}
}

func TestPostFilter(t *testing.T) {
	ev := func(k events.Kind, p, np string, ret int32, ofw bool) *events.Event {
		return &events.Event{Kind: k, Path: p, NewPath: np, Ret: ret, OpenedForWrite: ofw}
	}
	for _, tc := range []struct {
		p    postFilter
		ev   *events.Event
		want bool
	}{
		{postFilter{succeeded: true}, ev(events.KindOpen, "/a", "", 3, false), true},
		{postFilter{succeeded: true}, ev(events.KindOpen, "/a", "", -2, false), false},
		{postFilter{changes: true}, ev(events.KindClose, "/a", "", 0, true), true},
		{postFilter{changes: true}, ev(events.KindClose, "/a", "", 0, false), false},
		{postFilter{changes: true}, ev(events.KindUnlink, "/a", "", 0, false), true},
		{postFilter{globs: []string{"*.conf"}}, ev(events.KindOpen, "/etc/x/nginx.conf", "", 0, false), true},
		{postFilter{globs: []string{"*.conf"}}, ev(events.KindOpen, "/etc/x.conf/y", "", 0, false), false},
		{postFilter{globs: []string{"/etc/*.conf"}}, ev(events.KindOpen, "/etc/a.conf", "", 0, false), true},
		{postFilter{globs: []string{"/etc/*.conf"}}, ev(events.KindOpen, "/etc/x/a.conf", "", 0, false), false},
		{postFilter{globs: []string{"*.txt", "*.conf"}}, ev(events.KindOpen, "/a.conf", "", 0, false), true},
		{postFilter{globs: []string{"*.conf"}}, ev(events.KindRename, "/tmp/x", "/etc/y.conf", 0, false), true},
		{postFilter{globs: []string{"*.conf"}}, ev(events.KindSymlink, "/tmp/x", "", 0, false), false},
		{postFilter{globs: []string{"f?[0-9]"}}, ev(events.KindCreate, "/d/fa7", "", 0, false), true},
		{postFilter{succeeded: true, globs: []string{"*.c"}}, ev(events.KindCreate, "/d/a.c", "", -13, false), false},
		// a container's: its host paths count too
		{postFilter{globs: []string{"/srv/c/*"}}, hostEv(events.KindCreate, "/x", "", "/srv/c/x", ""), true},
		{postFilter{globs: []string{"/srv/c/*"}}, hostEv(events.KindRename, "/x", "/y", "/a/x", "/srv/c/y"), true},
		{postFilter{globs: []string{"/srv/c/*"}}, hostEv(events.KindCreate, "/x", "", "/a/x", ""), false},
	} {
		if got := tc.p.keep(tc.ev); got != tc.want {
			t.Errorf("%+v keeps %s %q -> %q ret %d: %v, want %v", tc.p, tc.ev.Kind, tc.ev.Path, tc.ev.NewPath, tc.ev.Ret, got, tc.want)
		}
	}
}

// hostEv is an event of a process in a container.
func hostEv(k events.Kind, p, np, hp, hnp string) *events.Event {
	return &events.Event{Kind: k, Path: p, NewPath: np, HostPath: hp, HostNewPath: hnp}
}

func TestPlural(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 events", 1: "1 event", 2: "2 events"} {
		if got := plural(n, "event"); got != want {
			t.Errorf("plural(%d) = %q", n, got)
		}
	}
}

// --color: auto is on for a terminal only, and off under NO_COLOR.
func TestUseColor(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct {
		when, noColor string
		w             io.Writer
		want          bool
	}{
		{"auto", "", tty, true},
		{"auto", "1", tty, false},
		{"auto", "", pw, false},
		{"auto", "", &bytes.Buffer{}, false},
		{"never", "", tty, false},
		{"always", "", pw, true},
		{"always", "1", pw, true}, // a flag overrides NO_COLOR
	} {
		if got := useColor(tc.when, tc.w, env(tc.noColor)); got != tc.want {
			t.Errorf("--color=%s NO_COLOR=%q on %T: %v, want %v", tc.when, tc.noColor, tc.w, got, tc.want)
		}
	}
}

func TestTimeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want events.TimeStyle
	}{
		{nil, events.TimeLocal},
		{[]string{"-t"}, events.TimeLocal},
		{[]string{"-t", "--time=local"}, events.TimeLocal},
		{[]string{"--time", "utc"}, events.TimeUTC},
		{[]string{"--time=relative"}, events.TimeRelative},
		{[]string{"--time=none"}, events.TimeNone},
	} {
		cfg, err := parseArgs(tc.args, &bytes.Buffer{})
		if err != nil || cfg.timeStyle != tc.want {
			t.Errorf("%q: %v, %v; want style %d", tc.args, cfg, err, tc.want)
		}
	}
}

// Any command line is either a configuration or one line of error; nothing
// panics. Arguments are split at NUL bytes.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"", "-e\x00create,unlink", "-p\x001\x00-u\x00root", "--pid-tree\x00x", "-o\x00json\x00--time\x00utc",
		"--ring-size\x004k", "-n\x00-1", "-d\x001x", "--path\x00/tmp\x00--exclude-path\x00/tmp/x", "--\x00true",
		"-e\x00read:each,write", "--on-loss=exit", "--color=always", "--hook-mode\x00nope",
		"--output-file\x00/x/ev\x00--output-file-max-size\x00100M\x00--output-file-count\x003", "--output-file-max-size=1g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var args []string
		if s != "" {
			args = strings.Split(s, "\x00")
		}
		_, err := parseArgs(args, io.Discard)
		if err != nil && strings.Contains(strings.TrimRight(err.Error(), "\n"), "\n") {
			t.Fatalf("error of more than one line: %q", err)
		}
	})
}

package vmtests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/internal/testutil"
)

func init() {
	// In a helper, keep the main goroutine on the main thread (the thread
	// group leader), so that helpers can tell the two apart.
	if os.Getenv("FSTRACE_HELPER") != "" {
		runtime.LockOSThread()
	}
}

// The test binary doubles as the traced workload: with FSTRACE_HELPER set it
// runs one scenario from helpers and exits.
func TestMain(m *testing.M) {
	if name := os.Getenv("FSTRACE_HELPER"); name != "" {
		os.Exit(runHelper(name))
	}
	code := m.Run()
	unmountCgroup2()
	os.Exit(code)
}

type event map[string]any

func (e event) str(k string) string {
	s, _ := e[k].(string)
	return s
}

func (e event) num(k string) int64 {
	f, ok := e[k].(float64)
	if !ok {
		return -1 << 62
	}
	return int64(f)
}

type traced struct {
	events []event
	pid    int // the helper's pid and the tid it did its work on
	tid    int
	ppid   int // fstrace's pid: the helper is its child
	stderr string
	status int
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// fstraceBin returns the fstrace binary: $FSTRACE_BIN, or one built from
// this tree.
func fstraceBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FSTRACE_BIN"); p != "" {
		return p
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fstrace-bin")
		if err != nil {
			binErr = err
			return
		}
		// Other users run it too (caps_test.go).
		if err := os.Chmod(dir, 0o755); err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "fstrace")
		build := exec.Command("go", "build", "-o", binPath, "../cmd/fstrace")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("build fstrace: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	supportMu  sync.Mutex
	supportMsg = map[string]*string{}
)

// requireTracing skips (or, with FSTRACE_REQUIRE=1, fails) when fstrace
// cannot trace here in mode.
func requireTracing(t *testing.T, mode string) {
	t.Helper()
	testutil.NeedRoot(t, "to load BPF programs")
	bin := fstraceBin(t)
	supportMu.Lock()
	msg, ok := supportMsg[mode]
	if !ok {
		msg = new(string)
		out, err := exec.Command(bin, "-q", "-o", "none", "-e", "open", "--hook-mode", mode, "--", "true").CombinedOutput()
		if err != nil {
			*msg = fmt.Sprintf("fstrace cannot trace in %s mode on this kernel: %s", mode, bytes.TrimSpace(out))
		}
		supportMsg[mode] = msg
	}
	supportMu.Unlock()
	if *msg != "" {
		testutil.Skip(t, "%s", *msg)
	}
}

// hookModes are the modes each test runs in: $FSTRACE_MODES (e.g. "fentry
// kprobe syscall"), or just the one fstrace picks by itself.
func hookModes() []string {
	if m := strings.Fields(os.Getenv("FSTRACE_MODES")); len(m) > 0 {
		return m
	}
	return []string{"auto"}
}

// forModes runs f as a subtest in every hook mode.
func forModes(t *testing.T, f func(t *testing.T, mode string)) {
	for _, m := range hookModes() {
		t.Run(m, func(t *testing.T) { f(t, m) })
	}
}

// forOneMode runs f as one subtest, for a test of fstrace's own behaviour
// (its command line, output, lifetime, exporter) rather than of the kernel
// hooks, which the tests that use forModes cover in every mode: in the mode
// fstrace picks by itself, as users get it, or in the one mode
// $FSTRACE_MODES names. A start costs seconds in an emulated guest.
func forOneMode(t *testing.T, f func(t *testing.T, mode string)) {
	m := "auto"
	if ms := hookModes(); len(ms) == 1 {
		m = ms[0]
	}
	t.Run(m, func(t *testing.T) { f(t, m) })
}

// trace runs `fstrace -o json --hook-mode MODE [flags] -- <this binary as
// helper name>` and collects the events.
func trace(t *testing.T, mode, dir, helper string, flags ...string) traced {
	t.Helper()
	return startTrace(t, mode, dir, helper, flags...).wait(t)
}

// running is a started trace.
type running struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	info           string
}

func startTrace(t *testing.T, mode, dir, helper string, flags ...string) *running {
	t.Helper()
	requireTracing(t, mode)
	r := &running{info: filepath.Join(dir, ".helper-info")}
	args := append([]string{"-o", "json", "--hook-mode", mode}, flags...)
	args = append(args, "--", os.Args[0], "-test.run=^$")
	r.cmd = exec.Command(fstraceBin(t), args...)
	r.cmd.Env = append(os.Environ(), "FSTRACE_HELPER="+helper, "FSTRACE_DIR="+dir, "FSTRACE_INFO="+r.info)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("run fstrace: %v", err)
	}
	return r
}

func (r *running) wait(t *testing.T) traced {
	t.Helper()
	status := exitStatus(t, r.cmd.Wait())
	res := traced{stderr: r.stderr.String(), ppid: r.cmd.Process.Pid, status: status}
	sc := bufio.NewScanner(&r.stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("output line is not JSON: %v: %q", err, sc.Text())
		}
		// Nothing fstrace or its launcher did may show (the launcher
		// was once armed before its own exec was over).
		if strings.HasPrefix(ev.str("comm"), "fstrace") {
			t.Errorf("event of fstrace itself: %s", sc.Text())
		}
		res.events = append(res.events, ev)
	}
	if b, err := os.ReadFile(r.info); err == nil {
		fmt.Sscan(string(b), &res.pid, &res.tid)
	}
	if res.status != 0 {
		t.Logf("fstrace exited %d; stderr:\n%s", res.status, res.stderr)
	}
	return res
}

// waitFile waits for a file a helper creates to say where it is.
func waitFile(t *testing.T, p string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", p)
		}
	}
}

// awaitFile is waitFile for helpers, which return errors.
func awaitFile(p string) error {
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", p)
		}
	}
}

// find returns the events of kind whose path is path.
func (r traced) find(kind, path string) []event {
	var out []event
	for _, e := range r.events {
		if e.str("event") == kind && e.str("path") == path {
			out = append(out, e)
		}
	}
	return out
}

// one asserts there is exactly one such event, done by the helper's
// working thread, and returns it.
func (r traced) one(t *testing.T, kind, path string) event {
	t.Helper()
	evs := r.find(kind, path)
	if len(evs) != 1 {
		t.Fatalf("want one %s event for %q, got %d; all events:\n%s", kind, path, len(evs), r.dump())
	}
	e := evs[0]
	if r.pid != 0 && (e.num("pid") != int64(r.pid) || e.num("tid") != int64(r.tid)) {
		t.Errorf("%s %q: pid/tid %d/%d, want %d/%d", kind, path, e.num("pid"), e.num("tid"), r.pid, r.tid)
	}
	return e
}

func (r traced) dump() string {
	var b strings.Builder
	for _, e := range r.events {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// expect checks fields of an event against want (numbers as int64 or int).
func expect(t *testing.T, e event, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := e[k]
		switch w := w.(type) {
		case nil:
			if ok {
				t.Errorf("%s %q: field %q = %v, want it absent", e.str("event"), e.str("path"), k, got)
			}
			continue
		case int:
			if e.num(k) != int64(w) {
				t.Errorf("%s %q: %s = %v, want %d", e.str("event"), e.str("path"), k, got, w)
			}
			continue
		case map[string]any:
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(w)
			if !bytes.Equal(gj, wj) {
				t.Errorf("%s %q: %s = %s, want %s", e.str("event"), e.str("path"), k, gj, wj)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(w) || !ok {
			t.Errorf("%s %q: %s = %v, want %v", e.str("event"), e.str("path"), k, got, w)
		}
	}
}

// common checks the fields every event of the helper carries.
func (r traced) common(t *testing.T, e event, uid, gid int) {
	t.Helper()
	comm := filepath.Base(os.Args[0])
	comm = comm[:min(15, len(comm))]
	expect(t, e, map[string]any{"uid": uid, "gid": gid, "comm": comm, "ppid": r.ppid})
	if e.num("seq") <= 0 || e.str("time") == "" || e.num("cgroup_id") < 0 {
		t.Errorf("bad seq/time/cgroup_id in %v", e)
	}
}

func statIno(t *testing.T, path string) (uint64, uint64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino, st.Dev
}

// --- the helper side ---

type helperEnv struct {
	dir string
}

var helpers = map[string]func(h helperEnv) error{}

func runHelper(name string) int {
	fn, ok := helpers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
		return 3
	}
	// One OS thread does all the work, so the tid is known.
	runtime.LockOSThread()
	info := strconv.Itoa(os.Getpid()) + " " + strconv.Itoa(unix.Gettid())
	if err := os.WriteFile(os.Getenv("FSTRACE_INFO"), []byte(info), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := fn(helperEnv{dir: os.Getenv("FSTRACE_DIR")}); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
		return 4
	}
	return 0
}

var (
	probeOnce sync.Once
	probeOut  []byte
	probeErr  error
)

// probeReport is `fstrace probe -o json`'s output, run once: it loads
// every program in every mode, tens of seconds in an emulated guest.
func probeReport(t *testing.T) []byte {
	t.Helper()
	bin := fstraceBin(t)
	probeOnce.Do(func() { probeOut, probeErr = exec.Command(bin, "probe", "-o", "json").Output() })
	if probeErr != nil {
		t.Fatalf("fstrace probe: %v: %s", probeErr, probeOut)
	}
	return probeOut
}

// actualMode resolves "auto" to the mode fstrace picks here, by asking
// `fstrace probe`.
func actualMode(t *testing.T, mode string) string {
	t.Helper()
	if mode != "auto" {
		return mode
	}
	var r struct{ Mode string }
	if json.Unmarshal(probeReport(t), &r) != nil || r.Mode == "" {
		t.Fatal("fstrace probe did not name a mode")
	}
	return r.Mode
}

// exitStatus is the exit status a finished command's error stands for; any
// other error (it could not run) fails the test.
func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run: %v", err)
	}
	return 0
}

// keepCreating creates dir/PREFIXn for n = 0, 1, ... with pause between
// two creates, until the stop it returns is called. stop waits for the
// last create: a TempDir cleanup after it never meets a late one.
func keepCreating(dir, prefix string, pause time.Duration) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			os.WriteFile(fmt.Sprintf("%s/%s%d", dir, prefix, i), nil, 0o644)
			if pause > 0 {
				time.Sleep(pause)
			}
		}
	}()
	return func() { close(quit); <-done }
}

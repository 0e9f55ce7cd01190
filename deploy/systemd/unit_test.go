// The systemd unit is checked as systemd reads it (systemd-analyze verify),
// scored (systemd-analyze security), and its command line run as the unit
// runs it: a user that is not root, with the unit's capabilities only.
package systemd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fstrace/fstrace/internal/testutil"
	"github.com/fstrace/fstrace/pkg/filters"
)

// maxExposure is the `systemd-analyze security` score the unit must stay
// within (lower is better; 1.6 when it was written, systemd 252).
const maxExposure = 2.0

// unit returns the unit file's text.
func unit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("fstrace.service")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setting returns the value of a [Service] setting, its continuation
// lines joined.
func setting(t *testing.T, text, key string) string {
	t.Helper()
	joined := strings.ReplaceAll(text, "\\\n", " ")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `=(.*)$`).FindStringSubmatch(joined)
	if m == nil {
		t.Fatalf("no %s= in the unit", key)
	}
	return strings.Join(strings.Fields(m[1]), " ")
}

// tempDir is a directory any user can reach (t.TempDir's parent is
// root's alone).
func tempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "fstrace-unit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// build returns $FSTRACE_BIN, or fstrace built from this tree once, in a
// directory any user can reach.
func build(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FSTRACE_BIN"); p != "" {
		return p
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "fstrace-bin"); binErr != nil {
			return
		}
		if binErr = os.Chmod(binDir, 0o755); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "fstrace")
		cmd := exec.Command("go", "build", "-o", binPath, "../../cmd/fstrace")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build fstrace: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// installed is the unit as systemd would read it here: ExecStart pointing
// to bin (verify checks that the binary exists).
func installed(t *testing.T, dir, bin string) string {
	t.Helper()
	const exec = "ExecStart=/usr/local/bin/fstrace "
	text := unit(t)
	if strings.Count(text, exec) != 1 {
		t.Fatalf("the unit should have one %q line", exec)
	}
	p := filepath.Join(dir, "fstrace.service")
	if err := os.WriteFile(p, []byte(strings.Replace(text, exec, "ExecStart="+bin+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testutil.Skip(t, "systemd-analyze is not installed (apt-get install systemd): the unit cannot be checked here")
	}
	return p
}

// systemd-analyze verify: no error and no warning.
func TestUnitVerifies(t *testing.T) {
	sa := systemdAnalyze(t)
	dir := tempDir(t)
	p := installed(t, dir, build(t))
	out, err := exec.Command(sa, "verify", p).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for fstrace\.service: (\d+\.\d+)`)

// systemd-analyze security: the exposure score, logged, within maxExposure.
func TestUnitSecurity(t *testing.T) {
	sa := systemdAnalyze(t)
	dir := tempDir(t)
	p := installed(t, dir, build(t))
	out, err := exec.Command(sa, "security", "--no-pager", "--offline=true", p).CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("offline")) && !exposureRE.Match(out) {
		testutil.Skip(t, "this systemd-analyze cannot score a unit file that is not loaded (--offline needs systemd 250): %s", bytes.TrimSpace(out))
	}
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: %v, no overall exposure level:\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: exposure %.1f (0 best, 10 worst)", score)
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "✗") {
			t.Log(strings.Join(strings.Fields(l), " "))
		}
	}
	if score > maxExposure {
		t.Errorf("exposure %.1f, want at most %.1f", score, maxExposure)
	}
}

// The filter file the unit names, as installed from here.
func TestFilterFileParses(t *testing.T) {
	if _, err := filters.Load("filters.yaml"); err != nil {
		t.Fatal(err)
	}
}

// The unit's command line, run as the unit runs it: as a user that is not
// root (DynamicUser), with the unit's capabilities only, no new privileges;
// its paths moved to a temporary directory and its port to any free one.
// Events reach the output file, mode 0640, as JSON Lines. systemd itself
// is not needed (nor, here, PID 1).
func TestUnitCommandLine(t *testing.T) {
	testutil.NeedRoot(t, "to run fstrace as another user with capabilities")
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		testutil.Skip(t, "setpriv (util-linux) is not installed")
	}
	text := unit(t)
	dir := tempDir(t)
	bin := build(t)
	// As vmtests' requireTracing: where fstrace cannot trace at all, this
	// says nothing of the unit.
	if out, err := exec.Command(bin, "-q", "-o", "none", "-e", "open", "--", "true").CombinedOutput(); err != nil {
		testutil.Skip(t, "fstrace cannot trace here, even as root: %s", bytes.TrimSpace(out))
	}
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o750); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	if err := os.Chown(logDir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	ff, err := os.ReadFile("filters.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "filters.yaml"), ff, 0o644); err != nil {
		t.Fatal(err)
	}
	args := strings.Fields(setting(t, text, "ExecStart"))[1:]
	for i, a := range args {
		switch {
		case a == "/var/log/fstrace/events.jsonl":
			args[i] = logDir + "/events.jsonl"
		case a == "/etc/fstrace/filters.yaml":
			args[i] = dir + "/filters.yaml"
		case strings.HasPrefix(a, "127.0.0.1:"):
			args[i] = "127.0.0.1:0"
		}
	}
	var caps []string
	for _, c := range strings.Fields(setting(t, text, "AmbientCapabilities")) {
		caps = append(caps, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	if bound := setting(t, text, "CapabilityBoundingSet"); bound != setting(t, text, "AmbientCapabilities") {
		t.Fatalf("CapabilityBoundingSet %q and AmbientCapabilities differ: this test gives the ambient ones", bound)
	}
	c := strings.Join(caps, ",")
	cmd := exec.Command(setpriv, append([]string{"--reuid", strconv.Itoa(nobody), "--regid", strconv.Itoa(nobody), "--clear-groups",
		"--inh-caps", c, "--ambient-caps", c, "--bounding-set", "-all," + c, "--no-new-privs", "--",
		bin}, append(args, "-d", "3s")...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Something to see while it runs: a file made and removed, until it
	// ends (its -d counts from when tracing began, which on a loaded
	// machine can be seconds after the start).
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
loop:
	for i := 0; ; i++ {
		select {
		case err = <-exited:
			break loop
		case <-time.After(50 * time.Millisecond):
		}
		f := fmt.Sprintf("%s/made%d", dir, i)
		os.WriteFile(f, nil, 0o644)
		os.Remove(f)
	}
	if err != nil {
		if b, _ := os.ReadFile("/proc/sys/kernel/perf_event_paranoid"); strings.TrimSpace(string(b)) == "3" && strings.Contains(stderr.String(), "CAP_SYS_ADMIN") {
			testutil.Skip(t, "kernel.perf_event_paranoid is 3 here and the hook mode needs a perf event: CAP_SYS_ADMIN, as the unit's comment says: %s", stderr.String())
		}
		t.Fatalf("fstrace as the unit runs it: %v\n%s", err, stderr.String())
	}
	t.Logf("stderr:\n%s", stderr.String())
	p := logDir + "/events.jsonl"
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640&^umask() {
		t.Errorf("events file mode %v, want 0640 less the umask", st.Mode().Perm())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		if s, _ := ev["path"].(string); strings.HasPrefix(s, dir+"/made") {
			n++
		}
	}
	if n == 0 {
		t.Errorf("no event of the files made in %s; output file:\n%s", dir, b)
	}
	t.Logf("%d events of the files made, %d bytes of events", n, len(b))
}

// umask reads the process's umask (setting it back at once).
func umask() os.FileMode {
	old := syscall.Umask(0)
	syscall.Umask(old)
	return os.FileMode(old)
}

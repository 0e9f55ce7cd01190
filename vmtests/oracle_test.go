package vmtests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fstrace/fstrace/internal/testutil"
)

// Oracles (issue 10): what fstrace reports of a real workload, held
// against something other than fstrace's own expectations. The same
// workload in every hook mode must give the same events
// (TestCrossModeAgreement), and every file syscall strace sees must be in
// fstrace's stream with the same path and result (TestStraceOracle).

// oracleWorkload is a shell script of real tools (the guests' busybox
// applets, the host's coreutils, tar and sed) run in a fresh directory,
// with relative names only: trees with files, symlinks, a hard link and
// directories, archived and extracted, copied, changed, renamed, linked,
// edited in place, and removed, and two calls that fail.
const oracleWorkload = `set -e
mkdir src src/sub src/sub/deep
echo one > src/a
echo two > src/sub/b
echo three > src/sub/deep/c
ln -s a src/la
ln -s sub/deep src/ldeep
ln src/a src/ha
tar -cf t.tar src
mkdir x
tar -xf t.tar -C x
cp -r src cp
chmod -R 700 cp
chown -hR 1000:1000 cp
mv cp/a cp/a2
ln cp/a2 cp/h
ln -s a2 cp/s
sed -i s/one/uno/ cp/a2
mkfifo cp/fifo
truncate -s 100 cp/a2
touch -d '2020-01-02 03:04:05' cp/a2
touch cp/new
cat missing >/dev/null 2>&1 || true
mkdir x 2>/dev/null || true
rm -rf src cp x
`

// tempName matches sed -i's temporary file: GNU sed's sedXXXXXX beside
// the file, busybox's FILEXXXXXX.
var tempName = regexp.MustCompile(`^(sed|a2)[A-Za-z0-9]{6}$`)

// oracleKey is one event as the oracles compare it: its kind, its names
// relative to the workload's directory (temporary names normalised), and
// its result ("ok" or the errno name).
type oracleKey struct {
	kind, path, newPath, result string
}

func (k oracleKey) String() string {
	s := k.kind + " " + k.path
	if k.newPath != "" {
		s += " -> " + k.newPath
	}
	return s + " = " + k.result
}

// relName is p relative to dir, with a temporary name normalised; ok is
// false for a name outside dir.
func relName(dir, p string) (string, bool) {
	var rel string
	switch {
	case p == dir:
		rel = "."
	case strings.HasPrefix(p, dir+"/"):
		rel = p[len(dir)+1:]
	default:
		return p, false
	}
	if m := tempName.FindStringSubmatch(filepath.Base(rel)); m != nil {
		rel = filepath.Join(filepath.Dir(rel), m[1]+"XXXXXX")
	}
	return rel, true
}

func resultOf(ret int64, errName string) string {
	if ret >= 0 {
		return "ok"
	}
	if errName == "" {
		return strconv.FormatInt(ret, 10)
	}
	return errName
}

// eventKey is e's oracleKey; ok is false for an event on no name of dir.
func eventKey(dir string, e event) (oracleKey, bool) {
	k := oracleKey{kind: e.str("event"), result: resultOf(e.num("ret"), e.str("error"))}
	p, in1 := relName(dir, e.str("path"))
	if e["path_unknown"] == true {
		p += " (unknown)"
	}
	k.path = p
	in2 := false
	if np := e.str("new_path"); np != "" || e["new_path_unknown"] == true {
		k.newPath, in2 = relName(dir, np)
		if e["new_path_unknown"] == true {
			k.newPath += " (unknown)"
		}
	}
	return k, in1 || in2
}

// runTraced runs `fstrace -o json --hook-mode MODE --path DIR -- argv...`
// in dir, with env added to the environment, and returns its events.
func runTraced(t *testing.T, mode, dir string, env []string, argv ...string) traced {
	t.Helper()
	requireTracing(t, mode)
	args := append([]string{"-o", "json", "--hook-mode", mode, "--path", dir, "--"}, argv...)
	cmd := exec.Command(fstraceBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("run fstrace: %v", err)
	}
	res := traced{status: exitStatus(t, cmd.Wait()), stderr: stderr.String(), ppid: cmd.Process.Pid}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("output line is not JSON: %v: %q", err, sc.Text())
		}
		res.events = append(res.events, ev)
	}
	if res.status != 0 {
		t.Fatalf("fstrace -- %s exited %d; stderr:\n%s", strings.Join(argv, " "), res.status, res.stderr)
	}
	if m := summaryRE.FindStringSubmatch(res.stderr); m == nil || m[2] != "0" {
		t.Fatalf("no summary, or events lost:\n%s", res.stderr)
	}
	return res
}

// kindCounts is "kind n, kind n, ..." of a multiset of keys.
func kindCounts(keys map[oracleKey]int) string {
	n := map[string]int{}
	for k, c := range keys {
		n[k.kind] += c
	}
	var kinds []string
	for k := range n {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for i, k := range kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, n[k])
	}
	return b.String()
}

func sortedKeys(m map[oracleKey]int) []oracleKey {
	var ks []oracleKey
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].String() < ks[j].String() })
	return ks
}

// modeDifference says why key, seen in mode seenIn, is not in mode
// missingIn's set (other), when that is a documented limit of a mode
// (README); "" for a difference that is a defect.
func modeDifference(key oracleKey, seenIn, missingIn string, other map[oracleKey]int) string {
	vfs := func(m string) bool { return m == "fentry" || m == "kprobe" }
	// A call that fails before it reaches a dentry (busybox tar's
	// mkdir("x/src/") of a directory it has made, EEXIST) is reported
	// with the name as passed in fentry and kprobe modes, and tidied
	// (no "." components, repeated or trailing slashes) in syscall mode
	// (README, The JSON contract): the same call, under the tidy name.
	if key.result != "ok" && vfs(seenIn) && missingIn == "syscall" {
		tidied := key
		tidied.path = strings.TrimPrefix(tidy("", key.path), "/")
		if tidied != key && other[tidied] > 0 {
			return "a failed call's name as passed; syscall mode tidies it to " + tidied.path
		}
	}
	return ""
}

// The same workload traced in every hook mode this kernel allows gives the
// same set of (kind, path, new_path, result) for the workload's files.
func TestCrossModeAgreement(t *testing.T) {
	modes := hookModes()
	if len(modes) == 1 && modes[0] == "auto" {
		modes = []string{"fentry", "kprobe", "syscall"}
	}
	// Where syscall mode is the only one (the host), its fallback, the
	// raw syscall tracepoints, is the other side of the comparison.
	if len(modes) == 1 && modes[0] == "syscall" {
		modes = append(modes, "syscall-raw")
	}
	seen := map[string]map[oracleKey]int{}
	var order []string
	// What each mode missed, judged at the end against what fstrace said
	// may be missing in that run (kernels that preempt its programs skip
	// some of their runs, and say how many): the required events it did
	// not see and the events another mode saw that it did not.
	missed := map[string]map[oracleKey]int{}
	bound := map[string]int{}
	miss := func(mode string, k oracleKey) {
		if missed[mode] == nil {
			missed[mode] = map[oracleKey]int{}
		}
		missed[mode][k] = 1
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			dir := testDir(t)
			hookMode, env := mode, []string(nil)
			if mode == "syscall-raw" {
				hookMode, env = "syscall", []string{"FSTRACE_SYSCALL_HOOKS=raw"}
			}
			r := runTraced(t, hookMode, dir, env, "sh", "-c", oracleWorkload)
			keys := map[oracleKey]int{}
			for _, e := range r.events {
				if k, ok := eventKey(dir, e); ok {
					keys[k]++
				} else {
					t.Errorf("an event outside --path %s: %v", dir, e)
				}
			}
			t.Logf("%s: %d events: %s", mode, len(r.events), kindCounts(keys))
			// What every mode must see, whatever the tools.
			for _, want := range []oracleKey{
				{"mkdir", "src/sub/deep", "", "ok"},
				{"create", "src/a", "", "ok"},
				{"symlink", "src/la", "", "ok"},
				{"link", "src/a", "src/ha", "ok"},
				{"mkdir", "x/src/sub", "", "ok"},
				{"symlink", "x/src/ldeep", "", "ok"},
				{"mkdir", "cp/sub/deep", "", "ok"},
				{"rename", "cp/a", "cp/a2", "ok"},
				{"link", "cp/a2", "cp/h", "ok"},
				{"symlink", "cp/s", "", "ok"},
				{"mknod", "cp/fifo", "", "ok"},
				{"create", "cp/new", "", "ok"},
				{"open", "missing", "", "ENOENT"},
				{"mkdir", "x", "", "EEXIST"},
				{"unlink", "cp/a2", "", "ok"},
				{"rmdir", "x/src/sub/deep", "", "ok"},
				{"rmdir", "cp", "", "ok"},
			} {
				if keys[want] == 0 {
					miss(mode, want)
				}
			}
			var setattrs int
			for k := range keys {
				if k.kind == "setattr" && k.path == "cp/a2" && k.result == "ok" {
					setattrs++
				}
			}
			if setattrs == 0 {
				t.Errorf("%s: no setattr of cp/a2", mode)
			}
			seen[mode] = keys
			bound[mode] = reportedMissing(r.stderr)
			order = append(order, mode)
		})
	}
	defer func() {
		for _, mode := range order {
			ks := sortedKeys(missed[mode])
			if len(ks) == 0 {
				continue
			}
			if len(ks) <= bound[mode] {
				t.Logf("%s: %d events not seen (%v), within the %d fstrace reported may be missing", mode, len(ks), ks, bound[mode])
				continue
			}
			for _, k := range ks {
				t.Errorf("%s mode did not see %v", mode, k)
			}
		}
	}()
	if len(order) < 2 {
		t.Logf("only %v traced here: nothing to compare", order)
		return
	}
	base := seen[order[0]]
	for _, mode := range order[1:] {
		other := seen[mode]
		var known int
		check := func(a, b map[oracleKey]int, aMode, bMode string) {
			for _, k := range sortedKeys(a) {
				if b[k] > 0 {
					continue
				}
				if why := modeDifference(k, aMode, bMode, b); why != "" {
					known++
					t.Logf("%s, not %s (%s): %v", aMode, bMode, why, k)
					continue
				}
				t.Logf("seen in %s mode, not in %s mode: %v", aMode, bMode, k)
				miss(bMode, k)
			}
		}
		// How often each is seen may differ (say, a lookup retried), and
		// is only logged: the contract is the set.
		for _, k := range sortedKeys(base) {
			if n := other[k]; n > 0 && n != base[k] {
				t.Logf("%v: %d× in %s mode, %d× in %s mode", k, base[k], order[0], n, mode)
			}
		}
		check(base, other, order[0], mode)
		check(other, base, mode, order[0])
		t.Logf("%s against %s: %d distinct events against %d, %d documented differences",
			mode, order[0], len(other), len(base), known)
	}
}

// inGuest: a vmtests QEMU guest, whose userland is busybox.
func inGuest() bool {
	l, err := os.Readlink("/bin/sh")
	return err == nil && strings.HasSuffix(l, "busybox")
}

// straceCall is one syscall of strace's output.
type straceCall struct {
	pid    int
	name   string
	args   []string
	ret    int64
	errno  string
	retStr string
}

var (
	straceLine = regexp.MustCompile(`^(?:\[pid\s+)?(\d+)\]?\s+(.*)$`)
	straceEnd  = regexp.MustCompile(`\)\s+=\s+(-?\d+|\?)(?:<[^>]*>)?(?:\s+(E[A-Z0-9]+)\b.*)?$`)
)

// splitArgs splits strace's argument list at its top-level commas: not
// inside quotes, brackets, braces or an fd's <path>.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{', '(', '<':
			depth++
		case ']', '}', ')', '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// parseStrace reads strace -f -y -qq output: one call a line, or an
// <unfinished ...> line and its <... resumed> line, joined.
func parseStrace(t *testing.T, out string) []straceCall {
	t.Helper()
	var calls []straceCall
	pending := map[int]string{}
	for _, line := range strings.Split(out, "\n") {
		m := straceLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		rest := m[2]
		if strings.HasSuffix(rest, "<unfinished ...>") {
			pending[pid] = strings.TrimSuffix(rest, "<unfinished ...>")
			continue
		}
		if strings.HasPrefix(rest, "<... ") {
			i := strings.Index(rest, " resumed>")
			if i < 0 {
				continue
			}
			rest = pending[pid] + rest[i+len(" resumed>"):]
			delete(pending, pid)
		}
		open := strings.IndexByte(rest, '(')
		end := straceEnd.FindStringSubmatchIndex(rest)
		if open < 0 || end == nil {
			continue // +++ exited +++, --- signals ---
		}
		c := straceCall{pid: pid, name: rest[:open], args: splitArgs(rest[open+1 : end[0]])}
		c.retStr = rest[end[2]:end[3]]
		c.ret, _ = strconv.ParseInt(c.retStr, 10, 64)
		if end[4] >= 0 {
			c.errno = rest[end[4]:end[5]]
		}
		calls = append(calls, c)
	}
	return calls
}

// unquote is a strace string argument's value.
func unquote(s string) (string, bool) {
	if s == "NULL" {
		return "", true
	}
	v, err := strconv.Unquote(s)
	return v, err == nil
}

// fdPath is the path strace -y shows for a descriptor ("3</tmp/d>"), or
// cwd for AT_FDCWD.
func fdPath(arg, cwd string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 && strings.HasSuffix(arg, ">") {
		return arg[i+1 : len(arg)-1]
	}
	return cwd
}

// tidy makes name absolute against base and drops "." components and
// repeated and trailing slashes, keeping "..", as fstrace's syscall mode
// reports names passed (README, The JSON contract).
func tidy(base, name string) string {
	if !strings.HasPrefix(name, "/") {
		name = base + "/" + name
	}
	var parts []string
	for _, c := range strings.Split(name, "/") {
		if c != "" && c != "." {
			parts = append(parts, c)
		}
	}
	return "/" + strings.Join(parts, "/")
}

// straceKeys turns strace's file syscalls into the events fstrace reports
// for them (README: syscall mode's table); the calls that make no event
// (stat, access, readlink, execve, chdir...) are left out. Names are
// resolved against the dirfd strace -y shows, or the caller's working
// directory (dir, changed by chdir).
func straceKeys(t *testing.T, dir string, calls []straceCall) map[oracleKey]int {
	t.Helper()
	keys := map[oracleKey]int{}
	cwd := map[int]string{}
	for _, c := range calls {
		wd := cwd[c.pid]
		if wd == "" {
			wd = dir
		}
		// name resolves a (dirfd, name) pair of arguments, or a lone name
		// (dirfd < 0); a NULL name is the dirfd's file.
		name := func(dirfd, n int) string {
			base := wd
			if dirfd >= 0 {
				base = fdPath(c.args[dirfd], wd)
			}
			v, ok := unquote(c.args[n])
			if !ok {
				t.Fatalf("strace: %s: argument %d is not a string: %v", c.name, n, c.args)
			}
			if v == "" {
				return base
			}
			return tidy(base, v)
		}
		var kind, p, np string
		switch c.name {
		case "chdir":
			if c.ret == 0 {
				cwd[c.pid] = name(-1, 0)
			}
			continue
		case "open", "creat":
			kind, p = "open", name(-1, 0)
		case "openat", "openat2":
			kind, p = "open", name(0, 1)
		case "mkdir":
			kind, p = "mkdir", name(-1, 0)
		case "mkdirat":
			kind, p = "mkdir", name(0, 1)
		case "mknod":
			kind, p = "mknod", name(-1, 0)
		case "mknodat":
			kind, p = "mknod", name(0, 1)
		case "symlink":
			kind, p = "symlink", name(-1, 1)
		case "symlinkat":
			kind, p = "symlink", name(1, 2)
		case "link":
			kind, p, np = "link", name(-1, 0), name(-1, 1)
		case "linkat":
			kind, p, np = "link", name(0, 1), name(2, 3)
		case "unlink":
			kind, p = "unlink", name(-1, 0)
		case "unlinkat":
			kind, p = "unlink", name(0, 1)
			if strings.Contains(c.args[2], "AT_REMOVEDIR") {
				kind = "rmdir"
			}
		case "rmdir":
			kind, p = "rmdir", name(-1, 0)
		case "rename":
			kind, p, np = "rename", name(-1, 0), name(-1, 1)
		case "renameat", "renameat2":
			kind, p, np = "rename", name(0, 1), name(2, 3)
		case "chmod", "chown", "lchown", "truncate", "utime", "utimes":
			kind, p = "setattr", name(-1, 0)
		case "fchmodat", "fchmodat2", "fchownat", "utimensat", "futimesat":
			kind, p = "setattr", name(0, 1)
		case "mount":
			kind, p = "mount", name(-1, 1)
		case "umount2", "umount":
			kind, p = "umount", name(-1, 0)
		case "setxattr", "lsetxattr", "removexattr", "lremovexattr":
			kind, p = "xattr", name(-1, 0)
		case "setxattrat", "removexattrat":
			kind, p = "xattr", name(0, 1)
		default:
			continue
		}
		k := oracleKey{kind: kind, result: resultOf(c.ret, c.errno)}
		var in1, in2 bool
		k.path, in1 = relName(dir, p)
		if np != "" {
			k.newPath, in2 = relName(dir, np)
		}
		if in1 || in2 {
			keys[k]++
		}
	}
	return keys
}

// Every file syscall strace sees the workload make on its files is in
// fstrace's stream (syscall mode), with the same names and result.
// strace reads each name at the syscall's entry, faulting it in if need
// be, so this cannot catch a name fstrace could not read from a page not
// yet faulted in (TestColdNames covers those). Calls on a descriptor
// alone (fchmod, fchown, ftruncate) are not in strace's %file set: fstrace
// reports them, but strace is no oracle for them here.
func TestStraceOracle(t *testing.T) {
	const mode = "syscall"
	if inGuest() {
		t.Skip("host only: the guests' busybox userland has no strace")
	}
	requireTracing(t, mode)
	strace, err := exec.LookPath("strace")
	if err != nil {
		testutil.Skip(t, "strace is not in PATH (scripts/deps.sh hosttest installs it)")
	}
	dir := testDir(t)
	log := filepath.Join(t.TempDir(), "strace.out")
	r := runTraced(t, mode, dir, nil, strace, "-f", "-qq", "-y", "-s", "4096", "-e", "trace=%file", "-e", "signal=none",
		"-o", log, "sh", "-c", oracleWorkload)
	out, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	calls := parseStrace(t, string(out))
	want := straceKeys(t, dir, calls)
	got := map[oracleKey]int{}
	for _, e := range r.events {
		if k, ok := eventKey(dir, e); ok {
			got[k]++
		}
	}
	t.Logf("strace: %d file syscalls, %d on the workload's files: %s", len(calls), sumCounts(want), kindCounts(want))
	t.Logf("fstrace: %d events: %s", len(r.events), kindCounts(got))
	if sumCounts(want) < 40 {
		t.Fatalf("strace saw only %d file syscalls on %s:\n%s", sumCounts(want), dir, out)
	}
	var missing int
	for _, k := range sortedKeys(want) {
		if got[k] < want[k] {
			missing++
			t.Errorf("strace saw %d× %v, fstrace reported %d", want[k], k, got[k])
		}
	}
	if missing > 0 {
		t.Logf("strace output:\n%s", out)
	}
}

func sumCounts(m map[oracleKey]int) int {
	var n int
	for _, c := range m {
		n += c
	}
	return n
}

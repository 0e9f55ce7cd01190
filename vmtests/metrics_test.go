package vmtests

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// freePort finds a loopback port for the exporter.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape returns the fstrace_ series of /metrics, name{labels} -> value.
func scrape(addr string) (map[string]float64, error) {
	all, err := scrapeAll(addr)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for k, v := range all {
		if strings.HasPrefix(k, "fstrace_") {
			out[k] = v
		}
	}
	return out, nil
}

const distinctFiles = 10000

func init() {
	// The helper scrapes the exporter itself, around a workload of 10 000
	// distinct files: the number of series must not move.
	helpers["scrape"] = func(h helperEnv) error {
		addr := os.Getenv("FSTRACE_METRICS")
		before, err := scrape(addr)
		if err != nil {
			return err
		}
		if v, ok := before[`fstrace_events_total{event="create"}`]; !ok || v != 0 {
			return fmt.Errorf("create series before any create: %v, %v", v, ok)
		}
		for i := 0; i < distinctFiles; i++ {
			if err := os.WriteFile(fmt.Sprintf("%s/files/f%05d", h.dir, i), nil, 0o644); err != nil {
				return err
			}
		}
		var after map[string]float64
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			if after, err = scrape(addr); err != nil {
				return err
			}
			if after[`fstrace_events_total{event="create"}`] >= distinctFiles || time.Now().After(deadline) {
				break
			}
		}
		if got := after[`fstrace_events_total{event="create"}`]; got != distinctFiles {
			return fmt.Errorf("fstrace_events_total{create} = %v, want %d", got, distinctFiles)
		}
		if len(after) != len(before) {
			return fmt.Errorf("series went from %d to %d", len(before), len(after))
		}
		for k := range after {
			if _, ok := before[k]; !ok {
				return fmt.Errorf("new series %s", k)
			}
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/healthz: %s %s", resp.Status, body)
		}
		return nil
	}
}

func TestMetricsSeriesBounded(t *testing.T) {
	forOneMode(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		if err := os.Mkdir(dir+"/files", 0o755); err != nil {
			t.Fatal(err)
		}
		addr := freePort(t)
		t.Setenv("FSTRACE_METRICS", addr)
		r := trace(t, mode, dir, "scrape", "-o", "none", "-e", "create", "--path", dir+"/files", "--metrics-addr", addr)
		if r.status != 0 {
			t.Fatalf("fstrace -- helper exited %d:\n%s", r.status, r.stderr)
		}
	})
}

const lossBurst = 5000

func init() {
	helpers["lossy"] = func(h helperEnv) error {
		// The test stops fstrace between "ready" and "go", so the burst
		// meets a reader that does not read: the tiny ring overflows. One
		// CPU, so one ring: every loss shows as a seq gap before the marker.
		var cpu0 unix.CPUSet
		cpu0.Set(0)
		if err := unix.SchedSetaffinity(0, &cpu0); err != nil {
			return err
		}
		if err := os.WriteFile(h.dir+"/ready", nil, 0o644); err != nil {
			return err
		}
		if err := awaitFile(h.dir + "/go"); err != nil {
			return err
		}
		for i := 0; i < lossBurst; i++ {
			fd, err := unix.Open(fmt.Sprintf("%s/burst/l%05d", h.dir, i), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
		if err := os.WriteFile(h.dir+"/burst-done", nil, 0o644); err != nil {
			return err
		}
		if err := awaitFile(h.dir + "/go2"); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // the reader catches up
		return os.WriteFile(h.dir+"/burst/marker", nil, 0o644)
	}
}

// lossyTrace runs the lossy helper with fstrace stopped during its burst.
func lossyTrace(t *testing.T, mode string, flags ...string) (string, traced) {
	t.Helper()
	dir, run := lossyStart(t, mode, flags...)
	os.WriteFile(dir+"/go2", nil, 0o644)
	return dir, run.wait(t)
}

// lossyStart runs the lossy helper up to the end of its burst: it then
// waits for go2.
func lossyStart(t *testing.T, mode string, flags ...string) (string, *running) {
	t.Helper()
	dir := testDir(t)
	if err := os.Mkdir(dir+"/burst", 0o777); err != nil {
		t.Fatal(err)
	}
	flags = append([]string{"-e", "create", "--path", dir + "/burst", "--ring-size", "4096"}, flags...)
	run := startTrace(t, mode, dir, "lossy", flags...)
	waitFile(t, dir+"/ready")
	run.cmd.Process.Signal(syscall.SIGSTOP)
	os.WriteFile(dir+"/go", nil, 0o644)
	waitFile(t, dir+"/burst-done")
	run.cmd.Process.Signal(syscall.SIGCONT)
	return dir, run
}

var summaryRE = regexp.MustCompile(`fstrace: (\d+) events?, (\d+) lost`)

// With a tiny ring, delivered + lost is exactly what happened, and the seq
// gaps add up to the lost count.
func TestLossAddsUp(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir, r := lossyTrace(t, mode)
		if r.status != 0 {
			t.Fatalf("fstrace exited %d:\n%s", r.status, r.stderr)
		}
		m := summaryRE.FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("no summary line in stderr:\n%s", r.stderr)
		}
		delivered, _ := strconv.Atoi(m[1])
		lost, _ := strconv.Atoi(m[2])
		var gaps, last int64
		for _, e := range r.events {
			gaps += e.num("seq") - last - 1
			last = e.num("seq")
		}
		if delivered != len(r.events) {
			t.Errorf("summary says %d delivered, output has %d", delivered, len(r.events))
		}
		if delivered+lost != lossBurst+1 {
			t.Errorf("delivered %d + lost %d = %d, want %d", delivered, lost, delivered+lost, lossBurst+1)
		}
		if int(gaps) != lost {
			t.Errorf("seq gaps add up to %d, lost counter says %d", gaps, lost)
		}
		if lost == 0 {
			t.Errorf("a 4 KiB ring lost nothing in a burst of %d", lossBurst)
		}
		if !strings.Contains(r.stderr, "WARNING") {
			t.Errorf("no loss warning on stderr:\n%s", r.stderr)
		}
		if len(r.find("create", dir+"/burst/marker")) != 1 {
			t.Error("the marker after the burst was not delivered")
		}
		// Audit-like use: loss is fatal, and stops the command (fail
		// closed), which would otherwise wait two minutes for go2.
		began := time.Now()
		_, run := lossyStart(t, mode, "--on-loss=exit")
		r2 := run.wait(t)
		if r2.status != 3 || !strings.Contains(r2.stderr, "; stopping tracing, and stopping "+os.Args[0]+" (SIGTERM), as --on-loss=exit asks") {
			t.Errorf("--on-loss=exit: status %d, stderr:\n%s", r2.status, r2.stderr)
		}
		if d := time.Since(began); d > time.Minute {
			t.Errorf("--on-loss=exit: the command was not stopped (fstrace ran %v)", d)
		}
	})
}

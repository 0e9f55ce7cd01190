package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/tracer"
)

type fakeSource struct {
	st    tracer.Stats
	rings []tracer.RingUsage
}

func (f *fakeSource) Stats() (tracer.Stats, error) { return f.st, nil }
func (f *fakeSource) Rings() []tracer.RingUsage    { return f.rings }
func (f *fakeSource) HookMode() tracer.HookMode    { return tracer.ModeSyscall }

func TestCollector(t *testing.T) {
	src := &fakeSource{
		st: tracer.Stats{
			ByKind:       map[events.Kind]uint64{events.KindOpen: 7},
			Lost:         map[events.Kind]uint64{events.KindOpen: 2},
			Filtered:     map[events.Kind]uint64{events.KindUnlink: 5},
			DecodeErrors: 1,
			Skipped:      9,
			Recovered:    4,
		},
		rings: []tracer.RingUsage{{CPU: 0, Size: 4096, Used: 100}, {CPU: 1, Size: 4096}},
	}
	c := NewCollector(src, "1.2.3", []events.Kind{events.KindOpen, events.KindUnlink})
	want := `
# HELP fstrace_events_total Events delivered, by kind.
# TYPE fstrace_events_total counter
fstrace_events_total{event="open"} 7
fstrace_events_total{event="unlink"} 0
# HELP fstrace_events_lost_total Events lost because a ring buffer was full, by kind.
# TYPE fstrace_events_lost_total counter
fstrace_events_lost_total{event="open"} 2
fstrace_events_lost_total{event="unlink"} 0
# HELP fstrace_events_filtered_total Events dropped by the in-kernel filters, by kind.
# TYPE fstrace_events_filtered_total counter
fstrace_events_filtered_total{event="open"} 0
fstrace_events_filtered_total{event="unlink"} 5
# HELP fstrace_decode_errors_total Records from the kernel that could not be decoded.
# TYPE fstrace_decode_errors_total counter
fstrace_decode_errors_total 1
# HELP fstrace_hook_runs_skipped_total Runs of fstrace's BPF programs the kernel skipped because the program was already running on that CPU (a task preempted inside it).
# TYPE fstrace_hook_runs_skipped_total counter
fstrace_hook_runs_skipped_total 9
# HELP fstrace_hook_runs_recovered_total Skipped runs whose work a backup program did instead.
# TYPE fstrace_hook_runs_recovered_total counter
fstrace_hook_runs_recovered_total 4
# HELP fstrace_ring_buffer_size_bytes Size of each per-CPU ring buffer.
# TYPE fstrace_ring_buffer_size_bytes gauge
fstrace_ring_buffer_size_bytes{cpu="0"} 4096
fstrace_ring_buffer_size_bytes{cpu="1"} 4096
# HELP fstrace_ring_buffer_used_bytes Bytes written by the kernel and not yet read, per CPU ring buffer.
# TYPE fstrace_ring_buffer_used_bytes gauge
fstrace_ring_buffer_used_bytes{cpu="0"} 100
fstrace_ring_buffer_used_bytes{cpu="1"} 0
# HELP fstrace_hook_mode_info How fstrace hooks the kernel: fentry, kprobe or syscall.
# TYPE fstrace_hook_mode_info gauge
fstrace_hook_mode_info{mode="syscall"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"fstrace_events_total", "fstrace_events_lost_total", "fstrace_events_filtered_total",
		"fstrace_decode_errors_total", "fstrace_hook_runs_skipped_total", "fstrace_hook_runs_recovered_total", "fstrace_ring_buffer_size_bytes", "fstrace_ring_buffer_used_bytes",
		"fstrace_hook_mode_info"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "fstrace_build_info"); n != 1 {
		t.Errorf("build_info series: %d", n)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// Every default kind has its series from the start, at zero.
func TestCollectorSeriesStartAtZero(t *testing.T) {
	c := NewCollector(&fakeSource{st: tracer.Stats{}}, "dev", nil)
	n := testutil.CollectAndCount(c, "fstrace_events_total")
	if want := len(events.Kinds()); n != want {
		t.Errorf("fstrace_events_total has %d series, want %d", n, want)
	}
}

func TestHandler(t *testing.T) {
	healthy := true
	reg := NewRegistry(NewCollector(&fakeSource{}, "dev", nil))
	srv := httptest.NewServer(Handler(reg, func() bool { return healthy }))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `fstrace_events_total{event="open"} 0`) ||
		!strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz while healthy: %d", code)
	}
	healthy = false
	if code, _ := get("/healthz"); code != 503 {
		t.Errorf("/healthz after stop: %d", code)
	}
}

var _ prometheus.Collector = (*Collector)(nil)

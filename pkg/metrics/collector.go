package metrics

import (
	"net/http"
	"runtime"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/tracer"
)

const namespace = "fstrace"

// Source is what the collector reads; *tracer.Tracer is one.
type Source interface {
	Stats() (tracer.Stats, error)
	Rings() []tracer.RingUsage
	HookMode() tracer.HookMode
}

// Collector is a prometheus.Collector over a Source.
type Collector struct {
	src     Source
	kinds   []events.Kind
	version string

	delivered, lost, filtered, decodeErrors, cgroupLost *prometheus.Desc
	ringSize, ringUsed                                  *prometheus.Desc
	skipped, recovered                                  *prometheus.Desc
	buildInfo, modeInfo                                 *prometheus.Desc
}

// NewCollector returns a collector for src. kinds are the event kinds whose
// series exist from the start (at 0); nil means every kind fstrace traces.
func NewCollector(src Source, version string, kinds []events.Kind) *Collector {
	if kinds == nil {
		for _, k := range events.Kinds() {
			if tracer.SupportedKinds.Has(k) {
				kinds = append(kinds, k)
			}
		}
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &Collector{
		src: src, kinds: kinds, version: version,
		delivered:    d("events_total", "Events delivered, by kind.", "event"),
		lost:         d("events_lost_total", "Events lost because a ring buffer was full, by kind.", "event"),
		filtered:     d("events_filtered_total", "Events dropped by the in-kernel filters, by kind.", "event"),
		decodeErrors: d("decode_errors_total", "Records from the kernel that could not be decoded."),
		cgroupLost:   d("cgroup_records_lost_total", "Cgroup records a full ring could not take: their events' container fields come from /sys/fs/cgroup, where the cgroup may be gone."),
		skipped:      d("hook_runs_skipped_total", "Runs of fstrace's BPF programs the kernel skipped because the program was already running on that CPU (a task preempted inside it)."),
		recovered:    d("hook_runs_recovered_total", "Skipped runs whose work a backup program did instead."),
		ringSize:     d("ring_buffer_size_bytes", "Size of each per-CPU ring buffer.", "cpu"),
		ringUsed:     d("ring_buffer_used_bytes", "Bytes written by the kernel and not yet read, per CPU ring buffer.", "cpu"),
		buildInfo:    d("build_info", "fstrace build information.", "version", "goversion"),
		modeInfo:     d("hook_mode_info", "How fstrace hooks the kernel: fentry, kprobe or syscall.", "mode"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.delivered, c.lost, c.filtered, c.decodeErrors, c.cgroupLost, c.skipped, c.recovered, c.ringSize, c.ringUsed, c.buildInfo, c.modeInfo} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1, c.version, runtime.Version())
	ch <- prometheus.MustNewConstMetric(c.modeInfo, prometheus.GaugeValue, 1, string(c.src.HookMode()))
	st, err := c.src.Stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lost, err)
		return
	}
	for _, k := range c.kinds {
		name := k.String()
		ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(st.ByKind[k]), name)
		ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(st.Lost[k]), name)
		ch <- prometheus.MustNewConstMetric(c.filtered, prometheus.CounterValue, float64(st.Filtered[k]), name)
	}
	ch <- prometheus.MustNewConstMetric(c.decodeErrors, prometheus.CounterValue, float64(st.DecodeErrors))
	ch <- prometheus.MustNewConstMetric(c.cgroupLost, prometheus.CounterValue, float64(st.CgroupRecordsLost))
	ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.CounterValue, float64(st.Skipped))
	ch <- prometheus.MustNewConstMetric(c.recovered, prometheus.CounterValue, float64(st.Recovered))
	for _, r := range c.src.Rings() {
		cpu := strconv.Itoa(r.CPU)
		ch <- prometheus.MustNewConstMetric(c.ringSize, prometheus.GaugeValue, float64(r.Size), cpu)
		ch <- prometheus.MustNewConstMetric(c.ringUsed, prometheus.GaugeValue, float64(r.Used), cpu)
	}
}

// NewRegistry returns a registry with c and the standard Go and process
// collectors.
func NewRegistry(c *Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MaxScrapes is how many /metrics requests Handler serves at once.
const MaxScrapes = 40

// Handler serves /metrics from reg and /healthz, which answers 200 while
// healthy() holds and 503 after.
func Handler(reg *prometheus.Registry, healthy func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		// A scrape flood is answered 503 past this many at once, rather
		// than holding a gathered body per request (node_exporter's
		// --web.max-requests default).
		MaxRequestsInFlight: MaxScrapes,
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !healthy() {
			http.Error(w, "tracer stopped", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n")) // a client gone away; nothing to tell it
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<html><head><title>fstrace</title></head><body><h1>fstrace</h1><p><a href="/metrics">Metrics</a> · <a href="/healthz">Health</a></p></body></html>`))
	})
	return mux
}

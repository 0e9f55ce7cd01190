// Command fstrace reports filesystem events — open, create, delete, rename,
// attribute changes, mount — as they happen, from eBPF programs on the
// kernel's VFS hooks. See README.md for usage.
//
// Exit status: 0 on success; 1 when tracing could not start or failed; 2 on
// bad usage; with `-- COMMAND`, the command's own exit status (128+N when a
// signal N killed it, 127 when it was not found, 126 when not executable).
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
	"github.com/fstrace/fstrace/pkg/metrics"
	"github.com/fstrace/fstrace/pkg/tracer"
)

const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitLoss     = 3
	exitNoExec   = 126
	exitNotFound = 127
)

func main() {
	if os.Getenv(launchEnv) != "" {
		launch() // never returns
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// One goroutine does the work (the tracer's ring reader hands
		// batches to the output loop): a second P only adds thread
		// wakeups, so more context switches and CPU per event.
		// GOMAXPROCS still overrides.
		runtime.GOMAXPROCS(1)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "probe" {
		return probeCmd(args[1:], stdout, stderr)
	}
	cfg, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, errHelp) {
			return printOut(stdout, stderr, []byte(usageText))
		}
		diagf(stderr, "fstrace: %v\n", err)
		return exitUsage
	}
	if cfg.version {
		return printOut(stdout, stderr, []byte("fstrace "+version+"\n"))
	}
	var file *rotatingFile
	if cfg.outputFile != "" {
		// A path that cannot be written is bad usage, found before
		// anything is loaded, as a bad flag is.
		if file, err = openRotating(cfg.outputFile, cfg.outputMax, cfg.outputKeep); err != nil {
			diagf(stderr, "fstrace: --output-file: %s\n", printable(err.Error()))
			return exitUsage
		}
		// The sink's close closes it and reports the error; this one is
		// for the returns before the sink exists.
		defer func() { _ = file.Close() }()
	}

	var cmd *launcher
	if len(cfg.command) > 0 {
		cmd, err = newLauncher(cfg.command)
		if err != nil {
			diagf(stderr, "fstrace: %v\n", err)
			var le *launchError
			if errors.As(err, &le) {
				return le.status
			}
			return exitFailure
		}
	}

	var ln net.Listener
	if cfg.metricsAddr != "" {
		// Bind first: a busy port is an error before anything is loaded.
		if ln, err = net.Listen("tcp", cfg.metricsAddr); err != nil {
			diagf(stderr, "fstrace: metrics: %v\n", err)
			return exitFailure
		}
		defer func() { _ = ln.Close() }()
	}

	if cmd == nil {
		// A long-running agent: keep its heap off transparent huge
		// pages. Where they are always on (Debian's 7.2), khugepaged
		// folds the Go heap's sparse arenas into 2 MiB pages and RssAnon
		// climbs from 8 to 36 MiB over 4 MiB of heap. Not with a command:
		// the flag passes to children across fork and exec. Best effort.
		_ = unix.Prctl(unix.PR_SET_THP_DISABLE, 1, 0, 0, 0)
	}
	kinds := cfg.traceKinds()
	filter := currentFilter(cfg, nil)
	tr, err := tracer.New(envOptions(tracer.Options{
		Events:   kinds,
		RingSize: cfg.ringSize,
		Follow:   cmd != nil || len(cfg.pidTree) > 0,
		HookMode: cfg.hookMode,
		EachCall: cfg.eachCall,
		Filter:   *filter,
	}))
	if err != nil {
		diagf(stderr, "fstrace: %v\n", err)
		verifierHint(stderr, err)
		return exitFailure
	}
	defer func() { _ = tr.Close() }() // the session closes it and reports the error
	// Loading parsed the kernel's BTF (tens of MiB), garbage now: give it
	// back to the system rather than carry it for the whole run.
	debug.FreeOSMemory()
	var gone <-chan struct{} // --pid-tree: every root has exited
	if len(cfg.pidTree) > 0 {
		if err := followTree(tr, cfg.pidTree); err != nil {
			diagf(stderr, "fstrace: %v\n", err)
			return exitFailure
		}
		gone = treeGone(cfg.pidTree)
	}
	start := time.Now()
	if w := tr.Warning(); w != "" {
		diagf(stderr, "fstrace: WARNING: %s\n", w)
	}
	if !cfg.quiet {
		diagf(stderr, "fstrace: tracing %s with %s hooks%s\n", kindsLabel(kinds, filter), tr.HookMode(), untilLabel(cmd, cfg.pidTree))
	}

	if ln != nil {
		serveMetrics(ln, tr, cfg, stderr)
	}

	sigs := make(chan os.Signal, 2)
	hup := make(chan os.Signal, 1)
	if cfg.filterFile != "" {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	} else {
		// Without a file to reload, SIGHUP (a closed terminal) is a
		// stop like SIGTERM: flush, summary, exit status 0.
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	}
	defer signal.Stop(sigs)
	// A closed stdout (fstrace | head) must come back as EPIPE from the
	// write, which ends tracing with a summary, not as the SIGPIPE the Go
	// runtime dies of otherwise (status 141, nothing flushed). Caught, not
	// ignored: an ignored signal would stay ignored in COMMAND after exec.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	// SIGUSR1 opens --output-file again, as daemons reopen their logs
	// (logrotate's postrotate); without one it does nothing, rather than
	// kill fstrace with nothing flushed. Caught, not ignored, as SIGPIPE.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)

	if cmd == nil {
		if err := dropCaps(cfg, stderr); err != nil {
			diagf(stderr, "fstrace: %v\n", err)
			return exitFailure
		}
	}
	if cfg.readyFile != "" {
		// The programs are attached and the rings read: whatever
		// happens from now on is seen.
		if err := writeReady(cfg.readyFile); err != nil {
			diagf(stderr, "fstrace: --ready-file: %v\n", err)
			return exitFailure
		}
		defer func() { _ = os.Remove(cfg.readyFile) }()
	}

	var done <-chan int // the command's exit status
	if cmd != nil {
		if done, err = cmd.start(tr); err != nil {
			diagf(stderr, "fstrace: %v\n", err)
			return exitFailure
		}
		if err := dropCaps(cfg, stderr); err != nil {
			diagf(stderr, "fstrace: %v\n", err)
			return exitFailure
		}
	}
	var timeout <-chan time.Time
	if cfg.duration > 0 {
		timeout = time.After(cfg.duration)
	}

	s := &session{
		cfg: cfg, tr: tr, out: newSink(cfg, stdout, file, start), stderr: stderr, kinds: kinds, cmd: cmd,
		evc: tr.Batches(), sigs: sigs, hup: hup, usr1: usr1, done: done, timeout: timeout, gone: gone,
		status: exitOK,
	}
	lossCheck := time.NewTicker(time.Second)
	defer lossCheck.Stop()
	s.lossCheck = lossCheck.C
	return s.run()
}

// reload applies the filter file again. The kinds traced are fixed at
// start: a file that asks for another kind is refused, as is one that does
// not parse, and the filters in force stay.
func reload(tr tracing, cfg *config, kinds events.KindMask, stderr io.Writer) {
	f := currentFilter(cfg, stderr)
	if f == nil {
		return // the error is printed
	}
	if extra := f.Events &^ kinds; extra != 0 {
		diagf(stderr, "fstrace: reload %s: events: %s not traced (the kinds traced, %s, are fixed at start; keeping the filters in force)\n", cfg.filterFile, extra, kinds)
		return
	}
	if err := tr.SetFilter(*f); err != nil {
		diagf(stderr, "fstrace: reload %s: %v (keeping the filters in force)\n", cfg.filterFile, err)
	} else if !cfg.quiet {
		diagf(stderr, "fstrace: filters reloaded from %s: tracing %s\n", cfg.filterFile, kindsLabel(kinds, f))
	}
}

// writeReady writes fstrace's pid to path atomically: a reader sees no file
// or the whole of it.
func writeReady(path string) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // the rename's error is the one to report
		return err
	}
	return nil
}

// plural is "1 event", "2 events".
func plural(n uint64, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatUint(n, 10) + " " + one + "s"
}

// currentFilter is the flags' filter set plus the filter file's. With a
// non-nil stderr it reports a bad file there and returns nil.
func currentFilter(cfg *config, stderr io.Writer) *filters.Set {
	f := cfg.filter
	if cfg.filterFile != "" {
		ff, err := filters.Load(cfg.filterFile)
		if err != nil {
			if stderr != nil {
				diagf(stderr, "fstrace: reload: %v (keeping the filters in force)\n", err)
				return nil
			}
			ff = filters.Set{} // checked when the flags were parsed
		}
		f = f.Merge(ff)
	}
	return &f
}

func sumKinds(m map[events.Kind]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// serveMetrics serves the exporter on ln until the process exits.
func serveMetrics(ln net.Listener, tr *tracer.Tracer, cfg *config, stderr io.Writer) {
	reg := metrics.NewRegistry(metrics.NewCollector(tr, version, nil))
	// Timeouts so that a client that sends slowly, never reads or idles
	// holds a connection for a bounded time; the event path never waits
	// on the exporter either way.
	srv := &http.Server{
		Handler:           metrics.Handler(reg, tr.Healthy),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	addrs := []string{cfg.metricsAddr}
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &cfg.webConfig}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() {
		if err := web.Serve(ln, srv, flags, logger); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			diagf(stderr, "fstrace: metrics: %v\n", err)
		}
	}()
	if !cfg.quiet {
		diagf(stderr, "fstrace: serving metrics on http://%s/metrics\n", ln.Addr())
	}
}

func summary(tr tracing, n, dropped uint64, cfg *config, stderr io.Writer) {
	st, err := tr.Stats()
	if err != nil {
		diagf(stderr, "fstrace: %v\n", err)
		return
	}
	var lost uint64
	var parts []string
	for _, k := range events.Kinds() {
		if v := st.Lost[k]; v > 0 {
			lost += v
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
	}
	if lost > 0 {
		diagf(stderr, "fstrace: WARNING: %s lost (ring buffer full: %s); try a larger --ring-size\n", plural(lost, "event"), strings.Join(parts, ", "))
	}
	if st.Missed > 0 {
		// An upper bound. With backup programs (syscall mode) nearly
		// all of it is runs on syscalls that make no event: a note,
		// not an alarm.
		level, made := "WARNING", ""
		if tr.HasBackups() {
			level, made = "note", fmt.Sprintf(", %d made up by backup programs", st.Recovered)
		}
		diagf(stderr, "fstrace: %s: the kernel skipped fstrace's programs %s while tasks were preempted inside them%s: at most %s may be missing\n", level, plural(st.Skipped, "time"), made, plural(st.Missed, "event"))
	}
	if st.CgroupRecordsLost > 0 {
		diagf(stderr, "fstrace: WARNING: %s lost (ring buffer full): those cgroups' events were named from /sys/fs/cgroup, and carry no container fields where the cgroup was gone\n", plural(st.CgroupRecordsLost, "cgroup record"))
	}
	if st.DecodeErrors > 0 {
		diagf(stderr, "fstrace: WARNING: %s could not be decoded\n", plural(st.DecodeErrors, "record"))
	}
	if !cfg.quiet {
		post := ""
		if cfg.post.active() {
			post = fmt.Sprintf(", %d dropped by fstrace's own filters (--succeeded, --changes, --path-glob)", dropped)
		}
		diagf(stderr, "fstrace: %s, %d lost%s\n", plural(n, "event"), lost, post)
		if st.Recovered > 0 && st.Missed == 0 {
			diagf(stderr, "fstrace: the kernel skipped fstrace's programs %s while tasks were preempted inside them; backups made up for all %d that mattered\n", plural(st.Skipped, "time"), st.Recovered)
		}
	}
}

// kindsLabel names the kinds that can reach the output: those attached,
// narrowed by the filter's events.
func kindsLabel(attached events.KindMask, f *filters.Set) string {
	if f.Events != 0 {
		attached &= f.Events
	}
	if attached == 0 {
		return "no event kind"
	}
	return attached.String()
}

func untilLabel(l *launcher, tree []int) string {
	if l != nil {
		return " for " + l.argv[0]
	}
	if len(tree) > 0 {
		ids := make([]string, len(tree))
		for i, p := range tree {
			ids[i] = strconv.Itoa(p)
		}
		return " for the process tree of " + strings.Join(ids, ",")
	}
	return " (Ctrl-C to stop)"
}

// sink writes events in the chosen format through one buffer, to stdout
// or to the --output-file, which it rotates between two events.
type sink struct {
	w      *bufio.Writer
	file   *rotatingFile // nil: stdout
	format string
	text   events.TextFormat
	json   events.JSONEncoder
	buf    []byte
}

// newSink writes to file, or to w when file is nil.
func newSink(cfg *config, w io.Writer, file *rotatingFile, start time.Time) *sink {
	s := &sink{format: cfg.output, file: file}
	if file != nil {
		w = file
	}
	s.w = bufio.NewWriterSize(w, 64<<10)
	s.text = events.TextFormat{Time: cfg.timeStyle, Start: start, Color: useColor(cfg.color, w, os.Getenv),
		Extended: cfg.extended, Cmdline: cfg.cmdline}
	s.json.Cmdline = cfg.cmdline
	if file == nil || file.empty(0) {
		s.header()
	}
	return s
}

// header starts the text output with its column names: on stdout, and at
// the top of each output file (not in the middle of one appended to).
func (s *sink) header() {
	if s.format == "text" {
		s.w.WriteString(s.text.Header())
		s.w.WriteByte('\n')
	}
}

// useColor decides --color: auto means on a terminal, unless NO_COLOR is
// set to anything but "" (no-color.org).
func useColor(when string, w io.Writer, getenv func(string) string) bool {
	switch when {
	case "always":
		return true
	case "never":
		return false
	}
	if getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (s *sink) write(ev *events.Event) error {
	switch s.format {
	case "json":
		s.buf = s.json.Append(s.buf[:0], ev)
	case "text":
		s.buf = s.text.Append(s.buf[:0], ev)
	default:
		return nil
	}
	if s.file != nil && s.file.full(s.w.Buffered(), len(s.buf)) {
		// Between two events, and with the buffer written out first:
		// no event is split across two files.
		if err := s.w.Flush(); err != nil {
			return err
		}
		if err := s.file.rotate(); err != nil {
			return err
		}
		s.header()
	}
	_, err := s.w.Write(s.buf)
	return err
}

func (s *sink) flush() error { return s.w.Flush() }

// reopen opens the output file again (SIGUSR1), once the events so far
// are written to the file they were meant for. A flush that fails is a
// write error (write); a file that cannot be reopened is not: the file
// already open stays in use (reopen).
func (s *sink) reopen() (write, reopen error) {
	if s.file == nil {
		return nil, nil
	}
	if err := s.w.Flush(); err != nil {
		return err, nil
	}
	if err := s.file.reopen(); err != nil {
		return nil, err
	}
	if s.file.empty(0) {
		s.header()
	}
	return nil, nil
}

// close flushes the events and closes the output file.
func (s *sink) close() error {
	err := s.w.Flush()
	if s.file != nil {
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// printOut writes what the user asked to read (--help, --version, the
// probe's report) to stdout. As in coreutils, a write that fails (a full
// disk, a closed pipe) is an error: one line on stderr, exit status 1.
func printOut(stdout, stderr io.Writer, b []byte) int {
	if _, err := stdout.Write(b); err != nil {
		diagf(stderr, "fstrace: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// dropCaps sheds the capabilities fstrace no longer needs once attached:
// all but CAP_BPF, and CAP_DAC_READ_SEARCH to read the filter file again on
// SIGHUP, or the exporter's web config and certificates, which it reads
// for each connection. A command it launches keeps the privileges fstrace
// was given: it is started first.
func dropCaps(cfg *config, stderr io.Writer) error {
	var keep []int
	if cfg.filterFile != "" || cfg.webConfig != "" {
		keep = append(keep, unix.CAP_DAC_READ_SEARCH)
	}
	err := tracer.DropCapabilities(keep...)
	if errors.Is(err, tracer.ErrCapsKept) {
		if !cfg.quiet {
			diagf(stderr, "fstrace: note: %v\n", err)
		}
		return nil
	}
	return err
}

// envOptions sets the tracer's options that the environment tunes: the
// library reads no environment itself.
func envOptions(o tracer.Options) tracer.Options {
	// The raw tracepoints stay reachable for comparison (BENCHMARKS.md).
	o.RawSyscallTracepoints = os.Getenv("FSTRACE_SYSCALL_HOOKS") == "raw"
	o.VerifierLog = os.Getenv("FSTRACE_VERIFIER_LOG") != ""
	return o
}

// verifierHint says how to see the log of a program the verifier rejected.
func verifierHint(w io.Writer, err error) {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && os.Getenv("FSTRACE_VERIFIER_LOG") == "" {
		diagf(w, "fstrace: FSTRACE_VERIFIER_LOG=1 prints the verifier's log\n")
	}
}

// diagf writes one of fstrace's messages to stderr (w). A write that fails
// is dropped: stderr is where fstrace reports failures, so there is nowhere
// left to report that one, and the exit status says the rest.
func diagf(w io.Writer, format string, a ...any) {
	_, _ = fmt.Fprintf(w, format, a...)
}

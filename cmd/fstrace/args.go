package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
	"github.com/fstrace/fstrace/pkg/tracer"
)

var version = "0.1.0-dev"

var errHelp = errors.New("help requested")

// listFlag collects a repeatable flag's values, each of which may be a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// repeatFlag collects a repeatable flag's values as given (a glob may hold
// a comma).
type repeatFlag []string

func (l *repeatFlag) String() string     { return strings.Join(*l, " ") }
func (l *repeatFlag) Set(v string) error { *l = append(*l, v); return nil }
func (l *listFlag) Set(v string) error {
	for _, w := range strings.Split(v, ",") {
		*l = append(*l, strings.TrimSpace(w))
	}
	return nil
}

type config struct {
	output      string
	kinds       events.KindMask // the kinds to attach programs for (see traceKinds)
	kindsGiven  bool            // -e was given
	fileKinds   events.KindMask // the filter file's events: at start, 0 when absent
	count       uint64
	duration    time.Duration
	ringSize    int
	hookMode    tracer.HookMode
	filter      filters.Set
	eachCall    events.KindMask
	filterFile  string
	metricsAddr string
	webConfig   string
	onLoss      string
	quiet       bool
	version     bool
	command     []string
	pidTree     []int // --pid-tree: these processes and their descendants
	kill        bool  // stop COMMAND when tracing stops
	readyFile   string
	outputFile  string // --output-file: events go there, not to stdout
	outputMax   int64  // --output-file-max-size: rotate before a file passes it; 0 never
	outputKeep  int    // --output-file-count: rotated files kept
	timeStyle   events.TimeStyle
	color       string // auto, always, never
	extended    bool   // -x: who did it in full, in text
	cmdline     events.CmdlineMode
	post        postFilter
}

const usageText = `Usage: fstrace [OPTIONS] [-- COMMAND [ARGS...]]
       fstrace probe [-o text|json]

Report filesystem events system-wide, or only those of COMMAND and its
descendants. Needs root (or CAP_BPF and CAP_PERFMON).

Options:
  -o, --output FORMAT   text (default), json (one object per line), none
  -e, --events LIST     event kinds, comma-separated, of: open, create,
                        mkdir, mknod, symlink, link, unlink, rmdir, rename,
                        setattr, xattr (set and remove of extended
                        attributes: ACLs, capabilities, labels), mount,
                        umount (the default: all of these),
                        read, write, close, read:each, write:each, all.
                        A read or write is reported once per open file and
                        counted in its close; read:each and write:each
                        report every call; all is every kind
  -n, --count N         stop tracing after N events (COMMAND runs on)
  -d, --duration D      stop tracing after D (e.g. 10s, 5m; a bare number is
                        seconds; COMMAND runs on)
      --kill            when tracing stops before COMMAND ends (-n, -d, a
                        closed output), stop COMMAND too (SIGTERM)
      --ring-size SIZE  bytes per CPU ring buffer, power of two, at least
                        the page size (e.g. 4M)
      --hook-mode MODE  auto (default), fentry, kprobe or syscall: how to hook
                        the kernel; auto takes the first the kernel accepts
      --ready-file PATH once tracing has begun, write fstrace's pid to PATH
                        (atomically; removed at exit), also with -q

Output file:
      --output-file PATH    write the events to PATH (appended to, created
                            with mode 0640) instead of stdout; SIGUSR1 opens
                            PATH again (after logrotate has moved it)
      --output-file-max-size SIZE
                            rotate PATH before it grows past SIZE (bytes, or
                            K, M, G; default 100M; 0: never), only between
                            two events: PATH becomes PATH.1, PATH.1 PATH.2…
      --output-file-count N rotated files kept, PATH.1 to PATH.N (default 5;
                            0: a full PATH is removed)

Text output:
  -t                    the same as --time=local
      --time STYLE      the TIME column: local (time of day, the default),
                        utc (date and time), relative (seconds since the
                        start) or none; all with microseconds
      --color WHEN      auto (default: on a terminal, unless NO_COLOR is
                        set), always or never
  -x, --extended        also uid, gid, euid, egid, auid, exe and the command
                        line (see --cmdline), at the end of each line

Both outputs:
      --cmdline WHEN    which events carry the command line: first (a
                        process's first, and its first after an exec; the
                        default), every or never

Filters (in the kernel; repeatable, and comma lists; AND across flags, OR
within one; the --exclude- forms drop what they match):
      --pid PID             thread group ids
      --pid-tree PID        these processes and all their descendants,
                            those running at start and those to come
                            (followed in the kernel, as -- COMMAND's);
                            fstrace stops when all of them have exited
      --uid USER            user names or ids
      --gid GROUP           group names or ids
      --comm NAME           process names (at most 15 bytes)
      --cgroup CGROUP       cgroup v2 paths (or ids)
      --container ID        containers, by an id prefix of 12 to 64 hex
                            digits (docker ps's short id will do)
      --host-only           host processes only: outside any container's
                            cgroup, in the initial cgroup and mount
                            namespaces (those of pid 1)
      --containers-only     all other processes
      --path PATH           the path and everything below it; for rename
                            and link either path counts, and for a process
                            in a container or chroot its host path too
      --failed              failed operations only
      --exclude-pid, --exclude-uid, --exclude-gid, --exclude-comm,
      --exclude-cgroup, --exclude-path, --exclude-container
      --filter-file FILE    more filters from a YAML or JSON file, added to
                            the flags' and read again on SIGHUP; its events:
                            are what is traced when -e is not given, and
                            may only narrow -e when it is

Filters in fstrace itself (after the kernel's; counted in the summary):
      --succeeded           successful operations only
      --changes             only what modifies: create, mkdir, mknod,
                            symlink, link, unlink, rmdir, rename, setattr,
                            xattr, write, and close of a file opened for
                            writing
      --path-glob PATTERN   paths matching a glob (* ? [...]): the whole
                            path when PATTERN has a '/', else its last
                            element; for rename and link either path counts

Metrics and loss:
      --metrics-addr ADDR   serve Prometheus metrics on ADDR (/metrics, and
                            /healthz); ":9464" means 127.0.0.1:9464
      --web.config.file F   TLS and basic auth for it (exporter-toolkit format)
      --on-loss warn|exit   when the kernel drops events because a ring is
                            full: warn on stderr (default), or stop tracing,
                            stop COMMAND (SIGTERM) and exit 3
  -q, --quiet           no start line or summary on stderr
  -V, --version         print the version and exit
  -h, --help            show this help

Signals: SIGINT and SIGTERM stop tracing (with COMMAND, they go to COMMAND
and tracing stops when it ends); SIGHUP reloads --filter-file, and without
one it is handled as SIGTERM; SIGUSR1 reopens --output-file (and does
nothing without one).

Exit status: 0 on success, 1 when tracing fails, 2 on bad usage, 3 when
events were lost and --on-loss=exit; with COMMAND, COMMAND's exit status.
`

func parseArgs(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{output: "text"}
	fs := flag.NewFlagSet("fstrace", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var eventsList, countStr, durationStr, ringStr string
	for _, name := range []string{"o", "output"} {
		fs.StringVar(&cfg.output, name, "text", "")
	}
	for _, name := range []string{"e", "events"} {
		fs.StringVar(&eventsList, name, "", "")
	}
	for _, name := range []string{"n", "count"} {
		fs.StringVar(&countStr, name, "", "")
	}
	for _, name := range []string{"d", "duration"} {
		fs.StringVar(&durationStr, name, "", "")
	}
	fs.StringVar(&ringStr, "ring-size", "", "")
	fs.StringVar((*string)(&cfg.hookMode), "hook-mode", string(tracer.ModeAuto), "")
	ff := filterFlags(fs)
	fs.BoolVar(&cfg.post.succeeded, "succeeded", false, "")
	fs.BoolVar(&cfg.post.changes, "changes", false, "")
	var globs repeatFlag
	fs.Var(&globs, "path-glob", "")
	var pidTree listFlag
	fs.Var(&pidTree, "pid-tree", "")
	fs.BoolVar(&cfg.kill, "kill", false, "")
	fs.StringVar(&cfg.readyFile, "ready-file", "", "")
	var outMaxStr, outKeepStr string
	fs.StringVar(&cfg.outputFile, "output-file", "", "")
	fs.StringVar(&outMaxStr, "output-file-max-size", "", "")
	fs.StringVar(&outKeepStr, "output-file-count", "", "")
	localTime := false
	fs.BoolVar(&localTime, "t", false, "")
	var timeStr string
	fs.StringVar(&timeStr, "time", "local", "")
	fs.StringVar(&cfg.color, "color", "auto", "")
	for _, name := range []string{"x", "extended"} {
		fs.BoolVar(&cfg.extended, name, false, "")
	}
	var cmdlineStr string
	fs.StringVar(&cmdlineStr, "cmdline", "first", "")
	fs.StringVar(&cfg.filterFile, "filter-file", "", "")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "")
	fs.StringVar(&cfg.webConfig, "web.config.file", "", "")
	fs.StringVar(&cfg.onLoss, "on-loss", "warn", "")
	for _, name := range []string{"q", "quiet"} {
		fs.BoolVar(&cfg.quiet, name, false, "")
	}
	for _, name := range []string{"V", "version"} {
		fs.BoolVar(&cfg.version, name, false, "")
	}
	help := false
	for _, name := range []string{"h", "help"} {
		fs.BoolVar(&help, name, false, "")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usageError(err)
	}
	if help {
		return nil, errHelp
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	rest := fs.Args()
	if len(rest) > 0 {
		// flag stops at "--" and drops it, or at the first non-flag.
		if i := indexOf(args, "--"); i < 0 || len(args)-i-1 != len(rest) {
			return nil, fmt.Errorf("unexpected argument %q (put a command after --)", rest[0])
		}
		cfg.command = rest
	} else if i := indexOf(args, "--"); i >= 0 && i == len(args)-1 {
		return nil, errors.New("no command after --")
	}

	for _, v := range pidTree {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("invalid --pid-tree %q (want a process id)", v)
		}
		cfg.pidTree = append(cfg.pidTree, n)
	}
	if len(cfg.pidTree) > 0 && len(cfg.command) > 0 {
		return nil, errors.New("--pid-tree and -- COMMAND do not go together (COMMAND's tree is traced already)")
	}

	switch cfg.hookMode {
	case tracer.ModeAuto, tracer.ModeFentry, tracer.ModeKprobe, tracer.ModeSyscall:
	default:
		return nil, fmt.Errorf("invalid --hook-mode %q (want auto, fentry, kprobe or syscall)", cfg.hookMode)
	}
	switch cfg.onLoss {
	case "warn", "exit":
	default:
		return nil, fmt.Errorf("invalid --on-loss %q (want warn or exit)", cfg.onLoss)
	}
	if set["metrics-addr"] {
		addr, err := metricsAddr(cfg.metricsAddr)
		if err != nil {
			return nil, err
		}
		cfg.metricsAddr = addr
	}
	if cfg.webConfig != "" {
		if cfg.metricsAddr == "" {
			return nil, errors.New("--web.config.file needs --metrics-addr")
		}
		if err := web.Validate(cfg.webConfig); err != nil {
			return nil, fmt.Errorf("invalid --web.config.file: %s", printable(err.Error()))
		}
	}
	switch cfg.output {
	case "text", "json", "none":
	default:
		return nil, fmt.Errorf("invalid --output %q (want text, json or none)", cfg.output)
	}
	if eventsList != "" || set["e"] || set["events"] {
		m, each, err := parseEvents(eventsList)
		if err != nil {
			return nil, err
		}
		cfg.kinds, cfg.eachCall, cfg.kindsGiven = m, each, true
	}
	if err := buildFilter(cfg, ff); err != nil {
		return nil, err
	}
	if cfg.filter.Failed && cfg.post.succeeded {
		return nil, errors.New("--failed and --succeeded exclude each other")
	}
	for _, g := range globs {
		if err := checkGlob(g); err != nil {
			return nil, fmt.Errorf("invalid --path-glob %q: %s", g, printable(err.Error()))
		}
	}
	cfg.post.globs = globs
	if set["filter-file"] {
		if cfg.filterFile == "" {
			return nil, errors.New("invalid --filter-file: empty path")
		}
		ff, err := filters.Load(cfg.filterFile)
		if err != nil {
			return nil, fmt.Errorf("invalid --filter-file: %s", printable(err.Error()))
		}
		cfg.fileKinds = ff.Events
		if extra := ff.Events &^ tracer.SupportedKinds; extra != 0 {
			return nil, fmt.Errorf("invalid --filter-file: %s: events: %s not supported yet", printable(cfg.filterFile), extra)
		}
		if extra := ff.Events &^ cfg.kinds; cfg.kindsGiven && extra != 0 {
			return nil, fmt.Errorf("invalid --filter-file: %s: events: %s not traced (-e gives %s; the file may only narrow it)", printable(cfg.filterFile), extra, cfg.kinds)
		}
	}
	if cfg.post.changes {
		// --changes narrows what -e or the file asks for; alone, it
		// is every kind that modifies.
		if given := cfg.kinds | cfg.fileKinds; given != 0 {
			if given&changeKinds == 0 {
				return nil, fmt.Errorf("--changes leaves none of %s", given)
			}
			if cfg.kindsGiven {
				cfg.kinds &= changeKinds
			}
		} else {
			cfg.kinds, cfg.kindsGiven = changeKinds, true
		}
	}
	switch {
	case set["time"]:
		st, ok := timeStyles[timeStr]
		if !ok {
			return nil, fmt.Errorf("invalid --time %q (want local, utc, relative or none)", timeStr)
		}
		if localTime && st != events.TimeLocal {
			return nil, fmt.Errorf("-t and --time=%s disagree", timeStr)
		}
		cfg.timeStyle = st
	default:
		cfg.timeStyle = events.TimeLocal
	}
	switch cfg.color {
	case "auto", "always", "never":
	default:
		return nil, fmt.Errorf("invalid --color %q (want auto, always or never)", cfg.color)
	}
	switch cmdlineStr {
	case "first":
		cfg.cmdline = events.CmdlineFirst
	case "every":
		cfg.cmdline = events.CmdlineEvery
	case "never":
		cfg.cmdline = events.CmdlineNever
	default:
		return nil, fmt.Errorf("invalid --cmdline %q (want first, every or never)", cmdlineStr)
	}
	if set["ready-file"] && cfg.readyFile == "" {
		return nil, errors.New("invalid --ready-file: empty path")
	}
	if err := outputFileFlags(cfg, set, outMaxStr, outKeepStr); err != nil {
		return nil, err
	}
	if countStr != "" || set["n"] || set["count"] {
		n, err := strconv.ParseUint(countStr, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("invalid --count %q (want a positive whole number)", countStr)
		}
		cfg.count = n
	}
	if durationStr != "" || set["d"] || set["duration"] {
		d, err := parseDuration(durationStr)
		if err != nil {
			return nil, err
		}
		cfg.duration = d
	}
	if ringStr != "" || set["ring-size"] {
		n, err := parseSize(ringStr)
		if err != nil {
			return nil, err
		}
		cfg.ringSize = n
	}
	return cfg, nil
}

func indexOf(args []string, s string) int {
	for i, a := range args {
		if a == s {
			return i
		}
	}
	return -1
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, err2 := strconv.ParseFloat(s, 64)
		if err2 != nil {
			return 0, fmt.Errorf("invalid --duration %q (want e.g. 10s, 1m30s, or seconds)", s)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid --duration %q (must be positive)", s)
	}
	return d, nil
}

// Defaults of the --output-file flags.
const (
	defaultOutputMax  = 100 << 20
	defaultOutputKeep = 5
)

// outputFileFlags checks --output-file and the flags that go with it. The
// file is opened by run, not here: parsing touches no file.
func outputFileFlags(cfg *config, set map[string]bool, maxStr, keepStr string) error {
	if !set["output-file"] {
		for _, f := range []string{"output-file-max-size", "output-file-count"} {
			if set[f] {
				return fmt.Errorf("--%s needs --output-file", f)
			}
		}
		return nil
	}
	if cfg.outputFile == "" {
		return errors.New("invalid --output-file: empty path")
	}
	if cfg.output == "none" {
		return errors.New("--output-file and -o none do not go together (none writes no events)")
	}
	cfg.outputMax, cfg.outputKeep = defaultOutputMax, defaultOutputKeep
	if set["output-file-max-size"] {
		num, mult, ok := sizeSuffix(maxStr)
		n, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || n < 0 || n > 1<<50/mult {
			return fmt.Errorf("invalid --output-file-max-size %q (want bytes, or a K, M or G suffix, e.g. 100M; 0 for no rotation)", maxStr)
		}
		cfg.outputMax = n * mult
	}
	if set["output-file-count"] {
		n, err := strconv.Atoi(keepStr)
		if err != nil || n < 0 || n > 1000 {
			return fmt.Errorf("invalid --output-file-count %q (want a whole number from 0 to 1000)", keepStr)
		}
		cfg.outputKeep = n
	}
	return nil
}

// sizeSuffix splits a size into its number and the multiplier of its
// suffix: none, K, M or G (KiB, MB… mean the same: powers of two).
func sizeSuffix(s string) (num string, mult int64, ok bool) {
	num = strings.TrimRight(s, "kKmMgGiIbB")
	switch strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(s[len(num):], "B"), "i")) {
	case "":
		return num, 1, true
	case "K":
		return num, 1 << 10, true
	case "M":
		return num, 1 << 20, true
	case "G":
		return num, 1 << 30, true
	}
	return num, 0, false
}

func parseSize(s string) (int, error) {
	num, mult64, ok := sizeSuffix(s)
	if !ok {
		return 0, fmt.Errorf("invalid --ring-size %q (want bytes, or a K, M or G suffix)", s)
	}
	mult := int(mult64)
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || n&(n-1) != 0 || n > 1<<40/mult {
		return 0, fmt.Errorf("invalid --ring-size %q (want a power of two, e.g. 4M)", s)
	}
	// A ring's size is a 32-bit count in the kernel, a power of two.
	if n*mult > 1<<31 {
		return 0, fmt.Errorf("invalid --ring-size %q (at most 2G, the kernel's limit for one ring)", s)
	}
	// The kernel maps a ring in whole pages.
	if page := os.Getpagesize(); n*mult < page {
		return 0, fmt.Errorf("invalid --ring-size %q (want at least the page size, %d bytes)", s, page)
	}
	return n * mult, nil
}

var timeStyles = map[string]events.TimeStyle{
	"local": events.TimeLocal, "utc": events.TimeUTC, "relative": events.TimeRelative, "none": events.TimeNone,
}

// usageError rewords the flag package's errors into one line that names
// the flag.
func usageError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag %s (fstrace --help lists them)", printable("-"+name))
	}
	if arg, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return fmt.Errorf("bad flag syntax: %s (fstrace --help lists the flags)", printable(arg))
	}
	// One line whatever the flag package quotes: an argument may hold a
	// newline (FuzzParseArgs: "-=\n0").
	if printable(msg) != msg {
		return errors.New(escapeControls(msg))
	}
	return err
}

// eventWords are the words -e takes.
const eventWords = "open, create, mkdir, mknod, symlink, link, unlink, rmdir, rename, setattr, mount, umount, read, write, close, xattr, read:each, write:each, all"

// parseEvents parses -e: the kinds, and those among read and write reported
// on every call (read:each, write:each).
func parseEvents(list string) (kinds, each events.KindMask, err error) {
	for _, w := range strings.Split(list, ",") {
		w = strings.TrimSpace(w)
		if k, ok := strings.CutSuffix(w, ":each"); ok && (k == "read" || k == "write") {
			kind, _ := events.ParseKind(k)
			each |= events.MaskOf(kind)
			w = k
		}
		m, err := events.ParseKindList(w)
		if err != nil {
			return 0, 0, fmt.Errorf("invalid --events: unknown event kind %q (valid: %s)", w, eventWords)
		}
		kinds |= m
	}
	if kinds&events.AllKinds == events.AllKinds {
		kinds = tracer.SupportedKinds
	}
	if extra := kinds &^ tracer.SupportedKinds; extra != 0 {
		return 0, 0, fmt.Errorf("invalid --events: %s not supported yet", extra)
	}
	return kinds, each, nil
}

// filterArgs are the values of the kernel's filter flags: a list flag per
// dimension and its exclude form, a bool per switch (filters.Dimensions
// and filters.Switches).
type filterArgs struct {
	lists    map[string]*listFlag
	switches map[string]*bool
}

// filterFlags registers the flags of the filters tables in fs.
func filterFlags(fs *flag.FlagSet) filterArgs {
	a := filterArgs{lists: map[string]*listFlag{}, switches: map[string]*bool{}}
	for _, d := range filters.Dimensions {
		for _, exclude := range []bool{false, true} {
			l := new(listFlag)
			a.lists[d.Flag(exclude)] = l
			fs.Var(l, d.Flag(exclude), "")
		}
	}
	for _, w := range filters.Switches {
		a.switches[w.Name] = fs.Bool(w.Name, false, "")
	}
	return a
}

// flagChecks are the CLI's own checks of a dimension's values, before
// the dimension's parser.
var flagChecks = map[string]func(v string) error{
	"path": func(p string) error {
		if strings.ContainsAny(p, "*?[") {
			return fmt.Errorf("%q is a glob: --path takes a directory or file (and all below it); use --path-glob %s", p, shellWord(p))
		}
		return nil
	},
}

// helpOrder is the dimensions in the order --help lists them, which is
// the order buildFilter checks them in: the first bad flag reported is
// the first in --help.
func helpOrder() []filters.Dimension {
	ds := slices.Clone(filters.Dimensions)
	at := func(d filters.Dimension) int { return strings.Index(usageText, "\n      --"+d.Name+" ") }
	slices.SortStableFunc(ds, func(a, b filters.Dimension) int { return at(a) - at(b) })
	return ds
}

// buildFilter turns the filter flags into a filter set; a bad value is an
// error naming the flag.
func buildFilter(cfg *config, a filterArgs) error {
	var f filters.Set
	for _, w := range filters.Switches {
		w.Set(&f, *a.switches[w.Name])
	}
	if f.HostOnly && f.ContainersOnly {
		return errors.New("--host-only and --containers-only exclude each other")
	}
	for _, exclude := range []bool{false, true} {
		for _, d := range helpOrder() {
			name := d.Flag(exclude)
			err := func() error {
				for _, v := range *a.lists[name] {
					if check := flagChecks[d.Name]; check != nil {
						if err := check(v); err != nil {
							return err
						}
					}
				}
				return d.Add(&f, 0, exclude, *a.lists[name]...)
			}()
			if err != nil {
				return fmt.Errorf("invalid --%s: %s", name, printable(err.Error()))
			}
		}
	}
	cfg.filter = f
	return nil
}

// metricsAddr checks a listen address; a bare ":PORT" binds to loopback, so
// that serving on every interface is always a choice written out
// (0.0.0.0:PORT or [::]:PORT).
func metricsAddr(a string) (string, error) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", fmt.Errorf("invalid --metrics-addr %q (want HOST:PORT, e.g. 127.0.0.1:9464)", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("invalid --metrics-addr %q: bad port", a)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// escapeControls writes the control characters of s as Go escapes (\n,
// \x01), leaving the rest as it is.
func escapeControls(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// printable keeps an error line one line: text holding a control character
// (a newline in an argument) is shown quoted, Go-style.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
	"github.com/fstrace/fstrace/pkg/tracer"
)

// fakeTracer stands in for the tracer: the session's methods run without
// BPF. Close is called from the session's own goroutine, hence the lock.
type fakeTracer struct {
	mu       sync.Mutex
	closes   int
	closed   chan struct{}
	released int
	stats    tracer.Stats
	sets     []filters.Set
}

func newFakeTracer() *fakeTracer { return &fakeTracer{closed: make(chan struct{})} }

func (f *fakeTracer) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closes++; f.closes == 1 {
		close(f.closed)
	}
	return nil
}

func (f *fakeTracer) ReleaseBatch([]*events.Event) { f.mu.Lock(); f.released++; f.mu.Unlock() }

func (f *fakeTracer) Stats() (tracer.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats, nil
}

func (f *fakeTracer) SetFilter(s filters.Set) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets = append(f.sets, s)
	return nil
}

func (f *fakeTracer) Hooks() map[string]string { return nil }
func (f *fakeTracer) HasBackups() bool         { return false }

// closedOnce waits for the session's Close (it runs in a goroutine) and
// says whether there was exactly one.
func (f *fakeTracer) closedOnce(t *testing.T) {
	t.Helper()
	select {
	case <-f.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the tracer was not closed")
	}
	time.Sleep(10 * time.Millisecond) // a second Close would be under way by now
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closes != 1 {
		t.Errorf("%d Close calls, want 1", f.closes)
	}
}

// testSession is a session with the flags args, writing to out (stdout)
// and errs (stderr).
func testSession(t *testing.T, args ...string) (s *session, tr *fakeTracer, out, errs *bytes.Buffer) {
	t.Helper()
	cfg, err := parseArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return sessionTo(cfg, &bytes.Buffer{}, nil)
}

func sessionTo(cfg *config, out *bytes.Buffer, file *rotatingFile) (*session, *fakeTracer, *bytes.Buffer, *bytes.Buffer) {
	tr := newFakeTracer()
	errs := &bytes.Buffer{}
	s := &session{cfg: cfg, tr: tr, out: newSink(cfg, out, file, time.Unix(0, 0)), stderr: errs,
		kinds: cfg.traceKinds(), status: exitOK}
	return s, tr, out, errs
}

func create(seq uint64, path string, ret int32) *events.Event {
	return &events.Event{Seq: seq, Kind: events.KindCreate, PID: 1, Path: path, Ret: ret}
}

func jsonLines(evs ...*events.Event) string {
	var enc events.JSONEncoder
	var b []byte
	for _, ev := range evs {
		b = enc.Append(b, ev)
	}
	return string(b)
}

// startChild runs argv as a stand-in for -- COMMAND.
func startChild(t *testing.T, argv ...string) (*launcher, <-chan int) {
	t.Helper()
	c := exec.Command(argv[0], argv[1:]...)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		err := c.Wait()
		done <- exitStatus(c, err)
	}()
	t.Cleanup(func() { c.Process.Kill() })
	return &launcher{argv: argv, cmd: c}, done
}

func status(t *testing.T, done <-chan int) int {
	t.Helper()
	select {
	case st := <-done:
		return st
	case <-time.After(5 * time.Second):
		t.Fatal("the command did not end")
		return -1
	}
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// A batch is written out and flushed; a seq gap is a loss, warned about;
// -n stops tracing at the count and later events are not written.
func TestSessionBatch(t *testing.T) {
	s, tr, out, errs := testSession(t, "-o", "json", "-n", "3")
	evs := []*events.Event{create(1, "/a", 0), create(2, "/b", 0), create(5, "/c", 0), create(6, "/d", 0)}
	s.onBatch(evs)
	expect(t, "stdout", out.String(), jsonLines(evs[:3]...))
	expect(t, "stderr", errs.String(), "fstrace: WARNING: 2 events lost so far (ring buffer full: a larger --ring-size or filters help)\n")
	if s.n != 3 || s.lost != 2 || s.lastSeq != 5 || s.dropped != 0 || !s.stopping || s.status != exitOK {
		t.Errorf("n %d lost %d lastSeq %d dropped %d stopping %v status %d, want 3 2 5 0 true 0", s.n, s.lost, s.lastSeq, s.dropped, s.stopping, s.status)
	}
	tr.closedOnce(t)
	if tr.released != 1 {
		t.Errorf("%d batches released, want 1", tr.released)
	}
}

// The output is flushed once no batch is waiting, not after each one.
func TestSessionFlushesPerBurst(t *testing.T) {
	s, _, out, _ := testSession(t, "-o", "json")
	evc := make(chan []*events.Event, 1)
	evc <- nil
	s.evc = evc
	s.onBatch([]*events.Event{create(1, "/a", 0)})
	expect(t, "stdout with a batch waiting", out.String(), "")
	<-evc
	s.onBatch([]*events.Event{create(2, "/b", 0)})
	expect(t, "stdout", out.String(), jsonLines(create(1, "/a", 0), create(2, "/b", 0)))
}

// fstrace's own filters drop events after the seq check: counted, not
// written, and no loss.
func TestSessionPostFilter(t *testing.T) {
	s, _, out, errs := testSession(t, "-o", "json", "--succeeded")
	s.onBatch([]*events.Event{create(1, "/a", -2), create(2, "/b", 0)})
	expect(t, "stdout", out.String(), jsonLines(create(2, "/b", 0)))
	expect(t, "stderr", errs.String(), "")
	if s.n != 1 || s.dropped != 1 || s.lost != 0 || s.lastSeq != 2 {
		t.Errorf("n %d dropped %d lost %d lastSeq %d, want 1 1 0 2", s.n, s.dropped, s.lost, s.lastSeq)
	}
}

// The kernel's loss counters warn at most every 10 seconds; a total that
// does not grow says nothing.
func TestSessionLossCheck(t *testing.T) {
	s, tr, _, errs := testSession(t)
	tr.stats.Lost = map[events.Kind]uint64{events.KindOpen: 4}
	s.onLossCheck()
	tr.stats.Lost = map[events.Kind]uint64{events.KindOpen: 6}
	s.onLossCheck()
	if s.lost != 6 {
		t.Errorf("lost %d, want 6", s.lost)
	}
	s.lastWarn = time.Now().Add(-11 * time.Second)
	s.onLossCheck() // no more lost
	tr.stats.Lost = map[events.Kind]uint64{events.KindOpen: 6, events.KindCreate: 1}
	s.onLossCheck()
	expect(t, "stderr", errs.String(), "fstrace: WARNING: 4 events lost so far (ring buffer full: a larger --ring-size or filters help)\n"+
		"fstrace: WARNING: 7 events lost so far (ring buffer full: a larger --ring-size or filters help)\n")
	if s.stopping || s.status != exitOK {
		t.Errorf("stopping %v status %d after a loss without --on-loss=exit", s.stopping, s.status)
	}
}

// --on-loss=exit: one line, status 3 whatever the command's, tracing stops.
func TestSessionLossExit(t *testing.T) {
	s, tr, _, errs := testSession(t, "--on-loss=exit")
	s.onLost(3)
	s.onLost(5)
	s.onCommandExit(0)
	expect(t, "stderr", errs.String(), "fstrace: 3 events lost (ring buffer full); stopping tracing, as --on-loss=exit asks\n")
	if s.status != exitLoss || s.lost != 5 {
		t.Errorf("status %d lost %d, want %d 5", s.status, s.lost, exitLoss)
	}
	tr.closedOnce(t)
}

// --on-loss=exit with a command: it is sent SIGTERM.
func TestSessionLossExitStopsCommand(t *testing.T) {
	s, tr, _, errs := testSession(t, "--on-loss=exit", "--", "sleep", "30")
	s.cmd, s.done = startChild(t, "sleep", "30")
	s.onLost(1)
	expect(t, "stderr", errs.String(), "fstrace: 1 event lost (ring buffer full); stopping tracing, and stopping sleep (SIGTERM), as --on-loss=exit asks\n")
	if st := status(t, s.done); st != 128+int(syscall.SIGTERM) {
		t.Errorf("command status %d, want %d", st, 128+int(syscall.SIGTERM))
	}
	tr.closedOnce(t)
}

// Without a command a signal stops tracing; with one, SIGINT is left to
// the command (the terminal sent it its own) and the others are passed on.
func TestSessionSignals(t *testing.T) {
	s, tr, _, _ := testSession(t)
	s.onSignal(syscall.SIGTERM)
	s.onSignal(syscall.SIGINT)
	tr.closedOnce(t)

	s, tr, _, errs := testSession(t, "--", "sleep", "30")
	s.cmd, s.done = startChild(t, "sleep", "30")
	done := s.done
	s.onSignal(syscall.SIGINT)
	select {
	case st := <-done:
		t.Fatalf("SIGINT was passed on: the command ended with %d", st)
	case <-time.After(100 * time.Millisecond):
	}
	s.onSignal(syscall.SIGHUP)
	st := status(t, done)
	if st != 128+int(syscall.SIGHUP) {
		t.Errorf("command status %d, want %d", st, 128+int(syscall.SIGHUP))
	}
	if s.stopping {
		t.Error("a signal passed on to the command stopped tracing")
	}
	s.onCommandExit(st)
	if s.done != nil || !s.stopping || s.status != st {
		t.Errorf("after the command's exit: done %v stopping %v status %d, want nil true %d", s.done, s.stopping, s.status, st)
	}
	s.onSignal(syscall.SIGTERM) // the command is gone: a stop, already under way
	tr.closedOnce(t)
	expect(t, "stderr", errs.String(), "")
}

// The timer, and the end of a --pid-tree, stop tracing; the tree's channel
// is not waited on again.
func TestSessionTimeoutAndTreeGone(t *testing.T) {
	s, tr, _, _ := testSession(t)
	gone := make(chan struct{})
	close(gone)
	s.gone = gone
	s.timeout = time.After(0)
	for range 2 {
		if !s.next() {
			t.Fatal("next ended with the tracer still open")
		}
	}
	if s.gone != nil || !s.stopping {
		t.Errorf("gone %v stopping %v, want nil true", s.gone, s.stopping)
	}
	tr.closedOnce(t)
}

// -d with --kill stops the command when the time is up, before the
// tracer has drained (the fake never drains here): its status is the
// SIGTERM's.
func TestSessionTimeoutKills(t *testing.T) {
	s, tr, _, _ := testSession(t, "-d", "1s", "--kill", "--", "sleep", "30")
	s.cmd, s.done = startChild(t, "sleep", "30")
	s.timeout = time.After(0)
	if !s.next() {
		t.Fatal("next ended with the tracer still open")
	}
	tr.closedOnce(t)
	if st := status(t, s.done); st != 128+int(syscall.SIGTERM) {
		t.Errorf("status %d, want %d", st, 128+int(syscall.SIGTERM))
	}

	// Without --kill the command runs on.
	s, _, _, _ = testSession(t, "-d", "1s", "--", "sleep", "30")
	s.cmd, s.done = startChild(t, "sleep", "30")
	s.timeout = time.After(0)
	s.next()
	select {
	case st := <-s.done:
		t.Errorf("the command ended (status %d) without --kill", st)
	case <-time.After(200 * time.Millisecond):
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// A closed stdout (EPIPE) stops tracing quietly, with status 0; another
// write error is reported, with status 1. Either way the later events are
// counted, not written, and the summary follows.
func TestSessionWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		stderr string
		status int
	}{
		{syscall.EPIPE, "fstrace: 3 events, 0 lost\n", exitOK},
		{syscall.EIO, "fstrace: write output: input/output error\nfstrace: 3 events, 0 lost\n", exitFailure},
	} {
		cfg, err := parseArgs([]string{"-o", "json"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		tr := newFakeTracer()
		errs := &bytes.Buffer{}
		s := &session{cfg: cfg, tr: tr, out: newSink(cfg, failWriter{tc.err}, nil, time.Unix(0, 0)), stderr: errs, status: exitOK}
		// The first batch goes into the buffer; its flush fails, and
		// the next write says so.
		s.onBatch([]*events.Event{create(1, "/a", 0)})
		if s.outErr != nil || s.stopping {
			t.Errorf("%v: outErr %v stopping %v after the first batch", tc.err, s.outErr, s.stopping)
		}
		s.onBatch([]*events.Event{create(2, "/b", 0)})
		s.onBatch([]*events.Event{create(3, "/c", 0)})
		s.onReopen() // the output is gone: nothing to reopen
		if !errors.Is(s.outErr, tc.err) || !s.stopping {
			t.Errorf("%v: outErr %v stopping %v", tc.err, s.outErr, s.stopping)
		}
		if st := s.finish(); st != tc.status {
			t.Errorf("%v: status %d, want %d", tc.err, st, tc.status)
		}
		expect(t, tc.err.Error()+": stderr", errs.String(), tc.stderr)
	}
}

// An error first seen when the output is closed is reported, status 1.
func TestSessionCloseError(t *testing.T) {
	cfg, err := parseArgs([]string{"-o", "json", "-q"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errs := &bytes.Buffer{}
	s := &session{cfg: cfg, tr: newFakeTracer(), out: newSink(cfg, failWriter{syscall.ENOSPC}, nil, time.Unix(0, 0)), stderr: errs, status: exitOK}
	evc := make(chan []*events.Event, 1)
	evc <- []*events.Event{create(1, "/a", 0)}
	close(evc)
	s.evc = evc
	if st := s.run(); st != exitFailure {
		t.Errorf("status %d, want %d", st, exitFailure)
	}
	expect(t, "stderr", errs.String(), "fstrace: write output: no space left on device\n")
}

// SIGUSR1 writes out the events so far to the file they were meant for
// and opens PATH again; a PATH that cannot be opened keeps the file in use.
func TestSessionReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ev")
	cfg, err := parseArgs([]string{"-o", "json", "--output-file", p}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	file, err := openRotating(p, cfg.outputMax, cfg.outputKeep)
	if err != nil {
		t.Fatal(err)
	}
	s, _, _, errs := sessionTo(cfg, nil, file)
	evc := make(chan []*events.Event, 1)
	evc <- nil // a batch waiting: no flush after the first
	s.evc = evc
	s.onBatch([]*events.Event{create(1, "/a", 0)})
	if err := os.Rename(p, p+".moved"); err != nil {
		t.Fatal(err)
	}
	s.onReopen()
	s.onBatch([]*events.Event{create(2, "/b", 0)})
	<-evc
	s.onBatch([]*events.Event{create(3, "/c", 0)})

	moved, err := os.ReadFile(p + ".moved")
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "the file moved away", string(moved), jsonLines(create(1, "/a", 0)))
	// PATH's directory is gone: reopening fails, writing goes on.
	gone := dir + ".gone"
	if err := os.Rename(dir, gone); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(gone) })
	s.onReopen()
	s.onBatch([]*events.Event{create(4, "/d", 0)})
	if err := s.out.close(); err != nil {
		t.Fatal(err)
	}
	expect(t, "stderr", errs.String(), "fstrace: reopen --output-file: open "+p+": no such file or directory (writing on to the file already open)\n")
	if s.status != exitOK || s.stopping {
		t.Errorf("status %d stopping %v after a failed reopen", s.status, s.stopping)
	}
	got, err := os.ReadFile(filepath.Join(gone, "ev"))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "the file reopened", string(got), jsonLines(create(2, "/b", 0), create(3, "/c", 0), create(4, "/d", 0)))
}

// SIGUSR1 without --output-file does nothing.
func TestSessionReopenStdout(t *testing.T) {
	s, _, out, errs := testSession(t, "-o", "json")
	s.onBatch([]*events.Event{create(1, "/a", 0)})
	s.onReopen()
	expect(t, "stdout", out.String(), jsonLines(create(1, "/a", 0)))
	expect(t, "stderr", errs.String(), "")
}

// SIGHUP with a filter file loads it again; one that asks for a kind not
// traced is refused and the filters in force stay.
func TestSessionReload(t *testing.T) {
	f := filepath.Join(t.TempDir(), "filters.yaml")
	if err := os.WriteFile(f, []byte("events: [open, create]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, tr, _, errs := testSession(t, "-e", "open,create", "--filter-file", f)
	hup := make(chan os.Signal, 1)
	s.hup = hup
	if err := os.WriteFile(f, []byte("events: [open]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	s.next()
	if err := os.WriteFile(f, []byte("events: [open, read]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	s.next()
	expect(t, "stderr", errs.String(), "fstrace: filters reloaded from "+f+": tracing open\n"+
		"fstrace: reload "+f+": events: read not traced (the kinds traced, open,create, are fixed at start; keeping the filters in force)\n")
	if len(tr.sets) != 1 || tr.sets[0].Events != events.MaskOf(events.KindOpen) {
		t.Errorf("filter sets applied: %+v, want one with events open", tr.sets)
	}
	if s.stopping {
		t.Error("a reload stopped tracing")
	}
}

// run: events until the tracer is drained, then the summary.
func TestSessionRun(t *testing.T) {
	s, tr, out, errs := testSession(t, "-o", "json")
	evc := make(chan []*events.Event, 2)
	evc <- []*events.Event{create(1, "/a", 0)}
	evc <- []*events.Event{create(2, "/b", 0)}
	close(evc)
	s.evc = evc
	if st := s.run(); st != exitOK {
		t.Errorf("status %d", st)
	}
	expect(t, "stdout", out.String(), jsonLines(create(1, "/a", 0), create(2, "/b", 0)))
	expect(t, "stderr", errs.String(), "fstrace: 2 events, 0 lost\n")
	if tr.released != 2 || tr.closes != 1 {
		t.Errorf("%d batches released, %d Close calls; want 2 and 1", tr.released, tr.closes)
	}
}

// Tracing stopped before the command ended: fstrace waits for it and its
// status is fstrace's, or stops it with --kill.
func TestSessionFinishWithCommand(t *testing.T) {
	s, _, _, errs := testSession(t, "--", "sh")
	s.cmd, s.done = startChild(t, "sh", "-c", "sleep 0.2; exit 7")
	if st := s.finish(); st != 7 {
		t.Errorf("status %d, want 7", st)
	}
	expect(t, "stderr", errs.String(), "fstrace: 0 events, 0 lost\nfstrace: tracing stopped; waiting for sh to end (--kill would stop it)\n")

	s, _, _, errs = testSession(t, "--kill", "--", "sleep", "30")
	s.cmd, s.done = startChild(t, "sleep", "30")
	if st := s.finish(); st != 128+int(syscall.SIGTERM) {
		t.Errorf("--kill: status %d, want %d", st, 128+int(syscall.SIGTERM))
	}
	expect(t, "--kill: stderr", errs.String(), "fstrace: 0 events, 0 lost\n")

	// While waiting, signals are passed on as while tracing.
	s, _, _, errs = testSession(t, "-q", "--", "sleep", "30")
	s.cmd, s.done = startChild(t, "sleep", "30")
	sigs := make(chan os.Signal, 2)
	sigs <- syscall.SIGINT
	sigs <- syscall.SIGUSR2
	s.sigs = sigs
	if st := s.finish(); st != 128+int(syscall.SIGUSR2) {
		t.Errorf("signals while waiting: status %d, want %d", st, 128+int(syscall.SIGUSR2))
	}
	expect(t, "-q: stderr", errs.String(), "")
}

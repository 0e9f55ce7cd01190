package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
	"github.com/fstrace/fstrace/pkg/tracer"
)

// tracing is what a session uses of the tracer: a *tracer.Tracer, or a
// stand-in in the tests, which run without BPF.
type tracing interface {
	Close() error
	ReleaseBatch([]*events.Event)
	Stats() (tracer.Stats, error)
	SetFilter(filters.Set) error
	Hooks() map[string]string
	HasBackups() bool
}

// session is one run's tracing, from the first event to the exit status:
// the state its event sources share, and one method for each source.
type session struct {
	cfg    *config
	tr     tracing
	out    *sink
	stderr io.Writer
	kinds  events.KindMask // traced, fixed at start
	cmd    *launcher       // -- COMMAND; nil without

	// The event sources. A nil channel never fires: the source is absent
	// or over.
	evc       <-chan []*events.Event
	sigs      <-chan os.Signal // SIGINT, SIGTERM; SIGHUP without a filter file
	hup       <-chan os.Signal // SIGHUP with a filter file
	usr1      <-chan os.Signal
	done      <-chan int // the command's exit status
	timeout   <-chan time.Time
	gone      <-chan struct{} // --pid-tree: every root has exited
	lossCheck <-chan time.Time

	status   int
	stopping bool   // the tracer's Close is under way
	n        uint64 // events delivered to the output
	dropped  uint64 // events fstrace's own filters dropped
	lastSeq  uint64
	lost     uint64
	lastWarn time.Time
	outErr   error // the first failed write: no more are tried
}

// run traces until the tracer is closed and drained, then finishes.
func (s *session) run() int {
	for s.next() {
	}
	return s.finish()
}

// next waits for one source and hands it to its method; false once the
// tracer is closed and drained.
func (s *session) next() bool {
	select {
	case b, ok := <-s.evc:
		if !ok {
			return false
		}
		s.onBatch(b)
	case sig := <-s.sigs:
		s.onSignal(sig)
	case <-s.hup:
		reload(s.tr, s.cfg, s.kinds, s.stderr)
	case <-s.usr1:
		s.onReopen()
	case st := <-s.done:
		s.onCommandExit(st)
	case <-s.timeout:
		s.stopEarly()
	case <-s.gone:
		s.onTreeGone()
	case <-s.lossCheck:
		s.onLossCheck()
	}
	return true
}

// stop starts closing the tracer, once: the events still in its rings
// keep coming until it is drained.
func (s *session) stop() {
	if !s.stopping {
		s.stopping = true
		go func() { _ = s.tr.Close() }() // finish calls Close again and reports its error
	}
}

// stopEarly stops tracing before the command ends (-n, -d, a closed
// output). With --kill the command is stopped now, not once the rings are
// drained: a drain can take seconds (detaching the programs), and the
// command must not run on to its end meanwhile.
func (s *session) stopEarly() {
	if s.cfg.kill && s.done != nil && !s.stopping {
		s.cmd.signal(syscall.SIGTERM)
	}
	s.stop()
}

// onBatch writes a batch of events. Events come in batches: one hand-off
// per batch, not per event, and one flush per burst.
func (s *session) onBatch(b []*events.Event) {
	cfg := s.cfg
	for _, ev := range b {
		if cfg.count > 0 && s.n >= cfg.count {
			continue
		}
		if ev.Seq > s.lastSeq+1 {
			s.onLost(s.lost + ev.Seq - s.lastSeq - 1)
		}
		s.lastSeq = ev.Seq
		if cfg.post.active() && !cfg.post.keep(ev) {
			s.dropped++
			continue
		}
		s.n++
		if s.outErr == nil { // once output is gone, events are counted only
			if s.outErr = s.out.write(ev); s.outErr != nil {
				if !errors.Is(s.outErr, syscall.EPIPE) {
					diagf(s.stderr, "fstrace: write output: %v\n", s.outErr)
					s.status = exitFailure
				}
				s.stopEarly()
			}
		}
		if cfg.count > 0 && s.n >= cfg.count {
			s.stopEarly()
		}
	}
	s.tr.ReleaseBatch(b)
	if len(s.evc) == 0 {
		_ = s.out.flush() // a failed flush sticks: the next write, or close, returns it
	}
}

// onLost reacts to records the kernel could not write: a seq gap in the
// stream, or the kernel's counters (for losses no later event reveals).
// total is the count so far.
func (s *session) onLost(total uint64) {
	if total <= s.lost {
		return
	}
	s.lost = total
	if s.cfg.onLoss == "exit" {
		if s.status != exitLoss {
			also := ""
			if s.done != nil {
				also = fmt.Sprintf(", and stopping %s (SIGTERM)", s.cmd.argv[0])
			}
			diagf(s.stderr, "fstrace: %s lost (ring buffer full); stopping tracing%s, as --on-loss=exit asks\n", plural(s.lost, "event"), also)
		}
		s.status = exitLoss
		if s.done != nil {
			s.cmd.signal(syscall.SIGTERM) // fail closed
		}
		s.stop()
		return
	}
	if time.Since(s.lastWarn) >= 10*time.Second {
		diagf(s.stderr, "fstrace: WARNING: %s lost so far (ring buffer full: a larger --ring-size or filters help)\n", plural(s.lost, "event"))
		s.lastWarn = time.Now()
	}
}

// onLossCheck looks at the kernel's loss counters (every second).
func (s *session) onLossCheck() {
	if st, err := s.tr.Stats(); err == nil {
		s.onLost(sumKinds(st.Lost))
	}
}

// onSignal handles SIGINT, SIGTERM and SIGHUP (without a filter file).
func (s *session) onSignal(sig os.Signal) {
	if s.cmd != nil && s.done != nil && !s.stopping {
		// The command gets the terminal's signals itself; pass on the
		// others and keep tracing until it exits.
		if sig != syscall.SIGINT {
			s.cmd.signal(sig)
		}
		return
	}
	s.stop()
}

// onReopen opens the --output-file again (SIGUSR1).
func (s *session) onReopen() {
	if s.outErr != nil {
		return // the output is gone already
	}
	werr, rerr := s.out.reopen()
	if werr != nil {
		s.outErr = werr
		diagf(s.stderr, "fstrace: write output: %v\n", werr)
		s.status = exitFailure
		s.stop()
	} else if rerr != nil {
		diagf(s.stderr, "fstrace: reopen --output-file: %v\n", rerr)
	}
}

// onCommandExit ends tracing with the command: its status is fstrace's,
// unless a loss already set exitLoss.
func (s *session) onCommandExit(st int) {
	if s.status != exitLoss {
		s.status = st
	}
	s.done = nil
	s.stop()
}

// onTreeGone ends tracing once every --pid-tree root has exited.
func (s *session) onTreeGone() {
	s.gone = nil
	s.stop()
}

// finish runs once the tracer is drained: it closes the output, prints
// the summary and waits for a command still running. It returns the exit
// status.
func (s *session) finish() int {
	if err := s.out.close(); s.outErr == nil && err != nil && !errors.Is(err, syscall.EPIPE) {
		diagf(s.stderr, "fstrace: write output: %v\n", err)
		s.status = exitFailure
	}
	if s.done != nil && s.cfg.kill && s.status != exitLoss {
		s.cmd.signal(syscall.SIGTERM)
	}
	// Waits for a Close still under way, so the counts are final.
	if err := s.tr.Close(); err != nil {
		diagf(s.stderr, "fstrace: %v\n", err)
	}
	summary(s.tr, s.n, s.dropped, s.cfg, s.stderr)
	if s.done != nil {
		// Tracing stopped before the command ended (-n, -d, a closed
		// output): it runs on unless --kill or --on-loss=exit stopped
		// it, and its status is fstrace's.
		if !s.cfg.kill && s.status != exitLoss && !s.cfg.quiet {
			diagf(s.stderr, "fstrace: tracing stopped; waiting for %s to end (--kill would stop it)\n", s.cmd.argv[0])
		}
		st := s.waitCommand()
		if s.status != exitLoss {
			s.status = st
		}
	}
	return s.status
}

// waitCommand waits for the command after tracing stopped, passing on the
// signals fstrace receives as while tracing.
func (s *session) waitCommand() int {
	for {
		select {
		case st := <-s.done:
			return st
		case sig := <-s.sigs:
			if sig != syscall.SIGINT {
				s.cmd.signal(sig)
			}
		case <-s.hup: // nothing left to reload
		case <-s.usr1: // nor to reopen
		}
	}
}

package tracer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
)

// Close races nothing: while events flow, a blocked Read, SetFilter,
// Follow, Stats and Rings run in other goroutines as Close tears the tracer
// down. Read ends with ErrClosed after the events made before Close; the
// calls that need the kernel side end with ErrClosed, not with a stray
// error or a write to a descriptor number reused by then. Run with -race
// (make race).
func TestCloseRaces(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 3; round++ {
		tr := newTestTracer(t, Options{Events: events.MaskOf(events.KindCreate)})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		errc := make(chan error, 16)
		run := func(name string, f func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := f(); err != nil {
						if !errors.Is(err, ErrClosed) {
							errc <- errors.New(name + ": " + err.Error())
						}
						return
					}
				}
			}()
		}
		run("SetFilter", func() error { return tr.SetFilter(filters.Set{Path: []filters.Rule[string]{{Value: dir}}}) })
		run("Follow", func() error { return tr.Follow(os.Getpid()) })
		run("Stats", func() error { _, err := tr.Stats(); return err })
		run("Rings", func() error { tr.Rings(); return nil })
		run("create", func() error {
			f, err := os.Create(filepath.Join(dir, "f"))
			if err == nil {
				f.Close()
			}
			return err
		})
		var read sync.WaitGroup
		read.Add(1)
		go func() {
			defer read.Done()
			for {
				ev, err := tr.Read(context.Background())
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						errc <- errors.New("Read: " + err.Error())
					}
					return
				}
				tr.Release(ev)
			}
		}()
		time.Sleep(100 * time.Millisecond)
		if err := tr.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
		done := make(chan struct{})
		go func() { read.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: Read still blocked 5 s after Close", round)
		}
		time.Sleep(20 * time.Millisecond)
		close(stop)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Errorf("round %d: %v", round, err)
		}
		if err := tr.SetFilter(filters.Set{}); !errors.Is(err, ErrClosed) {
			t.Errorf("round %d: SetFilter after Close: %v, want ErrClosed", round, err)
		}
		if err := tr.Follow(1); !errors.Is(err, ErrClosed) {
			t.Errorf("round %d: Follow after Close: %v, want ErrClosed", round, err)
		}
		if _, err := tr.Stats(); err != nil {
			t.Errorf("round %d: Stats after Close: %v", round, err)
		}
	}
}

// Two tracers started and closed over and over, interleaved, leave each
// other working: the second still delivers after the first is gone.
func TestTracersComeAndGo(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Events: events.MaskOf(events.KindCreate), Filter: filters.Set{Path: []filters.Rule[string]{{Value: dir}}}}
	a := newTestTracer(t, opts)
	for i := 0; i < 4; i++ {
		b := newTestTracer(t, opts)
		x, y := fmt.Sprint("x", i), fmt.Sprint("y", i)
		touch(t, filepath.Join(dir, x))
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		touch(t, filepath.Join(dir, y))
		evs := collect(t, b)
		if got := createdIn(evs, dir); len(got) != 2 || got[0] != x || got[1] != y {
			t.Fatalf("round %d: the tracer that stayed saw creates %v, want [%s %s]", i, got, x, y)
		}
		a = newTestTracer(t, opts)
	}
}

package tracer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fstrace/fstrace/internal/testutil"
	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
)

// newTestTracer starts a tracer in whatever mode this kernel allows, or
// skips (fails with FSTRACE_REQUIRE=1) where none works.
func newTestTracer(t testing.TB, opts Options) *Tracer {
	t.Helper()
	testutil.NeedRoot(t, "to load BPF programs")
	opts.IncludeSelf = true // the test process is the workload
	tr, err := New(opts)
	if err != nil {
		testutil.Skip(t, "cannot trace here: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// collect reads events until the tracer is closed.
func collect(t *testing.T, tr *Tracer) []*events.Event {
	t.Helper()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	var out []*events.Event
	for {
		ev, err := tr.Read(context.Background())
		if errors.Is(err, ErrClosed) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
}

func createdIn(evs []*events.Event, dir string) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == events.KindCreate && filepath.Dir(e.Path) == dir {
			out = append(out, filepath.Base(e.Path))
		}
	}
	return out
}

func touch(t *testing.T, p string) {
	t.Helper()
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Two tracers in one process, with different filters, do not see each
// other's filters; SetFilter switches a running tracer's set.
func TestIndependentTracersAndSetFilter(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	only := func(dir string) filters.Set {
		return filters.Set{Path: []filters.Rule[string]{{Value: dir}}}
	}
	ta := newTestTracer(t, Options{Events: events.MaskOf(events.KindCreate, events.KindOpen), Filter: only(a)})
	tb := newTestTracer(t, Options{Events: events.MaskOf(events.KindCreate, events.KindOpen), Filter: only(b)})

	touch(t, a+"/1")
	touch(t, b+"/1")
	if err := tb.SetFilter(only(a)); err != nil {
		t.Fatal(err)
	}
	touch(t, a+"/2")
	touch(t, b+"/2")
	time.Sleep(50 * time.Millisecond)

	evA, evB := collect(t, ta), collect(t, tb)
	if got := createdIn(evA, a); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("tracer A saw creates %v in a, want [1 2]", got)
	}
	if got := createdIn(evA, b); len(got) != 0 {
		t.Errorf("tracer A saw creates %v in b", got)
	}
	if got := createdIn(evB, b); len(got) != 1 || got[0] != "1" {
		t.Errorf("tracer B saw creates %v in b, want [1] (before SetFilter)", got)
	}
	if got := createdIn(evB, a); len(got) != 1 || got[0] != "2" {
		t.Errorf("tracer B saw creates %v in a, want [2] (after SetFilter)", got)
	}
	st, err := tb.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Filtered[events.KindCreate] == 0 {
		t.Errorf("no filtered creates counted: %+v", st)
	}
}

// The cost of an open(2) under tracing: untraced, traced and delivered (the
// reader consumes it), traced and dropped by an in-kernel filter. Run them
// side by side: go test -run '^$' -bench Open -count 5 ./pkg/tracer
func benchOpen(b *testing.B, tr *Tracer) {
	p := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	if tr != nil {
		go func() {
			for {
				ev, err := tr.Read(context.Background())
				if err != nil {
					return
				}
				tr.Release(ev)
			}
		}()
	}
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

func BenchmarkOpenUntraced(b *testing.B) { benchOpen(b, nil) }

func BenchmarkOpenDelivered(b *testing.B) {
	benchOpen(b, newTestTracer(b, Options{Events: events.MaskOf(events.KindOpen)}))
}

func BenchmarkOpenFiltered(b *testing.B) {
	tr := newTestTracer(b, Options{Events: events.MaskOf(events.KindOpen),
		Filter: filters.Set{Comm: []filters.Rule[string]{{Value: "no-such-comm"}}}})
	benchOpen(b, tr)
}

// A set with more values in one dimension than the kernel's table holds is
// refused whole, with ErrFilterTooLarge, before anything is written: at
// New, and by SetFilter, which must fit beside the set in force and keeps
// that set when it cannot.
func TestFilterTooLarge(t *testing.T) {
	testutil.NeedRoot(t, "to load BPF programs")
	dir := t.TempDir()
	paths := func(prefix string, n int) filters.Set {
		var s filters.Set
		for i := range n {
			s.Path = append(s.Path, filters.Rule[string]{Value: fmt.Sprintf("%s/p%d", prefix, i)})
		}
		return s
	}
	if _, err := New(Options{Events: events.MaskOf(events.KindCreate), IncludeSelf: true, Filter: paths(dir, 2000)}); !errors.Is(err, ErrFilterTooLarge) {
		t.Fatalf("New with 2000 paths: %v, want ErrFilterTooLarge", err)
	}
	kept := paths(dir, 999)
	kept.Path = append(kept.Path, filters.Rule[string]{Value: dir + "/kept"})
	tr := newTestTracer(t, Options{Events: events.MaskOf(events.KindCreate), Filter: kept})
	if err := tr.SetFilter(paths(dir+"/other", 1000)); !errors.Is(err, ErrFilterTooLarge) {
		t.Fatalf("SetFilter of 1000 paths beside 1000: %v, want ErrFilterTooLarge", err)
	}
	os.Mkdir(dir+"/kept", 0o755)
	os.Mkdir(dir+"/other", 0o755)
	touch(t, dir+"/kept/a")
	touch(t, dir+"/other/p1")
	time.Sleep(50 * time.Millisecond)
	evs := collect(t, tr)
	if got := createdIn(evs, dir+"/kept"); len(got) != 1 || got[0] != "a" {
		t.Errorf("creates under the set in force: %v, want [a]", got)
	}
	if got := createdIn(evs, dir+"/other"); len(got) != 0 {
		t.Errorf("creates under the refused set: %v, want none", got)
	}
}

// The sentinels are the standard errors too, and still only themselves.
func TestSentinelsWrapStandard(t *testing.T) {
	for _, c := range []struct{ err, std error }{
		{ErrClosed, os.ErrClosed}, {ErrPermission, os.ErrPermission},
		{ErrUnsupported, errors.ErrUnsupported}, {ErrNoBTF, errors.ErrUnsupported},
	} {
		wrapped := fmt.Errorf("load: %w", c.err)
		if !errors.Is(wrapped, c.err) || !errors.Is(wrapped, c.std) {
			t.Errorf("%v: errors.Is %v / %v: %v, %v", c.err, c.err, c.std, errors.Is(wrapped, c.err), errors.Is(wrapped, c.std))
		}
	}
	if errors.Is(ErrUnsupported, ErrNoBTF) || errors.Is(ErrClosed, ErrPermission) {
		t.Error("one sentinel is another")
	}
}

package tracer

import (
	"testing"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
)

// TestHostPathFilter: the user-space share of --path judges host paths as
// the kernel's LPM trie judges paths.
func TestHostPathFilter(t *testing.T) {
	h := &hostPaths{kinds: events.AllKinds}
	h.setFilter(filters.Set{Path: []filters.Rule[string]{
		{Value: "/var/lib/c"},
		{Value: "/var/lib/c/secret", Exclude: true},
		{Value: "/srv", Events: events.MaskOf(events.KindRename)},
	}})
	for _, c := range []struct {
		kind          events.Kind
		host, hostNew string
		want          bool
	}{
		{events.KindCreate, "/var/lib/c/rootfs/f", "", true},
		{events.KindCreate, "/var/lib/c", "", true},
		{events.KindCreate, "/var/lib/cx/f", "", false},
		{events.KindCreate, "/var/lib/c/secret/f", "", false},
		{events.KindCreate, "/srv/f", "", false},
		{events.KindRename, "/srv/f", "", true},
		{events.KindRename, "/tmp/a", "/var/lib/c/b", true},
		{events.KindCreate, "", "", false},
	} {
		ev := &events.Event{Kind: c.kind, HostFilter: true}
		ev.HostPath, ev.HostNewPath = c.host, c.hostNew
		if got := h.place(ev); got != c.want {
			t.Errorf("%s %q -> %q: kept %v, want %v", c.kind, c.host, c.hostNew, got, c.want)
		}
	}
	// not passed up for it: kept as the kernel said
	if !h.place(&events.Event{Kind: events.KindCreate, HostPath: "/elsewhere"}) {
		t.Error("an event the kernel's filter passed was dropped")
	}
}

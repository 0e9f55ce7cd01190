package tracer

import (
	"sync"

	"github.com/fstrace/fstrace/pkg/events"
)

// eventPool keeps released events, with the string buffers they own, for
// the pump to decode into again. It is not a sync.Pool on purpose: a
// sync.Pool is emptied by every garbage collection, so the next events were
// allocated afresh, that allocation brought on the next collection, and in
// a QEMU guest the collector's page faults (about 2 400 per 26 000 events)
// cost more than decoding did. The pool is bounded: past poolMax (about
// 10 MB of events, what a burst of 50 ms at 300 000 events a second has in
// flight) a released event is left to the collector.
type eventPool struct {
	mu   sync.Mutex
	free []*events.Event
}

const (
	poolMax = 16384
	// poolGrab is how many events the pump takes at once: one lock for
	// that many events, not one each.
	poolGrab = 256
	// poolPrefill events are made when the pump starts, each with
	// poolStrCap bytes for its strings: about what 10 ms of a busy
	// workload has in flight (1.3 MB).
	poolPrefill = 2048
	poolStrCap  = 256
)

// put returns events to the pool.
func (p *eventPool) put(evs ...*events.Event) {
	p.mu.Lock()
	room := poolMax - len(p.free)
	if room > len(evs) {
		room = len(evs)
	}
	if room > 0 {
		p.free = append(p.free, evs[:room]...)
	}
	p.mu.Unlock()
}

// take moves up to poolGrab pooled events to dst and returns it.
func (p *eventPool) take(dst []*events.Event) []*events.Event {
	p.mu.Lock()
	n := min(len(p.free), poolGrab)
	k := len(p.free) - n
	dst = append(dst, p.free[k:]...)
	clear(p.free[k:])
	p.free = p.free[:k]
	p.mu.Unlock()
	return dst
}

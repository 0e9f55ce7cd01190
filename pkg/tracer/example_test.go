package tracer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/tracer"
)

// Trace opens and unlinks system-wide for five seconds and prints them as
// JSON Lines. Needs root and a kernel with BTF (the hook mode is the first
// the kernel accepts: see Options.HookMode).
func Example() {
	tr, err := tracer.New(tracer.Options{Events: events.MaskOf(events.KindOpen, events.KindUnlink)})
	if err != nil {
		log.Fatal(err)
	}
	time.AfterFunc(5*time.Second, func() { tr.Close() })

	var line []byte
	// The loop ends once Close was called and every ring is drained.
	for ev, err := range tr.Events(context.Background()) {
		if err != nil {
			log.Fatal(err)
		}
		line = events.AppendJSON(line[:0], ev)
		os.Stdout.Write(line)
		tr.Release(ev)
	}
	st, _ := tr.Stats()
	fmt.Fprintf(os.Stderr, "%d events, lost %v\n", st.Delivered, st.Lost)
}

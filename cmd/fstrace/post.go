package main

import (
	"path"
	"strings"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/tracer"
)

// changeKinds are the kinds --changes keeps: those that modify a file or a
// directory. A close counts only for a file opened for writing (the filter
// below), as fanotify's CLOSE_WRITE; mount and umount change no file.
var changeKinds = events.MaskOf(events.KindCreate, events.KindMkdir, events.KindMknod, events.KindSymlink,
	events.KindLink, events.KindUnlink, events.KindRmdir, events.KindRename, events.KindSetattr,
	events.KindXattr, events.KindWrite, events.KindClose)

// postFilter holds the filters the kernel cannot apply, run on each event
// fstrace receives. They cost the ring space and wakeups the kernel's
// filters save, so they come after them; what they drop is counted.
type postFilter struct {
	succeeded bool     // --succeeded: ret >= 0 only
	changes   bool     // --changes: close only when opened for writing
	globs     []string // --path-glob: any of them matches path or new_path, or their host paths
}

func (p *postFilter) active() bool { return p.succeeded || p.changes || len(p.globs) > 0 }

// keep reports whether ev passes.
func (p *postFilter) keep(ev *events.Event) bool {
	if p.succeeded && ev.Ret < 0 {
		return false
	}
	if p.changes && ev.Kind == events.KindClose && !ev.OpenedForWrite {
		return false
	}
	if len(p.globs) == 0 {
		return true
	}
	two := ev.Kind == events.KindRename || ev.Kind == events.KindLink
	for _, g := range p.globs {
		if globMatch(g, ev.Path) || (ev.HostPath != "" && globMatch(g, ev.HostPath)) {
			return true
		}
		if two && (globMatch(g, ev.NewPath) || (ev.HostNewPath != "" && globMatch(g, ev.HostNewPath))) {
			return true
		}
	}
	return false
}

// globMatch matches p against pattern as path.Match does: the whole path
// when the pattern has a '/', its last element otherwise (so '*.conf'
// finds a .conf file in any directory).
func globMatch(pattern, p string) bool {
	if !strings.Contains(pattern, "/") {
		p = path.Base(p)
	}
	ok, _ := path.Match(pattern, p) // checked by checkGlob
	return ok
}

// checkGlob reports a pattern path.Match cannot use.
func checkGlob(pattern string) error {
	if pattern == "" {
		return errEmptyPattern
	}
	_, err := path.Match(pattern, "")
	return err
}

type usageErr string

func (e usageErr) Error() string { return string(e) }

const errEmptyPattern = usageErr("empty pattern")

// traceKinds are the kinds fstrace attaches programs for: -e's, else the
// filter file's events:, else the default; --changes narrows them.
func (cfg *config) traceKinds() events.KindMask {
	k := cfg.kinds
	if !cfg.kindsGiven {
		k = cfg.fileKinds
		if k == 0 {
			k = tracer.DefaultKinds
		}
		if cfg.post.changes {
			k &= changeKinds
		}
	}
	return k
}

// shellWord quotes s for a shell when it needs quoting, for messages that
// suggest a command line.
func shellWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]|&;<>()#~!{}=") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

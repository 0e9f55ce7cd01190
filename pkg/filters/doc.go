// Package filters describes which events fstrace keeps, by who did them
// (pid, uid, gid, comm, cgroup), what they were (event kind, failed or not)
// and where (path subtree). The tracer applies a Set in the kernel, so a
// filtered-out event costs no ring-buffer space and no wakeup, and can
// replace it atomically while tracing.
//
// The rule: AND across dimensions, OR within one. A dimension with include
// rules keeps an event when a rule for its value names the event's kind;
// a dimension without include rules keeps everything. A rule with Exclude
// drops the kinds it names, whatever the includes say. Path rules match
// subtrees (the path itself and everything below it); the most specific
// rule wins, so an exclude inside an included tree, or the reverse, works;
// for rename and link either path may match. Path rules match the paths as
// reported: canonical in the fentry and kprobe modes.
package filters

// Package metrics exports a tracer's counters to Prometheus: events
// delivered, lost (records the kernel could not write into a full ring),
// filtered out in the kernel, and undecodable, by event kind; ring buffer
// fill; the build and the hook mode. The collector reads the kernel's
// counters at scrape time and keeps no global state.
//
// Labels never carry paths, pids, uids or comms: the number of series is
// fixed by the number of event kinds and CPUs, whatever the workload.
package metrics

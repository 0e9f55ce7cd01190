// Package container tells which container a cgroup v2 path belongs to,
// following the conventions of the common runtimes under both cgroup
// drivers (systemd and cgroupfs).
//
// The container is named by the deepest path component that is a 64-hex
// id, bare ("<id>", cgroupfs) or after a '-' with an optional ".scope"
// ("docker-<id>.scope", "libpod-<id>"). The kernel side of fstrace
// (bpf/lib/container.h) finds the id by the same rule, so the filters and
// the events agree on which processes are in which container.
package container

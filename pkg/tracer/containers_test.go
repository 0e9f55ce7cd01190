package tracer

import (
	"encoding/binary"
	"testing"

	"github.com/fstrace/fstrace/pkg/events"
)

// cgroupRecord lays out an FST_REC_CGROUP record as bpf/lib/container.h
// writes it: the names leaf first, each followed by '/'.
func cgroupRecord(id uint64, names string) []byte {
	ne := binary.NativeEndian
	b := make([]byte, events.HeaderSize, events.HeaderSize+len(names))
	ne.PutUint64(b[16:], id)
	ne.PutUint16(b[140:], 64)
	ne.PutUint16(b[144:], uint16(len(names)))
	return append(b, names...)
}

func TestCgroupsAttribute(t *testing.T) {
	const id = "4f7c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
	const host = 4026531841
	c := newCgroups(host)
	for _, r := range [][]byte{
		cgroupRecord(7, "docker-"+id+".scope/system.slice/"),
		cgroupRecord(8, "user-0.slice/user.slice/"),
	} {
		if err := c.add(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		cgroup       uint64
		mntns        uint32
		ctr, runtime string
		wantMnt      uint32
	}{
		{7, host, id, "docker", host},   // a container keeps mntns, even the host's
		{8, host, "", "", 0},            // a host process has none of it
		{8, host + 1, "", "", host + 1}, // unshare -m
	} {
		ev := events.Event{CgroupID: tc.cgroup, MntNS: tc.mntns}
		c.attribute(&ev)
		if ev.ContainerID != tc.ctr || ev.ContainerRuntime != tc.runtime || ev.MntNS != tc.wantMnt || ev.PodUID != "" {
			t.Errorf("cgroup %d mntns %d: %+v", tc.cgroup, tc.mntns, ev)
		}
	}
	if c.resolved != 0 {
		t.Errorf("%d cgroups resolved from /sys/fs/cgroup", c.resolved)
	}
}

package container

import "testing"

const (
	id  = "4f7c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
	uid = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
	u_  = "0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		path string
		want Info
		ok   bool
	}{
		// systemd driver
		{"/system.slice/docker-" + id + ".scope", Info{ID: id, Runtime: Docker}, true},
		{"/system.slice/docker-" + id + ".scope/init.scope", Info{ID: id, Runtime: Docker}, true},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u_ + ".slice/cri-containerd-" + id + ".scope",
			Info{ID: id, Runtime: Containerd, PodUID: uid}, true},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u_ + ".slice/crio-" + id + ".scope",
			Info{ID: id, Runtime: CRIO, PodUID: uid}, true},
		{"/kubepods.slice/kubepods-pod" + u_ + ".slice/cri-containerd-" + id + ".scope", // guaranteed
			Info{ID: id, Runtime: Containerd, PodUID: uid}, true},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u_ + ".slice/docker-" + id + ".scope",
			Info{ID: id, Runtime: Docker, PodUID: uid}, true},
		{"/machine.slice/libpod-" + id + ".scope", Info{ID: id, Runtime: Podman}, true},
		{"/machine.slice/libpod-" + id + ".scope/container", Info{ID: id, Runtime: Podman}, true},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope", Info{ID: id, Runtime: Podman}, true},
		// cgroupfs driver
		{"/docker/" + id, Info{ID: id, Runtime: Docker}, true},
		{"/kubepods/besteffort/pod" + uid + "/" + id, Info{ID: id, Runtime: Containerd, PodUID: uid}, true},
		{"/kubepods/burstable/pod" + uid + "/" + id, Info{ID: id, Runtime: Containerd, PodUID: uid}, true},
		{"/kubepods/pod" + uid + "/" + id, Info{ID: id, Runtime: Containerd, PodUID: uid}, true}, // guaranteed
		{"/kubepods/burstable/pod" + uid + "/crio-" + id, Info{ID: id, Runtime: CRIO, PodUID: uid}, true},
		{"/libpod_parent/libpod-" + id, Info{ID: id, Runtime: Podman}, true},
		{"/libpod_parent/" + id, Info{ID: id, Runtime: Podman}, true},
		// an id where no runtime is known for it
		{"/default/" + id, Info{ID: id, Runtime: Cgroup}, true},
		{"/" + id, Info{ID: id, Runtime: Cgroup}, true},
		{"/actions_job/" + id, Info{ID: id, Runtime: Cgroup}, true},
		{"/system.slice/other-" + id + ".scope", Info{ID: id, Runtime: Cgroup}, true},
		// upper case is folded
		{"/docker/" + "ABCDEF" + id[6:], Info{ID: "abcdef" + id[6:], Runtime: Docker}, true},
		// no container
		{"/", Info{}, false},
		{"", Info{}, false},
		{"/init.scope", Info{}, false},
		{"/user.slice/user-1000.slice/session-3.scope", Info{}, false},
		{"/system.slice/docker.service", Info{}, false},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u_ + ".slice", Info{}, false},
		{"/docker/" + id[:63], Info{}, false},
		{"/docker/" + id[:63] + "g", Info{}, false},
		{"/system.slice/docker-" + id + "0.scope", Info{}, false},
		// the deepest id-shaped name decides, even when it is not hex
		{"/docker/" + id + "/" + "docker-" + id[:63] + "x", Info{}, false},
	} {
		got, ok := Parse(c.path)
		if got != c.want || ok != c.ok {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

func TestShort(t *testing.T) {
	if s := Short(id); s != id[:12] {
		t.Errorf("Short = %q", s)
	}
}

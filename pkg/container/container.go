package container

import "strings"

// Runtime names, as the JSON output gives them.
const (
	Docker     = "docker"
	Containerd = "containerd"
	CRIO       = "cri-o"
	Podman     = "podman"
	// Cgroup: a 64-hex id in a layout no runtime below is known for.
	Cgroup = "cgroup"
)

// IDLen is the length of a container id in hex digits.
const IDLen = 64

// Info is what a cgroup path says about its container.
type Info struct {
	ID      string // 64 lowercase hex digits
	Runtime string // Docker, Containerd, CRIO, Podman or Cgroup
	PodUID  string // Kubernetes only, dashed: 8-4-4-4-12
}

// Parse reads the container of the cgroup v2 path p (as /proc/PID/cgroup
// gives it: "/system.slice/docker-<id>.scope"). It reports false for a
// path with no container id.
func Parse(p string) (Info, bool) {
	comps := strings.Split(strings.Trim(p, "/"), "/")
	at, id, prefix := -1, "", ""
	for i := len(comps) - 1; i >= 0; i-- {
		if s, pre, ok := idOf(comps[i]); ok {
			at, id, prefix = i, s, pre
			break
		}
	}
	if at < 0 || !isHex(id) {
		return Info{}, false
	}
	info := Info{ID: strings.ToLower(id), Runtime: runtimeOf(comps[:at], prefix)}
	info.PodUID = podUID(comps[:at])
	return info, true
}

// idOf finds an id by its shape alone: a component of 64 characters, or
// one ending in "-" + 64 characters, with ".scope" after them or not. The
// kernel applies the same test; the hex digits are checked after it.
func idOf(c string) (id, prefix string, ok bool) {
	n := len(c)
	switch {
	case n == IDLen:
		return c, "", true
	case n >= IDLen+7 && strings.HasSuffix(c, ".scope") && c[n-IDLen-7] == '-':
		return c[n-IDLen-6 : n-6], c[:n-IDLen-6], true
	case n >= IDLen+1 && c[n-IDLen-1] == '-':
		return c[n-IDLen:], c[:n-IDLen], true
	}
	return "", "", false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// runtimeOf names the runtime from the id's own prefix ("docker-",
// "cri-containerd-", "crio-", "libpod-") or, for a bare id, from the
// cgroups above it.
func runtimeOf(parents []string, prefix string) string {
	switch {
	case prefix == "docker-":
		return Docker
	case prefix == "cri-containerd-", prefix == "containerd-":
		return Containerd
	case strings.HasPrefix(prefix, "crio-"): // also crio-conmon-
		return CRIO
	case strings.HasPrefix(prefix, "libpod-"): // also libpod-conmon-
		return Podman
	case prefix != "":
		return Cgroup
	}
	if len(parents) == 0 {
		return Cgroup
	}
	switch parents[len(parents)-1] {
	case "docker":
		return Docker // cgroupfs: /docker/<id>
	case "libpod_parent":
		return Podman
	}
	if isKube(parents) {
		// cgroupfs under the kubelet: containerd names the cgroup by
		// the bare id (CRI-O says crio-<id>).
		return Containerd
	}
	return Cgroup
}

func isKube(parents []string) bool {
	for _, c := range parents {
		if c == "kubepods" || c == "kubepods.slice" || strings.HasPrefix(c, "kubepods-") {
			return true
		}
	}
	return false
}

// podUID finds the pod in a Kubernetes path: "pod<uid>" (cgroupfs) or
// "kubepods-<qos>-pod<uid with '_'>.slice" (systemd).
func podUID(parents []string) string {
	if !isKube(parents) {
		return ""
	}
	for i := len(parents) - 1; i >= 0; i-- {
		c := parents[i]
		var u string
		switch {
		case strings.HasPrefix(c, "pod"):
			u = c[3:]
		case strings.HasPrefix(c, "kubepods-") && strings.HasSuffix(c, ".slice"):
			j := strings.LastIndex(c, "-pod")
			if j < 0 {
				continue
			}
			u = strings.ReplaceAll(c[j+4:len(c)-len(".slice")], "_", "-")
		default:
			continue
		}
		if isUID(u) {
			return strings.ToLower(u)
		}
	}
	return ""
}

// isUID accepts 8-4-4-4-12 hex digits.
func isUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHex(s[i : i+1]) {
			return false
		}
	}
	return true
}

// Short is the 12-digit form of an id that docker ps shows.
func Short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

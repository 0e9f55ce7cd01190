package filters

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/fstrace/fstrace/pkg/events"
)

// A filter file, in YAML or JSON:
//
//	events: [open, unlink]        # or "open,unlink"
//	failed: false
//	pid: [1234]
//	uid: [root, 1000]             # names or numbers
//	comm: [{value: nginx, events: [open]}]
//	path: [/etc, /var/log]
//	exclude_comm: [sshd]
//	container: [4f7c1a2b3c4d]     # id prefixes of 12 to 64 hex digits
//	host_only: true               # or containers_only: true
//
// Keys: events, failed, host_only, containers_only, and pid, uid, gid,
// comm, cgroup, path, container with their exclude_ forms. A list item is
// a value, or {value, events, exclude}.
type fileSpec struct {
	Events kindList `json:"events"`
	Failed bool     `json:"failed"`

	HostOnly       bool `json:"host_only"`
	ContainersOnly bool `json:"containers_only"`

	PID    []item `json:"pid"`
	UID    []item `json:"uid"`
	GID    []item `json:"gid"`
	Comm   []item `json:"comm"`
	Cgroup []item `json:"cgroup"`
	Path   []item `json:"path"`

	Container        []item `json:"container"`
	ExcludeContainer []item `json:"exclude_container"`

	ExcludePID    []item `json:"exclude_pid"`
	ExcludeUID    []item `json:"exclude_uid"`
	ExcludeGID    []item `json:"exclude_gid"`
	ExcludeComm   []item `json:"exclude_comm"`
	ExcludeCgroup []item `json:"exclude_cgroup"`
	ExcludePath   []item `json:"exclude_path"`
}

type kindList events.KindMask

func (k *kindList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("events: want a list of event kinds")
		}
		s = strings.Join(list, ",")
	}
	m, err := events.ParseKindList(s)
	*k = kindList(m)
	return err
}

type item struct {
	Value   string
	Events  events.KindMask
	Exclude bool
}

func (it *item) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			Value   json.RawMessage `json:"value"`
			Events  kindList        `json:"events"`
			Exclude bool            `json:"exclude"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return err
		}
		it.Events, it.Exclude = events.KindMask(o.Events), o.Exclude
		b = o.Value
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		it.Value = s
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	it.Value = n.String()
	return nil
}

// Parse reads a filter file's contents, YAML or JSON.
func Parse(data []byte) (Set, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Set{}, err
	}
	var f fileSpec
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if len(bytes.TrimSpace(j)) > 0 && string(bytes.TrimSpace(j)) != "null" {
		if err := dec.Decode(&f); err != nil {
			return Set{}, err
		}
	}
	s := Set{Events: events.KindMask(f.Events), Failed: f.Failed, HostOnly: f.HostOnly, ContainersOnly: f.ContainersOnly}
	add := func(fn func(it item, exclude bool) error, lists ...[]item) {
		for i, list := range lists {
			for _, it := range list {
				if err == nil {
					err = fn(it, it.Exclude || i == 1)
				}
			}
		}
	}
	add(func(it item, x bool) error { return Add(&s.PID, ParsePID, it.Events, x, it.Value) }, f.PID, f.ExcludePID)
	add(func(it item, x bool) error { return Add(&s.UID, ResolveUser, it.Events, x, it.Value) }, f.UID, f.ExcludeUID)
	add(func(it item, x bool) error { return Add(&s.GID, ResolveGroup, it.Events, x, it.Value) }, f.GID, f.ExcludeGID)
	add(func(it item, x bool) error { return Add(&s.Comm, CheckComm, it.Events, x, it.Value) }, f.Comm, f.ExcludeComm)
	add(func(it item, x bool) error { return Add(&s.Cgroup, ResolveCgroup, it.Events, x, it.Value) }, f.Cgroup, f.ExcludeCgroup)
	add(func(it item, x bool) error { return Add(&s.Path, CleanPath, it.Events, x, it.Value) }, f.Path, f.ExcludePath)
	add(func(it item, x bool) error { return Add(&s.Container, ParseContainerID, it.Events, x, it.Value) }, f.Container, f.ExcludeContainer)
	if err != nil {
		return Set{}, err
	}
	return s, s.Validate()
}

// Load reads a filter file.
func Load(path string) (Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Set{}, err
	}
	s, err := Parse(data)
	if err != nil {
		return Set{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

package filters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
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
// Keys: events, and those of Switches and Dimensions: failed, host_only,
// containers_only, and pid, uid, gid, comm, cgroup, path, container with
// their exclude_ forms. A list item is a value, or {value, events, exclude}.
//
// fileSpec is the file's keys and values, still undecoded: Parse decodes
// each by the table entry of its key.
type fileSpec map[string]json.RawMessage

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
	if len(bytes.TrimSpace(j)) > 0 && string(bytes.TrimSpace(j)) != "null" {
		if err := json.Unmarshal(j, &f); err != nil {
			return Set{}, err
		}
	}
	// Every key is decoded before any value is resolved: a file of the
	// wrong shape is reported as such, the first bad key in YAMLToJSON's
	// (sorted) order.
	var s Set
	lists := map[string][]item{}
	for _, key := range slices.Sorted(maps.Keys(f)) {
		if err := s.decode(key, f[key], lists); err != nil {
			return Set{}, err
		}
	}
	for _, d := range Dimensions {
		for _, exclude := range []bool{false, true} {
			for _, it := range lists[d.Key(exclude)] {
				if err := d.Add(&s, it.Events, it.Exclude || exclude, it.Value); err != nil {
					return Set{}, err
				}
			}
		}
	}
	return s, s.Validate()
}

// decode sets in s the events or a switch of one key of a filter file,
// or puts a dimension's list into lists.
// Keys match in any case, as encoding/json matches a struct's fields.
func (s *Set) decode(key string, raw json.RawMessage, lists map[string][]item) error {
	if strings.EqualFold(key, "events") {
		var k kindList
		err := json.Unmarshal(raw, &k)
		s.Events = events.KindMask(k)
		return fieldError("events", err)
	}
	for _, w := range Switches {
		if strings.EqualFold(key, w.Key()) {
			var on bool
			err := json.Unmarshal(raw, &on)
			w.Set(s, on)
			return fieldError(w.Key(), err)
		}
	}
	for _, d := range Dimensions {
		for _, exclude := range []bool{false, true} {
			if k := d.Key(exclude); strings.EqualFold(key, k) {
				var list []item
				err := json.Unmarshal(raw, &list)
				lists[k] = list
				return fieldError(k, err)
			}
		}
	}
	return fmt.Errorf("json: unknown field %q", key)
}

// fieldError names the key in a type error, in the words encoding/json
// has for a field of a struct.
func fieldError(key string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		te.Struct = "fileSpec"
		if te.Field != "" {
			key += "." + te.Field
		}
		te.Field = key
	}
	return err
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

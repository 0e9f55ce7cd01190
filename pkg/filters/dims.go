package filters

import (
	"strings"

	"github.com/fstrace/fstrace/pkg/events"
)

// The dimensions of a Set are in one table, Dimensions: the CLI registers
// its flags from it, Parse reads the file's keys by it, Merge walks it,
// and the tracer writes each one's rules into the kernel map of its name.
// A new dimension is a Set field, an entry here and its kernel map.

// Dimension is one thing events are chosen by, with include and exclude
// rules: flags --NAME and --exclude-NAME, file keys NAME and exclude_NAME.
type Dimension struct {
	Name string // as in the flag: "pid", "container"
	Arg  string // --help's word for a value: "PID"
	Help string // --help's first line of words for it

	add   func(s *Set, v string, ev events.KindMask, exclude bool) error
	merge func(dst *Set, a, b Set)
	count func(s Set) int
}

// Flag is the dimension's flag, without the dashes.
func (d Dimension) Flag(exclude bool) string {
	if exclude {
		return "exclude-" + d.Name
	}
	return d.Name
}

// Key is the dimension's key in a filter file.
func (d Dimension) Key(exclude bool) string {
	return strings.ReplaceAll(d.Flag(exclude), "-", "_")
}

// Add resolves values and appends a rule for each to s's rules of d.
func (d Dimension) Add(s *Set, ev events.KindMask, exclude bool, values ...string) error {
	for _, v := range values {
		if err := d.add(s, v, ev, exclude); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of s's rules of d.
func (d Dimension) Len(s Set) int { return d.count(s) }

// dim makes a Dimension of a Set field; parse turns a flag's or a file's
// value into the field's type.
func dim[T comparable](name, arg, help string, parse func(string) (T, error), rules func(*Set) *[]Rule[T]) Dimension {
	return Dimension{
		Name: name, Arg: arg, Help: help,
		add: func(s *Set, v string, ev events.KindMask, exclude bool) error {
			return Add(rules(s), parse, ev, exclude, v)
		},
		merge: func(dst *Set, a, b Set) {
			*rules(dst) = append(append([]Rule[T](nil), *rules(&a)...), *rules(&b)...)
		},
		count: func(s Set) int { return len(*rules(&s)) },
	}
}

// Dimensions in the order the file is read and the kernel maps written.
var Dimensions = []Dimension{
	dim("pid", "PID", "thread group ids", ParsePID, func(s *Set) *[]Rule[uint32] { return &s.PID }),
	dim("uid", "USER", "user names or ids", ResolveUser, func(s *Set) *[]Rule[uint32] { return &s.UID }),
	dim("gid", "GROUP", "group names or ids", ResolveGroup, func(s *Set) *[]Rule[uint32] { return &s.GID }),
	dim("comm", "NAME", "process names (at most 15 bytes)", CheckComm, func(s *Set) *[]Rule[string] { return &s.Comm }),
	dim("cgroup", "CGROUP", "cgroup v2 paths (or ids)", ResolveCgroup, func(s *Set) *[]Rule[uint64] { return &s.Cgroup }),
	dim("path", "PATH", "the path and everything below it; for rename", CleanPath, func(s *Set) *[]Rule[string] { return &s.Path }),
	dim("container", "ID", "containers, by an id prefix of 12 to 64 hex", ParseContainerID, func(s *Set) *[]Rule[string] { return &s.Container }),
}

// Switch is a yes-or-no filter: flag --NAME, file key NAME with '_' for
// '-'. Merge keeps it on when either set has it.
type Switch struct {
	Name string
	Help string // --help's first line of words for it

	field func(s *Set) *bool
}

// Key is the switch's key in a filter file.
func (w Switch) Key() string { return strings.ReplaceAll(w.Name, "-", "_") }

// Set turns the switch on or off in s.
func (w Switch) Set(s *Set, on bool) { *w.field(s) = on }

// On tells whether s has the switch on.
func (w Switch) On(s Set) bool { return *w.field(&s) }

// Switches in the order of the file's documentation.
var Switches = []Switch{
	{Name: "failed", Help: "failed operations only", field: func(s *Set) *bool { return &s.Failed }},
	{Name: "host-only", Help: "host processes only: outside any container's", field: func(s *Set) *bool { return &s.HostOnly }},
	{Name: "containers-only", Help: "all other processes", field: func(s *Set) *bool { return &s.ContainersOnly }},
}

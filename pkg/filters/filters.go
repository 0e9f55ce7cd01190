package filters

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fstrace/fstrace/pkg/events"
)

// MaxPathLen is the longest path rule: the kernel matches on a path's first
// bytes (the path itself may be of any length).
const MaxPathLen = 254

// MaxCommLen is the longest comm the kernel keeps (TASK_COMM_LEN - 1).
const MaxCommLen = 15

// Rule is one entry of a dimension. Events zero means every kind.
type Rule[T comparable] struct {
	Value   T
	Events  events.KindMask
	Exclude bool
}

// Set is a complete filter set. The zero Set keeps everything.
type Set struct {
	Events events.KindMask // the kinds kept; zero: every traced kind
	Failed bool            // keep failed operations only

	PID    []Rule[uint32] // thread group ids
	UID    []Rule[uint32]
	GID    []Rule[uint32]
	Comm   []Rule[string]
	Cgroup []Rule[uint64] // cgroup v2 ids
	Path   []Rule[string] // absolute, cleaned
	// Container: container id prefixes, 12 to 64 lowercase hex digits
	// (ParseContainerID). An include keeps only events of the containers
	// named; a host process is in none.
	Container []Rule[string]

	// HostOnly keeps the events of host processes only: outside any
	// container cgroup, in the initial cgroup and mount namespaces.
	// ContainersOnly keeps all the others. At most one may be set.
	HostOnly, ContainersOnly bool
}

// Merge returns s with o's rules added; Events keeps what both keep, Failed
// holds if either asks for it.
func (s Set) Merge(o Set) Set {
	out := s
	switch {
	case s.Events == 0:
		out.Events = o.Events
	case o.Events != 0:
		out.Events = s.Events & o.Events
	}
	for _, w := range Switches {
		w.Set(&out, w.On(s) || w.On(o))
	}
	for _, d := range Dimensions {
		d.merge(&out, s, o)
	}
	return out
}

// Validate checks the values the kernel cannot take.
func (s Set) Validate() error {
	if s.HostOnly && s.ContainersOnly {
		return errors.New("host-only and containers-only exclude each other")
	}
	short := map[string]string{} // the kernel's key: the first 12 digits
	for _, r := range s.Container {
		if _, err := ParseContainerID(r.Value); err != nil {
			return err
		}
		k := r.Value[:MinContainerID]
		if o, ok := short[k]; ok && o != r.Value {
			return fmt.Errorf("container ids %s and %s: two prefixes that share their first %d digits are not supported", o, r.Value, MinContainerID)
		}
		short[k] = r.Value
	}
	for _, r := range s.Comm {
		if r.Value == "" || len(r.Value) > MaxCommLen {
			return fmt.Errorf("comm %q: want 1 to %d bytes", r.Value, MaxCommLen)
		}
	}
	for _, r := range s.Path {
		if !filepath.IsAbs(r.Value) || filepath.Clean(r.Value) != r.Value {
			return fmt.Errorf("path %q: want an absolute, clean path", r.Value)
		}
		if len(r.Value) > MaxPathLen {
			return fmt.Errorf("path %q: longer than %d bytes", r.Value, MaxPathLen)
		}
	}
	return nil
}

// Add resolves values and appends a rule for each to dst. Events zero means
// every kind; exclude makes them exclusions.
func Add[T comparable](dst *[]Rule[T], resolve func(string) (T, error), ev events.KindMask, exclude bool, values ...string) error {
	for _, v := range values {
		x, err := resolve(v)
		if err != nil {
			return err
		}
		*dst = append(*dst, Rule[T]{Value: x, Events: ev, Exclude: exclude})
	}
	return nil
}

// MinContainerID is the shortest container id prefix taken: the short id
// docker ps shows.
const MinContainerID = 12

// ParseContainerID accepts a container id or a prefix of one of at least
// MinContainerID hex digits, and returns it in lower case.
func ParseContainerID(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if len(t) < MinContainerID || len(t) > 64 {
		return "", fmt.Errorf("container id %q: want %d to 64 hex digits", s, MinContainerID)
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("container id %q: want %d to 64 hex digits", s, MinContainerID)
		}
	}
	return t, nil
}

// CheckComm accepts a process name the kernel can hold.
func CheckComm(s string) (string, error) {
	if s == "" || len(s) > MaxCommLen {
		return "", fmt.Errorf("comm %q: want 1 to %d bytes", s, MaxCommLen)
	}
	return s, nil
}

// ParsePID parses a process id.
func ParsePID(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a process id", s)
	}
	return uint32(n), nil
}

// ResolveUser turns a user name or a numeric uid into a uid, as id(1) does.
func ResolveUser(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if u, err := user.Lookup(s); err == nil {
		n, err := strconv.ParseUint(u.Uid, 10, 32)
		return uint32(n), err
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	return 0, fmt.Errorf("%q: no such user", s)
}

// ResolveGroup turns a group name or a numeric gid into a gid.
func ResolveGroup(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if g, err := user.LookupGroup(s); err == nil {
		n, err := strconv.ParseUint(g.Gid, 10, 32)
		return uint32(n), err
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	return 0, fmt.Errorf("%q: no such group", s)
}

// CgroupRoot is where the cgroup v2 hierarchy is mounted.
var CgroupRoot = "/sys/fs/cgroup"

// ResolveCgroup turns a cgroup v2 id, or a cgroup path (absolute, or
// relative to CgroupRoot), into the id the kernel reports: the inode
// number of the cgroup's directory.
func ResolveCgroup(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty cgroup")
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n, nil
	}
	p := s
	if !strings.HasPrefix(p, CgroupRoot+"/") && p != CgroupRoot {
		p = filepath.Join(CgroupRoot, s)
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, fmt.Errorf("cgroup %q: %w", s, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, fmt.Errorf("cgroup %q: %s is not a directory", s, p)
	}
	return st.Ino, nil
}

// CleanPath makes a path rule absolute (against the working directory) and
// clean.
func CleanPath(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty path")
	}
	if !filepath.IsAbs(s) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		s = filepath.Join(wd, s)
	}
	s = filepath.Clean(s)
	if len(s) > MaxPathLen {
		return "", fmt.Errorf("path %q: longer than %d bytes", s, MaxPathLen)
	}
	return s, nil
}

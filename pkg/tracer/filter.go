package tracer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cilium/ebpf"

	"github.com/fstrace/fstrace/pkg/events"
	"github.com/fstrace/fstrace/pkg/filters"
)

// DIM_* in bpf/lib/filter.h.
const (
	dimPID = 1 << iota
	dimUID
	dimGID
	dimComm
	dimCgroup
	dimPath
	dimContainer
)

// NS_* in bpf/lib/container.h.
const (
	nsHost       = 1
	nsContainers = 2
)

// filterState writes filter sets into the kernel's maps, alternating
// between the two generations (see bpf/lib/filter.h).
type filterState struct {
	mu      sync.Mutex
	objs    *objs
	gen     uint32          // the generation in use
	keys    [2][]filterKey  // what each generation wrote
	kinds   events.KindMask // the kinds the programs trace
	host    *hostPaths      // takes the path rules too
	hostMnt uint32          // the initial namespaces' inodes (hostNS)
	hostCg  uint32
	flipped time.Time
}

type filterKey struct {
	m   *ebpf.Map
	key any
}

// rules merges a dimension's rules per value into include/exclude masks.
func rules[T comparable](rs []filters.Rule[T], all events.KindMask) (map[T]*bpfFilterVal, bool) {
	out := map[T]*bpfFilterVal{}
	include := false
	for _, r := range rs {
		m := r.Events
		if m == 0 {
			m = all
		}
		v := out[r.Value]
		if v == nil {
			v = &bpfFilterVal{}
			out[r.Value] = v
		}
		if r.Exclude {
			v.Exclude |= uint32(m)
		} else {
			v.Include |= uint32(m)
			include = true
		}
	}
	return out, include
}

// kernelDim is how one dimension of filters.Dimensions is written into
// the kernel: its map, its DIM_* bit, and its rules as map entries of the
// generation gen. TestKernelDimsMatchFilters holds it to the filters table.
type kernelDim struct {
	name    string // filters.Dimension.Name
	bit     uint32
	m       func(*objs) *ebpf.Map
	entries func(s filters.Set, gen uint32, all events.KindMask) ([]mapEntry, bool)
}

type mapEntry struct{ key, val any }

// dimEntries makes a kernelDim's entries from a Set field's rules, merged
// per value, and a key (and value) maker for one value.
func dimEntries[T comparable](field func(filters.Set) []filters.Rule[T], entry func(gen uint32, v T, fv *bpfFilterVal) mapEntry) func(filters.Set, uint32, events.KindMask) ([]mapEntry, bool) {
	return func(s filters.Set, gen uint32, all events.KindMask) ([]mapEntry, bool) {
		vals, inc := rules(field(s), all)
		out := make([]mapEntry, 0, len(vals))
		for v, fv := range vals {
			out = append(out, entry(gen, v, fv))
		}
		return out, inc
	}
}

func idEntry(gen, id uint32, fv *bpfFilterVal) mapEntry {
	return mapEntry{bpfIdKey{Gen: gen, Id: id}, fv}
}

// kernelDims, in the order of filters.Dimensions.
var kernelDims = []kernelDim{
	{"pid", dimPID, func(o *objs) *ebpf.Map { return o.FilterPid },
		dimEntries(func(s filters.Set) []filters.Rule[uint32] { return s.PID }, idEntry)},
	{"uid", dimUID, func(o *objs) *ebpf.Map { return o.FilterUid },
		dimEntries(func(s filters.Set) []filters.Rule[uint32] { return s.UID }, idEntry)},
	{"gid", dimGID, func(o *objs) *ebpf.Map { return o.FilterGid },
		dimEntries(func(s filters.Set) []filters.Rule[uint32] { return s.GID }, idEntry)},
	{"comm", dimComm, func(o *objs) *ebpf.Map { return o.FilterComm },
		dimEntries(func(s filters.Set) []filters.Rule[string] { return s.Comm }, commEntry)},
	{"cgroup", dimCgroup, func(o *objs) *ebpf.Map { return o.FilterCgroup },
		dimEntries(func(s filters.Set) []filters.Rule[uint64] { return s.Cgroup }, func(gen uint32, id uint64, fv *bpfFilterVal) mapEntry {
			return mapEntry{bpfCgroupKey{Gen: gen, Id: id}, fv}
		})},
	{"path", dimPath, func(o *objs) *ebpf.Map { return o.FilterPath },
		dimEntries(func(s filters.Set) []filters.Rule[string] { return s.Path }, func(gen uint32, p string, fv *bpfFilterVal) mapEntry {
			return mapEntry{pathKey(gen, p), fv}
		})},
	{"container", dimContainer, func(o *objs) *ebpf.Map { return o.FilterContainer },
		dimEntries(func(s filters.Set) []filters.Rule[string] { return s.Container }, func(gen uint32, id string, fv *bpfFilterVal) mapEntry {
			k, v := containerEntry(gen, id, fv)
			return mapEntry{k, v}
		})},
}

// commEntry: a comm key is the name NUL-padded to the kernel's 16 bytes.
func commEntry(gen uint32, name string, fv *bpfFilterVal) mapEntry {
	k := bpfCommKey{Gen: gen}
	for i := 0; i < len(name) && i < len(k.Comm)-1; i++ {
		k.Comm[i] = int8(name[i])
	}
	return mapEntry{k, fv}
}

// set installs s in the idle generation, then makes it the one in use.
func (f *filterState) set(s filters.Set) error {
	if err := s.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	next := 1 - f.gen
	// Events still being judged by the idle generation's previous set
	// (flipped away from moments ago) finish within microseconds.
	if d := time.Since(f.flipped); d < 10*time.Millisecond {
		time.Sleep(10*time.Millisecond - d)
	}
	for _, k := range f.keys[next] {
		// An entry left behind would belong to the set written next.
		if err := k.m.Delete(k.key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("clear the idle filter generation: %w", err)
		}
	}
	f.keys[next] = nil
	// Each dimension's table holds both generations: a set must fit
	// beside the one in force. Said before anything is written, rather
	// than as the kernel's ENOSPC halfway through.
	room := func(m *ebpf.Map, what string, n int) error {
		used := 0
		for _, k := range f.keys[f.gen] {
			if k.m == m {
				used++
			}
		}
		if free := int(m.MaxEntries()) - used; n > free {
			return fmt.Errorf("install filter: %d %s values, more than the %d that fit (the kernel table holds %d, %d of them used by the filters in force): %w",
				n, what, free, m.MaxEntries(), used, ErrFilterTooLarge)
		}
		return nil
	}
	put := func(m *ebpf.Map, key, v any) error {
		if err := m.Put(key, v); err != nil {
			return fmt.Errorf("install filter: %w", err)
		}
		f.keys[next] = append(f.keys[next], filterKey{m, key})
		return nil
	}
	all := f.kinds
	cfg := bpfFilterCfg{Kinds: uint32(all)}
	if s.Events != 0 {
		cfg.Kinds = uint32(s.Events & all)
	}
	if s.Failed {
		cfg.FailedOnly = 1
	}
	note := func(dim uint32, n int, include bool) {
		if n > 0 {
			cfg.AnyDims |= dim
		}
		if include {
			cfg.IncludeDims |= dim
		}
	}
	for _, d := range kernelDims {
		es, inc := d.entries(s, next, all)
		m := d.m(f.objs)
		if err := room(m, d.name, len(es)); err != nil {
			return err
		}
		for _, e := range es {
			if err := put(m, e.key, e.val); err != nil {
				return err
			}
		}
		note(d.bit, len(es), inc)
	}
	cfg.HostMntns, cfg.HostCgns = f.hostMnt, f.hostCg
	switch {
	case s.HostOnly:
		cfg.NsMode = nsHost
	case s.ContainersOnly:
		cfg.NsMode = nsContainers
	}

	if err := f.objs.FilterCfgs.Put(next, cfg); err != nil {
		return fmt.Errorf("install filter: %w", err)
	}
	if err := f.objs.FilterGen.Set(next); err != nil {
		return fmt.Errorf("switch filter: %w", err)
	}
	f.gen = next
	f.flipped = time.Now()
	if f.host != nil {
		f.host.setFilter(s)
	}
	return nil
}

// containerEntry is the kernel's entry for a container id prefix (checked
// by filters.Set.Validate): keyed by its first 12 digits, holding the
// whole prefix as bytes and a mask of the bits it gives.
func containerEntry(gen uint32, prefix string, v *bpfFilterVal) (bpfCtrKey, bpfCtrVal) {
	var id, mask [32]byte
	for i := 0; i < len(prefix) && i < 64; i++ {
		c := prefix[i]
		var x byte
		switch {
		case c >= 'a':
			x = c - 'a' + 10
		default:
			x = c - '0'
		}
		shift := 4 * uint(1-i%2)
		id[i/2] |= x << shift
		mask[i/2] |= 0xf << shift
	}
	k := bpfCtrKey{Gen: gen}
	var key [8]byte
	copy(key[:filters.MinContainerID/2], id[:])
	k.Prefix = binary.NativeEndian.Uint64(key[:])
	cv := bpfCtrVal{V: *v}
	for i := range cv.Want {
		cv.Want[i] = binary.NativeEndian.Uint64(id[8*i:])
		cv.Mask[i] = binary.NativeEndian.Uint64(mask[8*i:])
	}
	return k, cv
}

// pathKey is the LPM key of a subtree: the generation byte, then the path
// with a trailing '/', so that /etc holds /etc and /etc/x but not /etcx.
func pathKey(gen uint32, p string) bpfPathKey {
	var k bpfPathKey
	data := append([]byte{byte(gen)}, p...)
	if p != "/" {
		data = append(data, '/')
	}
	n := copy(k.Data[:], data)
	k.Prefixlen = uint32(n * 8)
	return k
}

package tracer

import (
	"encoding/binary"
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
		_ = k.m.Delete(k.key)
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
	put := func(m *ebpf.Map, key any, v *bpfFilterVal) error {
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
	for _, d := range []struct {
		rs   []filters.Rule[uint32]
		m    *ebpf.Map
		dim  uint32
		what string
	}{
		{s.PID, f.objs.FilterPid, dimPID, "pid"},
		{s.UID, f.objs.FilterUid, dimUID, "uid"},
		{s.GID, f.objs.FilterGid, dimGID, "gid"},
	} {
		vals, inc := rules(d.rs, all)
		if err := room(d.m, d.what, len(vals)); err != nil {
			return err
		}
		for id, v := range vals {
			if err := put(d.m, bpfIdKey{Gen: next, Id: id}, v); err != nil {
				return err
			}
		}
		note(d.dim, len(vals), inc)
	}
	vals, inc := rules(s.Comm, all)
	if err := room(f.objs.FilterComm, "comm", len(vals)); err != nil {
		return err
	}
	for name, v := range vals {
		k := bpfCommKey{Gen: next}
		for i := 0; i < len(name) && i < len(k.Comm)-1; i++ {
			k.Comm[i] = int8(name[i])
		}
		if err := put(f.objs.FilterComm, k, v); err != nil {
			return err
		}
	}
	note(dimComm, len(vals), inc)
	cvals, inc := rules(s.Cgroup, all)
	if err := room(f.objs.FilterCgroup, "cgroup", len(cvals)); err != nil {
		return err
	}
	for id, v := range cvals {
		if err := put(f.objs.FilterCgroup, bpfCgroupKey{Gen: next, Id: id}, v); err != nil {
			return err
		}
	}
	note(dimCgroup, len(cvals), inc)
	pvals, inc := rules(s.Path, all)
	if err := room(f.objs.FilterPath, "path", len(pvals)); err != nil {
		return err
	}
	for p, v := range pvals {
		if err := put(f.objs.FilterPath, pathKey(next, p), v); err != nil {
			return err
		}
	}
	note(dimPath, len(pvals), inc)
	ctrs, inc := rules(s.Container, all)
	if err := room(f.objs.FilterContainer, "container", len(ctrs)); err != nil {
		return err
	}
	for id, v := range ctrs {
		k, cv := containerEntry(next, id, v)
		if err := f.objs.FilterContainer.Put(k, cv); err != nil {
			return fmt.Errorf("install filter: %w", err)
		}
		f.keys[next] = append(f.keys[next], filterKey{f.objs.FilterContainer, k})
	}
	note(dimContainer, len(ctrs), inc)
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

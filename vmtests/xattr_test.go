package vmtests

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// xattrPrefix picks an attribute namespace the filesystem of dir takes:
// user.* where it can (tmpfs only since 6.6), else trusted.* (root, as the
// tests run). It tries on a file of its own, before any trace.
func xattrPrefix(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, ".probe")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	for _, prefix := range []string{"user.", "trusted."} {
		if err := unix.Setxattr(p, prefix+"probe", []byte("x"), 0); err == nil {
			return prefix
		}
	}
	t.Fatalf("the filesystem of %s takes neither user.* nor trusted.* attributes", dir)
	return ""
}

// aclValue is a POSIX ACL as the system.posix_acl_access attribute holds
// it: user::rw- group::r-- other::r--, what chmod 0644 would give.
func aclValue() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2) // POSIX_ACL_XATTR_VERSION
	for _, e := range []struct{ tag, perm uint16 }{{0x01, 6}, {0x04, 4}, {0x20, 4}} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, 0xffffffff) // ACL_UNDEFINED_ID
	}
	return b
}

// xattrArgs is struct xattr_args of setxattrat(2).
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

func setxattrat(dfd int, path, name string, value []byte, flags uint32) error {
	p, _ := unix.BytePtrFromString(path)
	n, _ := unix.BytePtrFromString(name)
	a := xattrArgs{size: uint32(len(value)), flags: flags}
	if len(value) > 0 {
		a.value = uint64(uintptr(unsafe.Pointer(&value[0])))
	}
	_, _, e := unix.Syscall6(unix.SYS_SETXATTRAT, uintptr(dfd), uintptr(unsafe.Pointer(p)), 0,
		uintptr(unsafe.Pointer(n)), uintptr(unsafe.Pointer(&a)), unsafe.Sizeof(a))
	if e != 0 {
		return e
	}
	return nil
}

func removexattrat(dfd int, path, name string) error {
	p, _ := unix.BytePtrFromString(path)
	n, _ := unix.BytePtrFromString(name)
	_, _, e := unix.Syscall6(unix.SYS_REMOVEXATTRAT, uintptr(dfd), uintptr(unsafe.Pointer(p)), 0,
		uintptr(unsafe.Pointer(n)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// xattrSetup is what the test found out before the trace, for the helper:
// the namespace, whether ACLs and the *xattrat calls (6.13+) work.
type xattrSetup struct {
	prefix   string
	acl, ats bool
}

func (x xattrSetup) write(dir string) error {
	return os.WriteFile(filepath.Join(dir, ".xattr"), fmt.Appendf(nil, "%s %t %t", x.prefix, x.acl, x.ats), 0o644)
}

func readXattrSetup(dir string) (xattrSetup, error) {
	var x xattrSetup
	b, err := os.ReadFile(filepath.Join(dir, ".xattr"))
	if err != nil {
		return x, err
	}
	_, err = fmt.Sscan(string(b), &x.prefix, &x.acl, &x.ats)
	return x, err
}

func init() {
	helpers["xattrs"] = func(h helperEnv) error {
		x, err := readXattrSetup(h.dir)
		if err != nil {
			return err
		}
		a, b := x.prefix+"a", x.prefix+"b"
		p, nope := h.dir+"/f", h.dir+"/nope"
		if err := os.WriteFile(p, []byte("hello"), 0o600); err != nil {
			return err
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for _, c := range []struct {
			what string
			err  error
			want error
		}{
			{"setxattr", unix.Setxattr(p, a, []byte("hello"), 0), nil},
			{"lsetxattr create", unix.Lsetxattr(p, b, []byte("xy"), unix.XATTR_CREATE), nil},
			{"fsetxattr replace", unix.Fsetxattr(fd, a, []byte("hello!"), unix.XATTR_REPLACE), nil},
			{"setxattr create existing", unix.Setxattr(p, a, []byte("x"), unix.XATTR_CREATE), unix.EEXIST},
			{"setxattr missing file", unix.Setxattr(nope, a, []byte("x"), 0), unix.ENOENT},
			{"removexattr", unix.Removexattr(p, a), nil},
			{"lremovexattr", unix.Lremovexattr(p, b), nil},
			{"fremovexattr removed", unix.Fremovexattr(fd, a), unix.ENODATA},
			{"removexattr missing file", unix.Removexattr(nope, a), unix.ENOENT},
		} {
			if !errors.Is(c.err, c.want) {
				return fmt.Errorf("%s: %v, want %v", c.what, c.err, c.want)
			}
		}
		if x.acl {
			if err := unix.Setxattr(p, "system.posix_acl_access", aclValue(), 0); err != nil {
				return fmt.Errorf("set ACL: %w", err)
			}
		}
		if x.ats {
			dfd, err := unix.Open(h.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(dfd)
			if err := setxattrat(dfd, "f", a, []byte("abc"), unix.XATTR_CREATE); err != nil {
				return fmt.Errorf("setxattrat: %w", err)
			}
			if err := removexattrat(dfd, "f", a); err != nil {
				return fmt.Errorf("removexattrat: %w", err)
			}
			if err := removexattrat(dfd, "f", a); !errors.Is(err, unix.ENODATA) {
				return fmt.Errorf("removexattrat removed: %v, want ENODATA", err)
			}
		}
		return nil
	}
}

// TestXattr: sets and removes of extended attributes through each call,
// those that succeed and those that fail (EEXIST, ENODATA, ENOENT in path
// lookup), and an ACL as cp -a sets it, are each one xattr event with the
// attribute's name, the value's size (never the value) and the flags, in
// every mode, with no -e: xattr is a default kind.
func TestXattr(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		x := xattrSetup{prefix: xattrPrefix(t, dir)}
		probe := filepath.Join(dir, ".probe-acl")
		if err := os.WriteFile(probe, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		x.acl = unix.Setxattr(probe, "system.posix_acl_access", aclValue(), 0) == nil
		x.ats = !errors.Is(setxattrat(unix.AT_FDCWD, probe, x.prefix+"probe", []byte("x"), 0), unix.ENOSYS)
		os.Remove(probe)
		if err := x.write(dir); err != nil {
			t.Fatal(err)
		}
		t.Logf("attributes %s*, ACLs %v, setxattrat %v", x.prefix, x.acl, x.ats)

		r := trace(t, mode, dir, "xattrs", "-e", "xattr")
		if r.status != 0 {
			t.Fatalf("fstrace exited %d", r.status)
		}
		a, b := x.prefix+"a", x.prefix+"b"
		wants := []map[string]any{
			{"ret": 0, "op": "set", "name": a, "size": 5, "flags": nil},
			{"ret": 0, "op": "set", "name": b, "size": 2, "flags": "XATTR_CREATE"},
			{"ret": 0, "op": "set", "name": a, "size": 6, "flags": "XATTR_REPLACE"},
			{"ret": -17, "error": "EEXIST", "op": "set", "name": a, "size": 1, "flags": "XATTR_CREATE"},
			{"ret": 0, "op": "remove", "name": a, "size": nil, "flags": nil},
			{"ret": 0, "op": "remove", "name": b, "size": nil},
			{"ret": -61, "error": "ENODATA", "op": "remove", "name": a},
		}
		if x.acl {
			wants = append(wants, map[string]any{"ret": 0, "op": "set", "name": "system.posix_acl_access", "size": 28, "flags": nil})
		}
		if x.ats {
			wants = append(wants,
				map[string]any{"ret": 0, "op": "set", "name": a, "size": 3, "flags": "XATTR_CREATE"},
				map[string]any{"ret": 0, "op": "remove", "name": a},
				map[string]any{"ret": -61, "error": "ENODATA", "op": "remove", "name": a})
		}
		evs := r.find("xattr", dir+"/f")
		if len(evs) != len(wants) {
			t.Fatalf("want %d xattr events on %s/f, got %d:\n%s", len(wants), dir, len(evs), r.dump())
		}
		for i, w := range wants {
			expect(t, evs[i], w)
			if _, ok := evs[i]["value"]; ok {
				t.Errorf("xattr event carries the value: %v", evs[i])
			}
		}
		r.common(t, evs[0], 0, 0)

		// Failures in path lookup reach no filesystem, in every mode.
		fails := r.find("xattr", dir+"/nope")
		if len(fails) != 2 {
			t.Fatalf("want 2 xattr events on %s/nope, got %d:\n%s", dir, len(fails), r.dump())
		}
		expect(t, fails[0], map[string]any{"ret": -2, "error": "ENOENT", "op": "set", "name": a, "size": 1})
		expect(t, fails[1], map[string]any{"ret": -2, "error": "ENOENT", "op": "remove", "name": a})
		if n := len(r.find("xattr", dir+"/.xattr")); n != 0 {
			t.Errorf("%d xattr events on the setup file", n)
		}
	})
}

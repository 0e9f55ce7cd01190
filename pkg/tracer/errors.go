package tracer

import (
	"errors"
	"io/fs"
)

// The sentinels that have a standard meaning wrap the standard error, so
// that errors.Is(err, fs.ErrPermission) holds for a caller that knows
// nothing of this package.
var (
	// ErrClosed is returned by Read once the tracer is closed and every
	// event recorded before Close has been read. It wraps fs.ErrClosed
	// (os.ErrClosed).
	ErrClosed error = &sentinel{"tracer closed", fs.ErrClosed}
	// ErrNoBTF means the kernel does not expose its BTF, which the CO-RE
	// programs need to find the fields they read. It wraps
	// errors.ErrUnsupported.
	ErrNoBTF error = &sentinel{"kernel BTF not available (/sys/kernel/btf/vmlinux missing; needs CONFIG_DEBUG_INFO_BTF)", errors.ErrUnsupported}
	// ErrPermission means the process may not load BPF programs. It
	// wraps fs.ErrPermission (os.ErrPermission).
	ErrPermission error = &sentinel{"permission denied: fstrace needs root, or CAP_BPF and CAP_PERFMON", fs.ErrPermission}
	// ErrUnsupported means the kernel lacks what a hook mode needs. It
	// wraps errors.ErrUnsupported.
	ErrUnsupported error = &sentinel{"not supported by this kernel", errors.ErrUnsupported}
	// ErrFilterTooLarge means a filter set has more values in one
	// dimension than the kernel's table for it holds.
	ErrFilterTooLarge = errors.New("filter set too large for the kernel's tables")
)

// sentinel is an error of its own that also is a standard one.
type sentinel struct {
	msg string
	std error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.std }

package tracer

import "errors"

var (
	// ErrClosed is returned by Read once the tracer is closed and every
	// event recorded before Close has been read.
	ErrClosed = errors.New("tracer closed")
	// ErrNoBTF means the kernel does not expose its BTF, which the CO-RE
	// programs need to find the fields they read.
	ErrNoBTF = errors.New("kernel BTF not available (/sys/kernel/btf/vmlinux missing; needs CONFIG_DEBUG_INFO_BTF)")
	// ErrPermission means the process may not load BPF programs.
	ErrPermission = errors.New("permission denied: fstrace needs root, or CAP_BPF and CAP_PERFMON")
	// ErrUnsupported means the kernel lacks what a hook mode needs.
	ErrUnsupported = errors.New("not supported by this kernel")
	// ErrFilterTooLarge means a filter set has more values in one
	// dimension than the kernel's table for it holds.
	ErrFilterTooLarge = errors.New("filter set too large for the kernel's tables")
)

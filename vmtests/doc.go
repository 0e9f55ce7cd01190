// Package vmtests holds fstrace's integration tests: each runs the fstrace
// binary as a user would, performs real file operations in a child process
// and asserts the exact JSON events. They need root and a kernel fstrace
// can attach to; `make vmtest` runs them inside QEMU guests booting the
// kernels fstrace supports (see run-vm.sh). Elsewhere they skip, saying why,
// unless FSTRACE_REQUIRE=1, which turns a skip into a failure.
package vmtests

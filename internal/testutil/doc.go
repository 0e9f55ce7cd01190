// Package testutil holds what fstrace's tests share. Its one rule: a test
// that cannot run here (not root, no BPF, a tool missing) skips, saying
// why, unless FSTRACE_REQUIRE=1, where it fails instead. make hosttest and
// the QEMU guests set it, so that a broken setup cannot pass as skips.
package testutil

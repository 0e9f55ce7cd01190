package testutil

import (
	"fmt"
	"os"
	"testing"
)

// Required reports whether FSTRACE_REQUIRE=1: skips become failures.
func Required() bool {
	return os.Getenv("FSTRACE_REQUIRE") == "1"
}

// Skip skips t with the message, or fails it with FSTRACE_REQUIRE=1.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("FSTRACE_REQUIRE=1 but %s", msg)
		return // for a testing.TB whose Fatalf returns
	}
	t.Skip(msg)
}

// NeedRoot skips (or fails, per Skip) unless the test runs as root.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root %s", why)
	}
}

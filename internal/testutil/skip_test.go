package testutil

import (
	"strings"
	"testing"
)

// recorder is a testing.TB that records how Skip ended it.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()          {}
func (r *recorder) Skip(args ...any) { r.skipped = args[0].(string) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = strings.Replace(format, "%s", args[0].(string), 1)
}

func TestSkip(t *testing.T) {
	for _, c := range []struct {
		env, skipped, failed string
	}{
		{"", "no tool 7", ""},
		{"0", "no tool 7", ""},
		{"1", "", "FSTRACE_REQUIRE=1 but no tool 7"},
	} {
		t.Setenv("FSTRACE_REQUIRE", c.env)
		r := &recorder{TB: t}
		Skip(r, "no tool %d", 7)
		if r.skipped != c.skipped || r.failed != c.failed {
			t.Errorf("FSTRACE_REQUIRE=%q: skipped %q, failed %q; want %q, %q", c.env, r.skipped, r.failed, c.skipped, c.failed)
		}
	}
}

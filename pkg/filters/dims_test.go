package filters

import (
	"os"
	"strings"
	"testing"
)

// TestFileKeys checks that a filter file takes every key of the tables,
// and that the README's example file parses.
func TestFileKeys(t *testing.T) {
	for _, d := range Dimensions {
		for _, exclude := range []bool{false, true} {
			if _, err := Parse([]byte(d.Key(exclude) + ": []\n")); err != nil {
				t.Errorf("key %s: %v", d.Key(exclude), err)
			}
		}
	}
	for _, w := range Switches {
		if _, err := Parse([]byte(w.Key() + ": false\n")); err != nil {
			t.Errorf("key %s: %v", w.Key(), err)
		}
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\nevents:")
	if !ok {
		t.Fatal("README.md has no example filter file")
	}
	example, _, _ := strings.Cut("events:"+rest, "```")
	if _, err := Parse([]byte(example)); err != nil {
		t.Fatalf("README.md's example filter file: %v", err)
	}
}

package events

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEKinds holds the README's table of fields by kind to the kinds
// table: the rows are the table's docs, kinds with the same words sharing
// a row, and each doc names every JSON key its kind's details write.
func TestREADMEKinds(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const head = "| event | fields |\n|---|---|\n"
	_, rest, ok := strings.Cut(string(b), head)
	if !ok {
		t.Fatalf("README.md has no table starting %q", head)
	}
	table, _, _ := strings.Cut(rest, "\n\n")
	got := strings.Split(table, "\n")

	var want []string
	for k := KindOpen; k < kindMax; {
		s := &kinds[k]
		names := []string{"`" + s.name + "`"}
		for k++; k < kindMax && kinds[k].doc == s.doc; k++ {
			names = append(names, "`"+kinds[k].name+"`")
		}
		want = append(want, "| "+strings.Join(names, ", ")+" | "+s.doc+" |")
		for _, d := range s.details {
			if !strings.Contains(s.doc, "`"+d.key+"`") {
				t.Errorf("the doc of %s does not name its detail `%s`", s.name, d.key)
			}
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README.md's table of fields by kind differs from the kinds table (pkg/events/kinds.go).\nREADME:\n%s\nwant:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestKindSpecs checks the table is whole: every kind has a name, and
// every detail can write JSON.
func TestKindSpecs(t *testing.T) {
	for k := KindOpen; k < kindMax; k++ {
		s := k.spec()
		if s.name == "" || s.doc == "" {
			t.Errorf("kind %d has no name or doc", k)
		}
		for _, d := range append(s.details, s.text...) {
			if d.key == "" || d.json == nil {
				t.Errorf("%s: a detail without a key or JSON", s.name)
			}
		}
	}
}

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fstrace/fstrace/pkg/filters"
)

// TestFilterTable holds the CLI's filter flags, --help and the README's
// table of filter flags to the filters tables.
func TestFilterTable(t *testing.T) {
	fs := flag.NewFlagSet("fstrace", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	filterFlags(fs)
	var got, want []string
	fs.VisitAll(func(f *flag.Flag) { got = append(got, f.Name) })
	var excludes []string
	for _, d := range filters.Dimensions {
		want = append(want, d.Flag(false), d.Flag(true))
		excludes = append(excludes, "--"+d.Flag(true))
	}
	for _, w := range filters.Switches {
		want = append(want, w.Name)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("filter flags %q, want %q", got, want)
	}

	// parseArgs registers them.
	for _, name := range want {
		if _, err := parseArgs([]string{"--" + name + "=x"}, io.Discard); err != nil && strings.HasPrefix(err.Error(), "unknown flag") {
			t.Errorf("parseArgs --%s=x: %v", name, err)
		}
	}

	// --help: a line per dimension and switch, its words from the table,
	// and the exclude forms in table order.
	for _, d := range filters.Dimensions {
		line := fmt.Sprintf("\n      %-22s%s\n", "--"+d.Name+" "+d.Arg, d.Help)
		if !strings.Contains(usageText, line) {
			t.Errorf("--help has no line %q", strings.Trim(line, "\n"))
		}
	}
	for _, w := range filters.Switches {
		line := fmt.Sprintf("\n      %-22s%s\n", "--"+w.Name, w.Help)
		if !strings.Contains(usageText, line) {
			t.Errorf("--help has no line %q", strings.Trim(line, "\n"))
		}
	}
	if list := strings.Join(strings.Fields(usageText[strings.Index(usageText, "--exclude-pid"):strings.Index(usageText, "--filter-file")]), " "); list != strings.Join(excludes, ", ") {
		t.Errorf("--help lists the exclude flags as %q, want %q", list, strings.Join(excludes, ", "))
	}
	if got := helpOrder(); len(got) != len(filters.Dimensions) || !strings.Contains(usageText, "\n      --"+got[0].Name+" ") {
		t.Errorf("helpOrder %v", got)
	}

	// README.md: a row per dimension and switch, and one of the exclude
	// forms in table order.
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Filters\n")
	if !ok {
		t.Fatal("README.md has no Filters section")
	}
	_, rest, ok = strings.Cut(rest, "| flag | keeps |\n|---|---|\n")
	if !ok {
		t.Fatal("README.md's Filters section has no table of flags")
	}
	table, _, _ := strings.Cut(rest, "\n\n")
	firsts := map[string]bool{}
	for _, row := range strings.Split(table, "\n") {
		cell, _, _ := strings.Cut(strings.TrimPrefix(row, "| "), " | ")
		for _, f := range strings.Split(cell, ", ") {
			firsts[f] = true
		}
	}
	for _, d := range filters.Dimensions {
		if f := "`--" + d.Name + " " + d.Arg + "`"; !firsts[f] {
			t.Errorf("README.md's table of filter flags has no %s", f)
		}
	}
	for _, w := range filters.Switches {
		if f := "`--" + w.Name + "`"; !firsts[f] {
			t.Errorf("README.md's table of filter flags has no %s", f)
		}
	}
	row := "| `" + strings.Join(excludes, "`, `") + "` | drop what they match |"
	if !strings.Contains(table, row) {
		t.Errorf("README.md's table of filter flags has no row %q", row)
	}
}

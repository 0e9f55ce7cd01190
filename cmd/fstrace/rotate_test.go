package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fstrace/fstrace/pkg/events"
)

// writeLine writes one line as the sink writes an event: rotating first
// when it would not fit.
func writeLine(t *testing.T, r *rotatingFile, line string) {
	t.Helper()
	if r.full(0, len(line)) {
		if err := r.rotate(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
}

// files returns the contents of every file in dir, by name.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func sameFiles(t *testing.T, got, want map[string]string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files:\n%q\nwant:\n%q", got, want)
	}
}

// Rotation moves PATH to PATH.1 and so on before a line would take PATH
// past the limit, keeps count files, and drops the oldest.
func TestRotatingFileContents(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ev")
	r, err := openRotating(p, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, l := range []string{"aaaa\n", "bbbb\n"} { // 10 bytes: full, not past
		writeLine(t, r, l)
	}
	sameFiles(t, files(t, dir), map[string]string{"ev": "aaaa\nbbbb\n"})
	writeLine(t, r, "cc\n")
	sameFiles(t, files(t, dir), map[string]string{"ev": "cc\n", "ev.1": "aaaa\nbbbb\n"})
	writeLine(t, r, "0123456789abcdef\n") // larger than the limit: a file of its own
	sameFiles(t, files(t, dir), map[string]string{"ev": "0123456789abcdef\n", "ev.1": "cc\n", "ev.2": "aaaa\nbbbb\n"})
	writeLine(t, r, "d\n") // two kept: aaaa bbbb dropped
	sameFiles(t, files(t, dir), map[string]string{"ev": "d\n", "ev.1": "0123456789abcdef\n", "ev.2": "cc\n"})
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != outputFileMode&^umask(t) {
		t.Errorf("mode of a new file: %v, %v", st.Mode(), err)
	}
}

func umask(t *testing.T) os.FileMode {
	t.Helper()
	dir := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, "m"), os.O_CREATE|os.O_WRONLY, 0o777)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ st.Mode().Perm()
}

// An existing file is appended to, its size counted; count 0 keeps no
// rotated file; max size 0 never rotates.
func TestRotatingFileAppendAndLimits(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ev")
	if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := openRotating(p, 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	writeLine(t, r, "1234\n") // 4+5 > 8
	sameFiles(t, files(t, dir), map[string]string{"ev": "1234\n"})
	r.Close()

	r, err = openRotating(p, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 100; i++ {
		writeLine(t, r, "xxxxxxxxx\n")
	}
	if got := files(t, dir); len(got) != 1 || len(got["ev"]) != 5+1000 {
		t.Errorf("max size 0 rotated: %d files, %d bytes", len(got), len(got["ev"]))
	}
	if _, err := openRotating(dir, 10, 1); err == nil {
		t.Error("a directory opened as the output file")
	}
	if _, err := openRotating("/dev/null", 10, 1); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("/dev/null: %v, want not a regular file", err)
	}
}

// reopen after the file was moved away (logrotate, then SIGUSR1): the
// lines before go to the moved file, those after to a new PATH, whose size
// starts again from 0.
func TestRotatingFileReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ev")
	r, err := openRotating(p, 12, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	writeLine(t, r, "one\n")
	writeLine(t, r, "two\n")
	if err := os.Rename(p, p+".moved"); err != nil {
		t.Fatal(err)
	}
	// Past the limit of the moved file, still the one written: the
	// rotation finds no PATH to rename and starts a new one.
	writeLine(t, r, "three\n")
	sameFiles(t, files(t, dir), map[string]string{"ev": "three\n", "ev.moved": "one\ntwo\n"})

	if err := os.Rename(p, p+".moved2"); err != nil {
		t.Fatal(err)
	}
	writeLine(t, r, "four\n")
	if err := r.reopen(); err != nil {
		t.Fatal(err)
	}
	writeLine(t, r, "five\n")
	writeLine(t, r, "six\n")
	sameFiles(t, files(t, dir), map[string]string{"ev": "five\nsix\n", "ev.moved": "one\ntwo\n", "ev.moved2": "three\nfour\n"})

	// A PATH that cannot be opened again leaves the open file in use.
	os.Remove(p)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.reopen(); err == nil || !strings.Contains(err.Error(), "writing on to the file already open") {
		t.Errorf("reopen onto a directory: %v", err)
	}
	if _, err := r.Write([]byte("seven\n")); err != nil {
		t.Errorf("write after a failed reopen: %v", err)
	}
}

// Through the sink, as fstrace writes: numbered events with a small limit
// and a buffer larger than a file. Every file holds whole lines only, none
// past the limit; the files kept, oldest first, hold the last events in
// order, each once; with enough of them kept, all of them.
func TestSinkRotationKeepsEveryLine(t *testing.T) {
	for _, tc := range []struct {
		format   string
		max      int64
		keep     int
		n        int
		reopenAt int // SIGUSR1 after this event, after a move: 0 none
	}{
		{"json", 2000, 300, 3000, 0},
		{"json", 2000, 3, 3000, 0},
		{"json", 700, 200, 500, 250},
		{"text", 1500, 200, 2000, 1000},
	} {
		t.Run(fmt.Sprintf("%s-max%d-keep%d-reopen%d", tc.format, tc.max, tc.keep, tc.reopenAt), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "ev")
			r, err := openRotating(p, tc.max, tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			cfg := &config{output: tc.format, timeStyle: events.TimeRelative, color: "never"}
			s := newSink(cfg, nil, r, time.Unix(0, 0))
			for i := 1; i <= tc.n; i++ {
				ev := &events.Event{Seq: uint64(i), Kind: events.KindCreate, PID: 1, Path: fmt.Sprintf("/tmp/f%d", i)}
				if err := s.write(ev); err != nil {
					t.Fatal(err)
				}
				if i == tc.reopenAt {
					if err := os.Rename(p, filepath.Join(dir, "moved")); err != nil {
						t.Fatal(err)
					}
					if werr, rerr := s.reopen(); werr != nil || rerr != nil {
						t.Fatal(werr, rerr)
					}
				}
			}
			if err := s.close(); err != nil {
				t.Fatal(err)
			}
			// Oldest first: PATH.keep … PATH.1, then PATH. The moved
			// file sits among them, where its first event says.
			var names []string
			for i := tc.keep; i >= 1; i-- {
				names = append(names, fmt.Sprintf("ev.%d", i))
			}
			names = append(names, "ev")
			if tc.reopenAt > 0 {
				names = append(names, "moved")
			}
			var perFile [][]int
			files := 0
			for _, name := range names {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if os.IsNotExist(err) {
					continue
				} else if err != nil {
					t.Fatal(err)
				}
				files++
				if name != "moved" && int64(len(b)) > tc.max {
					t.Errorf("%s: %d bytes, past the limit %d", name, len(b), tc.max)
				}
				if len(b) > 0 && b[len(b)-1] != '\n' {
					t.Errorf("%s ends inside a line", name)
				}
				var seqs []int
				sc := bufio.NewScanner(bytes.NewReader(b))
				first := true
				for sc.Scan() {
					seq, err := lineSeq(tc.format, sc.Text())
					if tc.format == "text" && first {
						if !strings.HasPrefix(sc.Text(), "TIME") {
							t.Errorf("%s starts with %q, not the header", name, sc.Text())
						}
						first = false
						continue
					}
					if err != nil {
						t.Fatalf("%s: %q: %v", name, sc.Text(), err)
					}
					seqs = append(seqs, seq)
				}
				if len(seqs) == 0 {
					t.Errorf("%s holds no event", name)
					continue
				}
				perFile = append(perFile, seqs)
			}
			if tc.reopenAt > 0 {
				sort.SliceStable(perFile, func(i, j int) bool { return perFile[i][0] < perFile[j][0] })
			}
			var seqs []int
			for _, f := range perFile {
				seqs = append(seqs, f...)
			}
			if len(seqs) == 0 || seqs[len(seqs)-1] != tc.n {
				t.Fatalf("last event kept %v, want %d", seqs[max(0, len(seqs)-1):], tc.n)
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] != seqs[i-1]+1 {
					t.Fatalf("event %d follows %d: lost, repeated or out of order", seqs[i], seqs[i-1])
				}
			}
			if files < tc.keep+1 && seqs[0] != 1 {
				t.Errorf("%d files and not all kept: the first event kept is %d", files, seqs[0])
			}
			if files > tc.keep+1+boolInt(tc.reopenAt > 0) {
				t.Errorf("%d files, want at most %d", files, tc.keep+1)
			}
			t.Logf("%d files, events %d to %d", files, seqs[0], seqs[len(seqs)-1])
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lineSeq reads the seq of an event line: the JSON field, or the text
// line's path /tmp/fN.
func lineSeq(format, line string) (int, error) {
	if format == "json" {
		var ev struct{ Seq int }
		err := json.Unmarshal([]byte(line), &ev)
		return ev.Seq, err
	}
	i := strings.Index(line, "/tmp/f")
	if i < 0 {
		return 0, fmt.Errorf("no path")
	}
	var n int
	_, err := fmt.Sscanf(line[i:], "/tmp/f%d", &n)
	return n, err
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// rotatingFile is the file behind --output-file: an io.Writer appending to
// PATH that, when asked, moves PATH to PATH.1 (PATH.1 to PATH.2, and so on,
// the oldest dropped) and starts a new PATH, or opens PATH again after
// something else moved it (logrotate, then SIGUSR1).
//
// It is a type of its own, and knows only bytes, because the sink in front
// of it buffers: it is the sink that decides when to rotate (full), between
// two events and once its buffer is flushed, so that no event is ever split
// across two files. rotatingFile counts what reached the file; the sink
// adds what it still holds.
type rotatingFile struct {
	path    string
	maxSize int64 // rotate before a file would grow past it; 0: never
	keep    int   // rotated files kept: PATH.1 … PATH.keep
	f       *os.File
	size    int64 // bytes in f: those there at open and those written since
}

// The mode of a file fstrace creates: events name every file a process
// touches, not for every user to read.
const outputFileMode = 0o640

// openRotating opens (or creates) path for appending.
func openRotating(path string, maxSize int64, keep int) (*rotatingFile, error) {
	r := &rotatingFile{path: path, maxSize: maxSize, keep: keep}
	f, size, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	r.f, r.size = f, size
	return r, nil
}

func openAppend(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, outputFileMode)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close() // nothing written yet
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		// A FIFO or a device has no size to rotate by, and renaming
		// one would break whoever set it up.
		_ = f.Close() // nothing written yet
		return nil, 0, fmt.Errorf("open %s: not a regular file", path)
	}
	return f, st.Size(), nil
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// empty reports whether the file holds nothing yet, counting the pending
// bytes its writer still buffers.
func (r *rotatingFile) empty(pending int) bool { return r.size+int64(pending) == 0 }

// full reports whether n more bytes, after the pending ones the writer in
// front still buffers, would take the file past its limit. An empty file
// takes anything: an event larger than the limit gets a file of its own
// rather than none.
func (r *rotatingFile) full(pending, n int) bool {
	used := r.size + int64(pending)
	return r.maxSize > 0 && used > 0 && used+int64(n) > r.maxSize
}

// rotate shifts PATH.i to PATH.i+1 for i from keep-1 down to 1, PATH to
// PATH.1 (with keep 0, PATH is removed), and starts PATH again, empty. A
// name missing in the sequence is skipped. The caller flushes first.
func (r *rotatingFile) rotate() error {
	for i := r.keep - 1; i >= 1; i-- {
		if err := os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	var err error
	if r.keep > 0 {
		err = os.Rename(r.path, r.path+".1")
	} else {
		err = os.Remove(r.path)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotate: %w", err)
	}
	if _, err := r.switchTo(); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	return nil
}

// reopen opens PATH again, creating it if it has been moved away, and
// closes the file written so far. When PATH cannot be opened, the file
// open stays in use and the error says so. The caller flushes first.
func (r *rotatingFile) reopen() error {
	if opened, err := r.switchTo(); err != nil && !opened {
		return fmt.Errorf("%w (writing on to the file already open)", err)
	} else if err != nil {
		return err
	}
	return nil
}

// switchTo opens PATH and makes it the file written (opened), then closes
// the previous one.
func (r *rotatingFile) switchTo() (opened bool, err error) {
	f, size, err := openAppend(r.path)
	if err != nil {
		return false, err
	}
	old := r.f
	r.f, r.size = f, size
	if err := old.Close(); err != nil {
		return true, fmt.Errorf("close the previous file: %w", err)
	}
	return true, nil
}

// Close closes the file.
func (r *rotatingFile) Close() error { return r.f.Close() }

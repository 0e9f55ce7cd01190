package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/fstrace/fstrace/pkg/tracer"
)

// followTree adds the processes of --pid-tree and every descendant they
// have now to the tracer's followed set; the kernel adds those forked from
// then on. A process forked while the scan runs, by one not yet added, is
// caught by the next pass: passes repeat until one adds nothing.
func followTree(tr *tracer.Tracer, roots []int) error {
	added := map[int]bool{}
	for _, pid := range roots {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("--pid-tree %d: no such process", pid)
		}
		if err := tr.Follow(pid); err != nil {
			return err
		}
		added[pid] = true
	}
	for pass := 0; pass < 10; pass++ {
		more := false
		for pid, ppid := range parents() {
			if added[ppid] && !added[pid] {
				if err := tr.Follow(pid); err != nil {
					return err
				}
				added[pid], more = true, true
			}
		}
		if !more {
			return nil
		}
	}
	return nil
}

// parents maps every process in /proc to its parent.
func parents() map[int]int {
	out := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		var state string
		var ppid int
		if _, err := fmt.Sscan(string(b[i+1:]), &state, &ppid); err == nil {
			out[pid] = ppid
		}
	}
	return out
}

// treeGone is closed once none of the roots is alive: like strace -p,
// fstrace --pid-tree stops when what it was asked to watch has ended.
// Descendants that outlive their roots are not waited for.
func treeGone(roots []int) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for {
			alive := false
			for _, pid := range roots {
				if alive = pidAlive(pid); alive {
					break
				}
			}
			if !alive {
				close(ch)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return ch
}

// pidAlive: the process exists and is not a zombie waiting to be reaped.
func pidAlive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

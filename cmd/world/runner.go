package main

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// runner is the regtest.T of the command, and the list of everything it
// started: stop runs the cleanups newest first, once, whichever goroutine
// calls it (Ctrl-C arrives on its own); a cleanup registered while
// stopping runs at once, so nothing started late outlives the rest.
type runner struct {
	log io.Writer // the network's own lines

	mu       sync.Mutex
	cleanups []func()
	stopping bool
	failed   bool
	once     sync.Once
}

func (r *runner) Helper() {}

// Fatalf stops everything and exits 1; while a stop is already under way
// (Ctrl-C) the calling goroutine waits for it to end the process instead.
func (r *runner) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = true
	stopping := r.stopping
	r.mu.Unlock()
	if stopping {
		select {}
	}
	fmt.Fprintf(os.Stderr, "world: "+format+"\n", args...)
	r.stop()
	os.Exit(1)
}

func (r *runner) Skipf(format string, args ...any) { r.Fatalf(format, args...) }

func (r *runner) Logf(format string, args ...any) { fmt.Fprintf(r.log, format+"\n", args...) }

func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		f()
		return
	}
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}

func (r *runner) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Stopping reports whether a stop has begun.
func (r *runner) Stopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

func (r *runner) stop() {
	r.once.Do(func() {
		r.mu.Lock()
		r.stopping = true
		cs := r.cleanups
		r.cleanups = nil
		r.mu.Unlock()
		for i := len(cs) - 1; i >= 0; i-- {
			cs[i]()
		}
	})
}

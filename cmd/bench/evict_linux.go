package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// evictFromPageCache writes the file's dirty pages back and drops its pages
// from the page cache, so that the next program to map it faults them in
// from disk, as after a reboot or a deploy (a copied binary reads the same).
// Pages still dirty, as the linker leaves a binary it has just written, are
// not dropped, hence the fsync first.
func evictFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

//go:build !linux

package main

import "errors"

// evictFromPageCache is Linux's (evict_linux.go), as the RSS it is for.
func evictFromPageCache(string) error {
	return errors.New("footprint: only on Linux")
}

//go:build race

package app_test

// raceBuild: the race detector slows the growth generator several times.
const raceBuild = true

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) this process has used: on a
// shared machine, the CPU a hop costs says more than its latency, which
// grows with everyone else's load.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the CPU time (user and system) every process of an engine's
// database server has used so far, read from /proc: postgres (every
// backend, and those that have exited) or mariadbd/mysqld. With the client's own CPU beside it, it
// says where a transaction's cost goes on a machine both share.
func serverCPU(engine string) time.Duration {
	names := map[string][]string{"postgres": {"postgres"}, "mysql": {"mariadbd", "mysqld"}}[engine]
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		comm := s[open+1 : end]
		match := false
		for _, n := range names {
			match = match || comm == n
		}
		// Fields after the command: state is the first; utime, stime,
		// cutime and cstime are the 12th to 15th. The children's times
		// count the PostgreSQL backends that have exited since (the
		// postmaster reaped them), so a connection's whole life counts.
		f := strings.Fields(s[end+1:])
		if !match || len(f) < 15 {
			continue
		}
		for _, i := range []int{11, 12, 13, 14} {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}

// cpuShare reports the CPU a run used per transaction, the client's and
// the database server's, and the cores they kept busy together.
type cpuShare struct {
	client, server time.Duration
	elapsed        time.Duration
	n              int
}

func (c cpuShare) String() string {
	per := func(d time.Duration) string { return ms(d / time.Duration(max(c.n, 1))) }
	return fmt.Sprintf("CPU per transaction: client %s, database server %s; %.2f cores busy", per(c.client), per(c.server),
		(c.client+c.server).Seconds()/c.elapsed.Seconds())
}

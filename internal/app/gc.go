package app

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// GCPercent is the garbage collector's target the server runs with unless
// the environment sets GOGC: the heap may grow to three times what is live
// (Go's default, 100, is twice).
//
// Every PIN check allocates the Argon2 hash's 4 MiB while the server's live
// heap is about 10 MB, so at Go's default a collection runs every few PIN
// checks. Measured with `bench ussd` (32 sessions, 12 s, on the 2-vCPU VM,
// GOGC=100 then 200, twice per engine): CPU per hop 1.03-1.06 → 0.91 ms on
// PostgreSQL, 1.01-1.12 → 0.96-1.01 ms on MariaDB, 1.24-1.29 → 1.03 ms on
// SQLite; hops/s up 4-25 %. GOGC=400 did no better on p99. The cost is a
// larger heap under load, which GOMEMLIMIT can cap.
const GCPercent = 200

// tuneGC sets GCPercent, unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(GCPercent)
	}
}

// MadviseFree is the GODEBUG setting the programs run with unless GODEBUG
// names madvdontneed: memory the runtime gives back to the kernel is given
// with MADV_FREE, which the kernel takes only when it needs it, instead of
// MADV_DONTNEED, which unmaps it at once.
//
// Every PIN check allocates Argon2's 4 MiB. Between checks the runtime's
// scavenger gives those pages back; with MADV_DONTNEED the next check
// faults all 1,024 of them in again and the kernel zeroes each one. With
// MADV_FREE the pages are mostly still there. Measured on the 2-vCPU VM:
// bench ussd on PostgreSQL (32 sessions, 15 s, 2 runs each way) p99
// 45.7/49.9 → 39.1/37.4 ms and CPU per hop 0.73/0.76 → 0.65/0.62 ms;
// bench footprint on SQLite (the server as its own process) p99 50.2 →
// 34.6 ms, 2,134 → 2,658 hops/s. The cost is in the numbers only: RSS
// under that load reads 95 → 130 MB (mean), because pages given back with
// MADV_FREE count as resident until the kernel reclaims them, which it does
// before it would swap or kill anything. Idle RSS does not change. Pages
// given back with MADV_FREE keep their contents until the kernel takes them
// or the heap reuses them, as the rest of the freed heap does: Argon2's
// blocks, derived from a peppered PIN, stay readable a while longer to
// whoever can read the process's memory (a core dump, /proc/PID/mem), who
// could read the live heap anyway.
//
// GODEBUG's madvdontneed is read only when a program starts, and neither
// go.mod nor //go:debug may set it, so ExecWithRuntimeSettings starts the
// program again with it.
const MadviseFree = "madvdontneed=0"

// ExecWithRuntimeSettings replaces the process with the same program, same
// arguments and environment, with MadviseFree added to GODEBUG, and does
// not return, unless GODEBUG already says madvdontneed (the operator's
// choice, or this is the program started again) or the program cannot be
// started again (then it returns the reason and the program runs on as it
// is). It is the first thing the commands' main functions do, before any
// goroutine or file of theirs exists.
//
// Only on Linux, where the setting means something. The environment also
// carries execMark with the process's ID, so that a program started again
// never starts itself a third time, even if some package's init were to
// rewrite GODEBUG before main.
func ExecWithRuntimeSettings() error {
	if runtime.GOOS != "linux" {
		return nil
	}
	pid := strconv.Itoa(os.Getpid())
	if os.Getenv(execMark) == pid {
		return nil
	}
	env, again := withMadviseFree(os.Environ())
	if !again {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, append(env, execMark+"="+pid))
}

// execMark names the variable that says which process started itself
// again (exec keeps the process ID).
const execMark = "UMEME_RUNTIME_EXEC"

// withMadviseFree returns env with MadviseFree added to GODEBUG, and
// whether it added it (false when GODEBUG already names madvdontneed).
func withMadviseFree(env []string) ([]string, bool) {
	out := make([]string, 0, len(env)+2)
	godebug := ""
	for _, kv := range env {
		if strings.HasPrefix(kv, execMark+"=") {
			continue
		}
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			godebug = v
			continue
		}
		out = append(out, kv)
	}
	for field := range strings.SplitSeq(godebug, ",") {
		// Compared as the runtime reads it: no spaces trimmed.
		if k, _, _ := strings.Cut(field, "="); k == "madvdontneed" {
			return env, false
		}
	}
	if godebug == "" {
		return append(out, "GODEBUG="+MadviseFree), true
	}
	// Settings later in GODEBUG win; the operator's come after ours.
	return append(out, "GODEBUG="+MadviseFree+","+godebug), true
}

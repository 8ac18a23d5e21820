package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestTuneGC: without GOGC the server runs at GCPercent; with GOGC set it
// keeps what the operator chose.
func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	env, had := os.LookupEnv("GOGC")
	defer func() {
		if had {
			os.Setenv("GOGC", env)
		} else {
			os.Unsetenv("GOGC")
		}
	}()

	os.Unsetenv("GOGC")
	tuneGC()
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, GCPercent)
	}
	os.Setenv("GOGC", "100")
	tuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=100: GC percent %d, want the operator's 100", got)
	}
}

func TestWithMadviseFree(t *testing.T) {
	for _, c := range []struct {
		env   []string
		want  []string
		again bool
	}{
		{[]string{"A=1"}, []string{"A=1", "GODEBUG=madvdontneed=0"}, true},
		{[]string{"GODEBUG=gctrace=1", "A=1"}, []string{"A=1", "GODEBUG=madvdontneed=0,gctrace=1"}, true},
		{[]string{"GODEBUG="}, []string{"GODEBUG=madvdontneed=0"}, true},
		{[]string{"GODEBUG=gctrace=1,madvdontneed=1"}, []string{"GODEBUG=gctrace=1,madvdontneed=1"}, false},
		{[]string{"GODEBUG=madvdontneed=0", "A=1"}, []string{"GODEBUG=madvdontneed=0", "A=1"}, false},
		// A setting named like ours is not ours.
		{[]string{"GODEBUG=xmadvdontneed=1"}, []string{"GODEBUG=madvdontneed=0,xmadvdontneed=1"}, true},
		// Nor is one with a space before it, which the runtime ignores.
		{[]string{"GODEBUG=gctrace=0, madvdontneed=1"}, []string{"GODEBUG=madvdontneed=0,gctrace=0, madvdontneed=1"}, true},
		// An old mark is not carried on.
		{[]string{"UMEME_RUNTIME_EXEC=7", "A=1"}, []string{"A=1", "GODEBUG=madvdontneed=0"}, true},
	} {
		got, again := withMadviseFree(c.env)
		if again != c.again || strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("withMadviseFree(%q) = %q, %v; want %q, %v", c.env, got, again, c.want, c.again)
		}
	}
}

// The program really is started again, with the setting, once: the test
// binary runs itself as the helper below, which calls
// ExecWithRuntimeSettings and prints what GODEBUG it ended up with.
func TestExecWithRuntimeSettings(t *testing.T) {
	if os.Getenv("UMEME_EXEC_HELPER") == "1" {
		if err := ExecWithRuntimeSettings(); err != nil {
			fmt.Println("not started again:", err)
			os.Exit(1)
		}
		fmt.Printf("GODEBUG=%s\n", os.Getenv("GODEBUG"))
		// Were GODEBUG lost in a program started again (a package's init
		// rewriting it), it must still not start itself a third time.
		if os.Getenv(execMark) != "" {
			os.Unsetenv("GODEBUG")
			if err := ExecWithRuntimeSettings(); err != nil {
				fmt.Println("second call:", err)
			}
		}
		os.Exit(0)
	}
	for _, c := range []struct{ godebug, want string }{
		{"", "GODEBUG=madvdontneed=0"},
		{"gctrace=0", "GODEBUG=madvdontneed=0,gctrace=0"},
		{"madvdontneed=1", "GODEBUG=madvdontneed=1"},
	} {
		// Bounded: a program that kept starting itself would never end.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestExecWithRuntimeSettings$")
		cmd.Env = append(os.Environ(), "UMEME_EXEC_HELPER=1", "GODEBUG="+c.godebug)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GODEBUG=%q: helper: %v\n%s", c.godebug, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("GODEBUG=%q: the helper ran with %q, want %q", c.godebug, got, c.want)
		}
	}
}

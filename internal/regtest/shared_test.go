package regtest

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// childEnv marks the child process of TestSharedFailureFailsItsTest.
const childEnv = "REGTEST_SHARED_CHILD"

// TestSharedFailureFailsItsTest: when parallel tests share the network and
// one of them fails through it (a daemon that never gets ready, say) after
// another has started using it, only the failing test fails, and the
// package binary does not panic. The tests run in a child process, since
// one of them must fail.
func TestSharedFailureFailsItsTest(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		return // the child's own run
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSharedChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	got := string(out)
	if err == nil {
		t.Fatalf("the child passed, but one of its tests must fail:\n%s", got)
	}
	for _, want := range []string{"--- FAIL: TestSharedChild/starter", "--- PASS: TestSharedChild/later", "world synced not ready"} {
		if !strings.Contains(got, want) {
			t.Errorf("child output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "panic") {
		t.Errorf("the child panicked:\n%s", got)
	}
}

// TestSharedChild does its work only in the child of
// TestSharedFailureFailsItsTest: "starter" fails through the shared T
// after "later" has become the test that used the network last.
func TestSharedChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		return // run by TestSharedFailureFailsItsTest
	}
	var c currentT
	var wg sync.WaitGroup
	wg.Add(1)
	laterUsed := make(chan struct{})
	t.Run("starter", func(t *testing.T) {
		t.Parallel()
		c.use(t)
		t.Cleanup(func() { c.done(t) })
		<-laterUsed
		defer wg.Done()
		c.Fatalf("regtest: %s not ready", "world synced")
	})
	t.Run("later", func(t *testing.T) {
		t.Parallel()
		c.use(t)
		t.Cleanup(func() { c.done(t) })
		close(laterUsed)
		wg.Wait()
		c.Logf("still here")
	})
}

package regtest

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/fleet"
)

// TestLNDExitingWhileStartingIsSeen: an lnd that cannot listen (its port
// taken) exits, and the start sees it at once instead of waiting out
// readyWithin; a fresh network would start it again on other ports.
func TestLNDExitingWhileStartingIsSeen(t *testing.T) {
	bin := binDir(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	n := &Network{Dir: dir, bin: bin, rpc: freeAddr(t), t: t}
	t.Cleanup(n.stop)
	l := &LND{Name: "taken", Dir: filepath.Join(dir, "taken"), RPC: taken.Addr().String(), P2P: freeAddr(t), REST: freeAddr(t), net: n}
	start := time.Now()
	if l.tryStart() {
		t.Fatal("lnd answered on a port another listener holds")
	}
	if took := time.Since(start); took >= readyWithin {
		t.Fatalf("the exit was seen only after %s", took)
	}
	t.Logf("lnd exited after %s; its log ends:\n%s", time.Since(start).Round(time.Millisecond), tailOf(l))
}

func tailOf(l *LND) string { return fleet.Tail(l.proc.log, 5) }

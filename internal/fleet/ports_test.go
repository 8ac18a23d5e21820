package fleet

import (
	"net"
	"strconv"
	"testing"
)

// TestLoopbackAddrAvoidsEphemeralPorts: the ports handed out lie below the
// kernel's ephemeral range (where outgoing connections take their local
// ports), are never handed out twice by one process, and are free.
func TestLoopbackAddrAvoidsEphemeralPorts(t *testing.T) {
	lo := ephemeralLow()
	if lo-portFloor < 1000 {
		t.Fatalf("this machine's ephemeral range starts at %d: the picker falls back to the kernel's ports", lo)
	}
	seen := map[string]bool{}
	for range 300 {
		addr, err := LoopbackAddr()
		if err != nil {
			t.Fatal(err)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		if host != "127.0.0.1" || p < portFloor || p >= lo {
			t.Fatalf("picked %s: want 127.0.0.1 on a port in [%d, %d)", addr, portFloor, lo)
		}
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("picked %s, which is not free: %v", addr, err)
		}
		l.Close()
	}
}

package regtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A kept network (StartIn) records in its folder what it needs to come
// back: the state (ports, the address btcd mines to, the daemons' build)
// once the network is complete, and the PID of every daemon it starts, so
// that daemons a killed run left behind are stopped before the next one.
const (
	stateFile = "network.json"
	pidsFile  = "pids"
)

// state is a kept network's record.
type state struct {
	// Stamp is the daemons' build (.stamp of the bin folder): a network
	// made by other binaries is made afresh.
	Stamp      string `json:"stamp"`
	BTCDRPC    string `json:"btcdRPC"`
	MiningAddr string `json:"miningAddr"`
	World      ports  `json:"world"`
	Ours       ports  `json:"ours"`
}

// ports are an lnd's addresses.
type ports struct{ RPC, P2P, REST string }

// StartIn brings up a network kept in dir, for a command that runs it
// again and again (cmd/world). The first call makes it as Start does (a
// minute or so) and records it; later calls restart btcd and both lnd from
// that state on the same ports (seconds): btcd gets the chain saved at the
// last clean stop back (chain.go), mines a block so that lnd finds its
// chain current however long it was down, and the nodes reconnect. It
// reports whether the network is new: a record that is missing,
// incomplete (a first run interrupted), without a saved chain (a run
// killed), made by other binaries or whose ports are taken means starting
// afresh, and dir is emptied first.
// Daemons a killed earlier run left running are stopped first, by their
// recorded PID, and only if the PID is still one of our binaries.
func StartIn(t T, dir string) (n *Network, fresh bool) {
	t.Helper()
	bin := binDir(t)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatalf("regtest: %v", err)
	}
	stopLeftovers(t, dir, bin)
	st, why := readState(dir, bin)
	var blocks []string
	if why == "" {
		var err error
		if blocks, err = takeChain(dir); err != nil {
			why = "no chain saved: the last run did not stop cleanly"
		}
	}
	n = &Network{Dir: dir, bin: bin, t: t, keep: true}
	t.Cleanup(n.stop)
	if why != "" {
		t.Logf("regtest: a new network in %s (%s)", dir, why)
		if err := emptyDir(dir); err != nil {
			t.Fatalf("regtest: %v", err)
		}
		n.rpc = freeAddr(t)
		n.create()
		n.saveState(stamp(bin))
		n.saveBlocks = true
		return n, true
	}
	n.rpc = st.BTCDRPC
	n.miningAddr = st.MiningAddr
	n.startBTCD(st.MiningAddr)
	if err := n.replayChain(blocks); err != nil {
		// The record is spent: the next run starts afresh.
		t.Fatalf("regtest: the saved chain does not replay: %v", err)
	}
	n.Mine(1)
	height := n.height()
	n.World = n.startLNDAt("world", st.World)
	n.Ours = n.startLNDAt("ours", st.Ours)
	n.World.waitSynced(height)
	n.Ours.waitSynced(height)
	// The world opened the channel, so it knows where ours listens; ours
	// only knows world's outgoing port. Reconnecting now beats lnd's
	// backoff.
	var info struct {
		IdentityPubkey string `json:"identity_pubkey"`
	}
	n.Ours.CLIJSON(&info, "getinfo")
	n.waitFor("world connected to ours", func() bool {
		out, err := n.World.cli("connect", info.IdentityPubkey+"@"+n.Ours.P2P)
		return err == nil || bytes.Contains(out, []byte("already connected"))
	})
	n.waitActive(n.World)
	n.waitActive(n.Ours)
	// Only a network that came back whole is saved again: one that fails
	// on the way leaves nothing, and the next run starts afresh.
	n.saveBlocks = true
	return n, false
}

// readState reads a kept network's record, or says why it cannot be used.
func readState(dir, bin string) (state, string) {
	var st state
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, "none recorded"
	}
	if err != nil {
		return st, err.Error()
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Sprintf("unreadable record: %v", err)
	}
	if st.Stamp != stamp(bin) {
		return st, "the daemons were rebuilt"
	}
	for _, a := range []string{st.BTCDRPC, st.World.RPC, st.World.P2P, st.World.REST, st.Ours.RPC, st.Ours.P2P, st.Ours.REST} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return st, fmt.Sprintf("port %s is taken", a)
		}
		l.Close()
	}
	return st, ""
}

// saveState records a complete network, atomically: a run interrupted
// before this leaves no record, and the next one starts afresh.
func (n *Network) saveState(stamp string) {
	n.t.Helper()
	st := state{Stamp: stamp, BTCDRPC: n.rpc, MiningAddr: n.miningAddr,
		World: ports{n.World.RPC, n.World.P2P, n.World.REST}, Ours: ports{n.Ours.RPC, n.Ours.P2P, n.Ours.REST}}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		n.t.Fatalf("regtest: %v", err)
	}
	tmp := filepath.Join(n.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		n.t.Fatalf("regtest: %v", err)
	}
	if err := os.Rename(tmp, filepath.Join(n.Dir, stateFile)); err != nil {
		n.t.Fatalf("regtest: %v", err)
	}
}

// stamp is the build of the daemons in bin ("" when unknown).
func stamp(bin string) string {
	b, _ := os.ReadFile(filepath.Join(bin, ".stamp"))
	return strings.TrimSpace(string(b))
}

// emptyDir removes what dir holds, keeping dir.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (n *Network) startLNDAt(name string, p ports) *LND {
	n.t.Helper()
	l := &LND{Name: name, Dir: filepath.Join(n.Dir, name), RPC: p.RPC, P2P: p.P2P, REST: p.REST, net: n}
	l.start()
	return l
}

// height is btcd's block count.
func (n *Network) height() int {
	n.t.Helper()
	var h int
	raw, err := n.call("getblockcount")
	if err == nil {
		err = json.Unmarshal(raw, &h)
	}
	if err != nil {
		n.t.Fatalf("regtest: getblockcount: %v", err)
	}
	return h
}

// PIDs are the running daemons' process ids, by name (btcd, world, ours).
func (n *Network) PIDs() map[string]int {
	m := map[string]int{}
	if n.btcd != nil {
		m["btcd"] = n.btcd.cmd.Process.Pid
	}
	for _, l := range []*LND{n.World, n.Ours} {
		if l != nil && l.proc != nil {
			m[l.Name] = l.proc.cmd.Process.Pid
		}
	}
	return m
}

// recordPID adds a daemon's PID to the kept network's list.
func (n *Network) recordPID(pid int) {
	f, err := os.OpenFile(filepath.Join(n.Dir, pidsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		n.t.Logf("regtest: cannot record PID %d: %v", pid, err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, pid)
}

// stopLeftovers stops the daemons an earlier run recorded and did not stop
// (it was killed): each PID only if it is still one of the binaries in bin,
// SIGTERM, then SIGKILL after 15 s.
func stopLeftovers(t T, dir, bin string) {
	t.Helper()
	path := filepath.Join(dir, pidsFile)
	f, err := os.Open(path)
	if err != nil {
		return
	}
	var pids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil && pid > 1 {
			pids = append(pids, pid)
		}
	}
	f.Close()
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	for _, pid := range pids {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || filepath.Dir(exe) != bin {
			continue // gone, or the PID is someone else's now
		}
		t.Logf("regtest: stopping %s (PID %d), left running by an earlier run", filepath.Base(exe), pid)
		if !signalAndWait(pid, syscall.SIGTERM, 15*time.Second) && !signalAndWait(pid, syscall.SIGKILL, 5*time.Second) {
			t.Fatalf("regtest: PID %d (%s) does not stop", pid, exe)
		}
	}
	os.Remove(path)
}

// signalAndWait signals a process that is not our child and reports
// whether it is gone within d.
func signalAndWait(pid int, sig syscall.Signal, d time.Duration) bool {
	syscall.Kill(pid, sig) //nolint:errcheck
	deadline := time.Now().Add(d)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/umeme-wallet/umeme/internal/fleet"
)

// child is the server's process.
type child struct {
	cmd    *exec.Cmd
	exited <-chan struct{}
}

// startServer starts the server binary with env over this process's
// environment (an empty value removes the variable), its output appended
// to logPath, in a process group of its own: a terminal's Ctrl-C reaches
// this command, which stops the server first and the network after. The
// runner stops it: SIGTERM, then SIGKILL after 15 s.
func startServer(r *runner, bin string, env map[string]string, logPath string) (*child, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	cmd := fleet.Command(bin, env, "serve")
	exited, err := fleet.Start(cmd, logf, nil)
	if err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	c := &child{cmd: cmd, exited: exited}
	r.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		select {
		case <-c.exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			<-c.exited
		}
	})
	return c, nil
}

// stopLeftoverServer stops the server a killed earlier run left running:
// the PID pids.json recorded, only if it is still that server binary.
func stopLeftoverServer(pidsPath, bin string, log *slog.Logger) {
	b, err := os.ReadFile(pidsPath)
	if err != nil {
		return
	}
	var pids map[string]int
	if json.Unmarshal(b, &pids) != nil || pids["server"] <= 1 {
		return
	}
	pid := pids["server"]
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	// A rebuilt binary shows as deleted in a process that ran the old one.
	if err != nil || strings.TrimSuffix(exe, " (deleted)") != bin {
		return
	}
	log.Info("stopping the server an earlier run left running", "pid", pid)
	syscall.Kill(pid, syscall.SIGTERM) //nolint:errcheck
	for deadline := time.Now().Add(15 * time.Second); syscall.Kill(pid, 0) == nil; {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL) //nolint:errcheck
			time.Sleep(time.Second)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

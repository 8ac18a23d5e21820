// Package galera drives a three-node MariaDB Galera cluster on loopback,
// started and stopped by scripts/galera/cluster.sh, for the tests that run
// the MySQL mode on a multi-primary database (TestGalera): it picks free
// ports, starts the cluster in a folder of its own, and speaks to each node
// as its administrator would (state, isolation, checksums).
package galera

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/umeme-wallet/umeme/internal/store/mysqlstore"
)

// Nodes is the size of the cluster.
const Nodes = 3

// provider is the Galera library Debian's galera-4 installs.
const provider = "/usr/lib/galera/libgalera_smm.so"

// Installed reports what is missing to run a cluster on this machine
// (nil when nothing is).
func Installed() error {
	var missing []string
	if _, err := os.Stat(provider); err != nil {
		missing = append(missing, "galera-4 ("+provider+")")
	}
	for _, bin := range []string{"mariadbd", "mariadb-install-db", "mariadb", "rsync", "wsrep_sst_rsync"} {
		if _, err := lookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("galera: missing %s (apt-get install mariadb-server galera-4 rsync)", strings.Join(missing, ", "))
	}
	return nil
}

// lookPath finds a program in PATH or in the sbin folders mariadbd lives in.
func lookPath(bin string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if _, err := os.Stat(d + "/" + bin); err == nil {
			return d + "/" + bin, nil
		}
	}
	return "", fmt.Errorf("%s not found", bin)
}

// Ports are the loopback ports of each node, by kind.
type Ports struct {
	SQL, GComm, IST, SST [Nodes]int
}

// FreePorts picks twelve ports nothing listens on now (the kernel's choice
// for 127.0.0.1:0), so that a cluster can start beside another.
func FreePorts() (Ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	next := func() (int, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		ls = append(ls, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	var p Ports
	for i := range Nodes {
		for _, dst := range []*int{&p.SQL[i], &p.GComm[i], &p.IST[i], &p.SST[i]} {
			n, err := next()
			if err != nil {
				return Ports{}, fmt.Errorf("free port: %w", err)
			}
			*dst = n
		}
	}
	return p, nil
}

// env is the script's environment for these ports.
func (p Ports) env() []string {
	list := func(a [Nodes]int) string {
		s := make([]string, Nodes)
		for i, n := range a {
			s[i] = fmt.Sprint(n)
		}
		return strings.Join(s, ",")
	}
	return []string{
		"GALERA_SQL_PORTS=" + list(p.SQL), "GALERA_GCOMM_PORTS=" + list(p.GComm),
		"GALERA_IST_PORTS=" + list(p.IST), "GALERA_SST_PORTS=" + list(p.SST),
	}
}

// Cluster is a running cluster the script started.
type Cluster struct {
	// Dir holds the nodes' data, configuration and logs.
	Dir string
	// URLs are the nodes' server URLs (mysql://user:pass@127.0.0.1:port/),
	// in node order.
	URLs [Nodes]string
	// Took is how long the start took, from the script's start to three
	// Synced nodes.
	Took time.Duration

	script string
	env    []string
	admin  [Nodes]*sql.DB
}

// Start runs `script start dir` with the ports and returns the cluster
// once its three nodes are Synced. dir must be reachable by the mysql user
// when running as root.
func Start(ctx context.Context, script, dir string, ports Ports) (*Cluster, error) {
	c := &Cluster{Dir: dir, script: script, env: append(os.Environ(), ports.env()...)}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("galera: %w", err)
	}
	t0 := time.Now()
	out, err := c.run(ctx, "start")
	if err != nil {
		// Whatever started is stopped.
		stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c.run(stopCtx, "stop") //nolint:errcheck // the start's error says more
		return nil, err
	}
	c.Took = time.Since(t0)
	var urls []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "mysql://") {
			urls = append(urls, line)
		}
	}
	if len(urls) != Nodes {
		c.Stop(ctx) //nolint:errcheck
		return nil, fmt.Errorf("galera: the script printed %d URLs, want %d:\n%s", len(urls), Nodes, out)
	}
	for i, u := range urls {
		c.URLs[i] = u
		cfg, err := mysqlstore.ParseURL(u)
		if err != nil {
			c.Stop(ctx) //nolint:errcheck
			return nil, err
		}
		connector, err := mysql.NewConnector(cfg)
		if err != nil {
			c.Stop(ctx) //nolint:errcheck
			return nil, err
		}
		c.admin[i] = sql.OpenDB(connector)
		c.admin[i].SetMaxOpenConns(2)
	}
	return c, nil
}

// ownerFile, in a cluster's folder, holds the PID of the process that
// started it.
const ownerFile = "owner.pid"

// StopOrphans stops the clusters in the folders matching a glob whose
// starting process has ended without stopping them (a test binary that
// panicked in a goroutine runs no cleanups), and removes those folders.
// It returns the folders it cleared.
func StopOrphans(script, glob string) []string {
	dirs, _ := filepath.Glob(glob)
	var cleared []string
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() || syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
			continue // its owner lives
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		c := &Cluster{Dir: dir, script: script, env: os.Environ()}
		_, err = c.run(ctx, "stop")
		cancel()
		if err == nil {
			os.RemoveAll(dir)
			cleared = append(cleared, dir)
		}
	}
	return cleared
}

// run runs the script with a command and the cluster's folder; its
// standard output is returned, its standard error shown in the error.
func (c *Cluster) run(ctx context.Context, command string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bash", c.script, command, c.Dir)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A cancelled context ends the script, not the daemons it started
	// (they are in sessions of their own): Stop ends those by PID.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("galera: %s %s: %w\n%s%s", c.script, command, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

// Stop stops the nodes one at a time by PID, the bootstrap node last.
func (c *Cluster) Stop(ctx context.Context) error {
	for _, db := range c.admin {
		if db != nil {
			db.Close()
		}
	}
	_, err := c.run(ctx, "stop")
	return err
}

// Status reports a status variable of a node (SHOW STATUS), e.g.
// wsrep_local_state_comment, wsrep_cluster_status or wsrep_cluster_size.
func (c *Cluster) Status(ctx context.Context, node int, name string) (string, error) {
	var n, v string
	if err := c.admin[node].QueryRowContext(ctx, "SHOW STATUS LIKE ?", name).Scan(&n, &v); err != nil {
		return "", fmt.Errorf("galera: node %d: status %s: %w", node+1, name, err)
	}
	return v, nil
}

// Isolate cuts a node off from the others (gmcast.isolate=1: it drops its
// group connections and refuses new ones) and waits until it knows itself
// outside the primary component; or lets it back (false) and waits until
// it is Synced in a primary component of all the nodes again.
func (c *Cluster) Isolate(ctx context.Context, node int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	_, err := c.admin[node].ExecContext(ctx, fmt.Sprintf("SET GLOBAL wsrep_provider_options='gmcast.isolate=%d'", v))
	if err != nil {
		return fmt.Errorf("galera: node %d: isolate=%d: %w", node+1, v, err)
	}
	if !on {
		return c.WaitPrimary(ctx, node, Nodes)
	}
	return c.wait(ctx, node, "non-Primary", func() bool {
		status, err := c.Status(ctx, node, "wsrep_cluster_status")
		return err == nil && status == "non-Primary"
	})
}

// WaitPrimary waits until a node is Synced in a primary component of size
// nodes.
func (c *Cluster) WaitPrimary(ctx context.Context, node, size int) error {
	return c.wait(ctx, node, fmt.Sprintf("Synced in a primary component of %d", size), func() bool {
		status, err1 := c.Status(ctx, node, "wsrep_cluster_status")
		state, err2 := c.Status(ctx, node, "wsrep_local_state_comment")
		n, err3 := c.Status(ctx, node, "wsrep_cluster_size")
		return errors.Join(err1, err2, err3) == nil && status == "Primary" && state == "Synced" && n == fmt.Sprint(size)
	})
}

// wait polls until done, or ctx ends.
func (c *Cluster) wait(ctx context.Context, node int, what string, done func() bool) error {
	for !done() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("galera: node %d not %s: %w", node+1, what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// Checksums returns CHECKSUM TABLE of every base table of a database, as
// a node holds it, by table name.
func (c *Cluster) Checksums(ctx context.Context, node int, database string) (map[string]int64, error) {
	db := c.admin[node]
	rows, err := db.QueryContext(ctx,
		"SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'", database)
	if err != nil {
		return nil, fmt.Errorf("galera: node %d: tables: %w", node+1, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("galera: node %d: no tables in %s", node+1, database)
	}
	sort.Strings(tables)
	sums := map[string]int64{}
	for _, t := range tables {
		var name string
		var sum sql.NullInt64
		if err := db.QueryRowContext(ctx, fmt.Sprintf("CHECKSUM TABLE `%s`.`%s`", database, t)).Scan(&name, &sum); err != nil {
			return nil, fmt.Errorf("galera: node %d: checksum %s: %w", node+1, t, err)
		}
		if !sum.Valid {
			return nil, fmt.Errorf("galera: node %d: no checksum of %s", node+1, t)
		}
		sums[t] = sum.Int64
	}
	return sums, nil
}

// SameData waits until every node holds the same rows in every table of a
// database (CHECKSUM TABLE), which they do once each has applied what the
// others committed, and returns the checksums.
func (c *Cluster) SameData(ctx context.Context, database string) (map[string]int64, error) {
	var last error
	for {
		var sums [Nodes]map[string]int64
		var err error
		for i := range Nodes {
			if sums[i], err = c.Checksums(ctx, i, database); err != nil {
				break
			}
		}
		if err == nil {
			if diff := differ(sums); diff == "" {
				return sums[0], nil
			} else {
				err = errors.New(diff)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("galera: the nodes' data differ: %v (%w)", last, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// differ names the tables whose checksums differ between nodes.
func differ(sums [Nodes]map[string]int64) string {
	var d []string
	for t, want := range sums[0] {
		for i := 1; i < Nodes; i++ {
			if got, ok := sums[i][t]; !ok || got != want {
				d = append(d, fmt.Sprintf("%s: node 1 %d, node %d %d", t, want, i+1, got))
			}
		}
	}
	for i := 1; i < Nodes; i++ {
		if len(sums[i]) != len(sums[0]) {
			d = append(d, fmt.Sprintf("node %d has %d tables, node 1 %d", i+1, len(sums[i]), len(sums[0])))
		}
	}
	sort.Strings(d)
	return strings.Join(d, "; ")
}

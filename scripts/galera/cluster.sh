#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on loopback, for trying the MySQL mode
# on a multi-primary database (make galera, make galera-stop) and for
# TestGalera, which starts its own in a temporary folder on free ports.
#
#   scripts/galera/cluster.sh start|stop|status [DIR]    (DIR: .cache/galera)
#
# start   creates the data folders the first time (mariadb-install-db), then
#         bootstraps one node (--wsrep-new-cluster) and starts the others one
#         by one, each once the one before reports Synced; creates a TCP user
#         for 127.0.0.1 and prints the three nodes' URLs, one a line, last.
#         A cluster already running is left as it is (its URLs are printed).
# stop    stops the nodes one at a time by the PIDs they wrote, the
#         bootstrap node last, so that it can bootstrap the next start.
# status  prints each node's state; exits 0 only when all three are Synced.
#
# The daemons run as the mysql user when the script runs as root (rsync SST
# fails as root: its rsync daemon drops to nobody), else as the caller; the
# mysql user must then be able to reach DIR. Settings (defaults in brackets):
#   GALERA_SQL_PORTS    client ports                   [3311,3312,3313]
#   GALERA_GCOMM_PORTS  group communication ports      [4571,4572,4573]
#   GALERA_IST_PORTS    incremental state transfer     [4581,4582,4583]
#   GALERA_SST_PORTS    state snapshot transfer        [4591,4592,4593]
#   GALERA_USER, GALERA_PASSWORD  the TCP user         [umeme, umeme]
#   GALERA_TIMEOUT      seconds to wait for one node    [120]
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

cmd=${1:-}
dir=${2:-.cache/galera}
case "$cmd" in
start | stop | status) ;;
*)
	echo "usage: $0 start|stop|status [DIR]" >&2
	exit 2
	;;
esac

ports() { # ports NAME DEFAULT: the three ports of a list, checked
	local list=${!1:-$2} p
	IFS=', ' read -r -a arr <<<"$list"
	if [ "${#arr[@]}" != 3 ]; then
		echo "$1 must name three ports, got '$list'" >&2
		exit 2
	fi
	for p in "${arr[@]}"; do
		if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
			echo "$1: '$p' is not a port" >&2
			exit 2
		fi
	done
	echo "${arr[*]}"
}
read -r -a sql_ports <<<"$(ports GALERA_SQL_PORTS 3311,3312,3313)"
read -r -a gcomm_ports <<<"$(ports GALERA_GCOMM_PORTS 4571,4572,4573)"
read -r -a ist_ports <<<"$(ports GALERA_IST_PORTS 4581,4582,4583)"
read -r -a sst_ports <<<"$(ports GALERA_SST_PORTS 4591,4592,4593)"
user=${GALERA_USER:-umeme}
password=${GALERA_PASSWORD:-umeme}
timeout=${GALERA_TIMEOUT:-120}
provider=/usr/lib/galera/libgalera_smm.so

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
nodes=(1 2 3)

node_dir() { echo "$dir/node$1"; }
sock() { echo "$dir/node$1/mysqld.sock"; }
pidfile() { echo "$dir/node$1/mysqld.pid"; }

# pid N: the PID of node N's daemon when it runs (its pid file names a
# live mariadbd of this folder), else nothing.
pid() {
	local f p
	f=$(pidfile "$1")
	[ -f "$f" ] || return 0
	p=$(cat "$f" 2>/dev/null || true)
	[[ $p =~ ^[0-9]+$ ]] || return 0
	if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--defaults-file=$(node_dir "$1")/my.cnf"; then
		echo "$p"
	fi
}

# q N SQL: one query on node N as root over its socket, tab-separated.
q() {
	mariadb --no-defaults --protocol=socket -S "$(sock "$1")" -uroot -N -B -e "$2"
}
state() { # state N: wsrep_local_state_comment, or "down"
	local s
	s=$(q "$1" "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | cut -f2 || true)
	echo "${s:-down}"
}

urls() {
	local n
	for n in "${nodes[@]}"; do
		echo "mysql://$user:$password@127.0.0.1:${sql_ports[n - 1]}/"
	done
}

status() {
	local n all=0 p
	for n in "${nodes[@]}"; do
		p=$(pid "$n")
		if [ -z "$p" ]; then
			echo "node$n  stopped"
			all=1
			continue
		fi
		local st size
		st=$(state "$n")
		size=$(q "$n" "SHOW STATUS LIKE 'wsrep_cluster_size'" 2>/dev/null | cut -f2 || true)
		echo "node$n  pid $p  port ${sql_ports[n - 1]}  $st  cluster size ${size:-?}"
		[ "$st" = Synced ] || all=1
	done
	return "$all"
}

fail_node() { # fail_node N WHY: say why, show the end of its log, stop all
	echo "galera: node$1 $2; the end of $(node_dir "$1")/error.log:" >&2
	tail -n 30 "$(node_dir "$1")/error.log" >&2 || true
	stop_all >&2 || true
	exit 1
}

# The account the daemons run as, and the ownership their folders need.
if [ "$(id -u)" = 0 ]; then
	runas=mysql
else
	runas=$(id -un)
fi

write_config() { # write_config N
	local n=$1 d cluster
	d=$(node_dir "$n")
	cluster="gcomm://127.0.0.1:${gcomm_ports[0]},127.0.0.1:${gcomm_ports[1]},127.0.0.1:${gcomm_ports[2]}"
	cat >"$d/my.cnf" <<EOF
# Written by scripts/galera/cluster.sh; rewritten at every start.
[mariadbd]
user = $runas
datadir = $d/data
socket = $d/mysqld.sock
pid-file = $d/mysqld.pid
log-error = $d/error.log
port = ${sql_ports[n - 1]}
bind-address = 127.0.0.1
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
default-storage-engine = InnoDB
innodb_buffer_pool_size = 64M
innodb_log_file_size = 48M
innodb_flush_log_at_trx_commit = 2
performance_schema = OFF
max_connections = 300
# What Galera needs: row-based replication, interleaved auto-increments.
binlog_format = ROW
innodb_autoinc_lock_mode = 2
wsrep_on = ON
wsrep_provider = $provider
wsrep_cluster_name = umeme_galera
wsrep_cluster_address = $cluster
wsrep_node_name = node$n
wsrep_node_address = 127.0.0.1
wsrep_node_incoming_address = 127.0.0.1:${sql_ports[n - 1]}
wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:${gcomm_ports[n - 1]};ist.recv_addr=127.0.0.1:${ist_ports[n - 1]};gcache.size=64M"
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:${sst_ports[n - 1]}
wsrep_slave_threads = 2
EOF
}

install_node() { # install_node N: a data folder, the first time
	local d
	d=$(node_dir "$1")
	mkdir -p "$d/data"
	if [ ! -d "$d/data/mysql" ]; then
		mariadb-install-db --defaults-file="$d/my.cnf" --user="$runas" \
			--auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
			--skip-test-db >"$d/install.log" 2>&1 ||
			{
				echo "galera: mariadb-install-db failed for node$1:" >&2
				tail -n 20 "$d/install.log" >&2
				exit 1
			}
	fi
	if [ "$(id -u)" = 0 ]; then
		chown -R mysql:mysql "$d"
	fi
}

start_node() { # start_node N [--wsrep-new-cluster]
	local n=$1 d
	shift
	d=$(node_dir "$n")
	rm -f "$(pidfile "$n")"
	# setsid: the daemon is in no terminal's process group, so Ctrl-C in
	# the shell that ran make galera does not reach it.
	setsid mariadbd --defaults-file="$d/my.cnf" "$@" </dev/null >>"$d/error.log" 2>&1 &
}

wait_synced() { # wait_synced N: until Synced, or fail
	local n=$1 i
	for ((i = 0; i < timeout * 4; i++)); do
		if [ "$(state "$n")" = Synced ]; then
			return 0
		fi
		if [ "$i" -gt 20 ] && [ -z "$(pid "$n")" ] && ! pgrep -f -- "--defaults-file=$(node_dir "$n")/my.cnf" >/dev/null; then
			fail_node "$n" "exited before it was Synced"
		fi
		sleep 0.25
	done
	fail_node "$n" "was not Synced within ${timeout}s"
}

# bootstrap_node: the node to start the cluster from. A node stopped last
# (cleanly) left safe_to_bootstrap: 1; a new cluster starts from node1;
# after a crash of every node, the one with the highest seqno.
bootstrap_node() {
	local n best=1 seq bestseq=-2 g
	for n in "${nodes[@]}"; do
		g=$(node_dir "$n")/data/grastate.dat
		[ -f "$g" ] || continue
		if grep -q '^safe_to_bootstrap: 1' "$g"; then
			echo "$n"
			return
		fi
		seq=$(awk '/^seqno:/ {print $2}' "$g")
		if [ -n "$seq" ] && [ "$seq" -gt "$bestseq" ]; then
			best=$n
			bestseq=$seq
		fi
	done
	g=$(node_dir "$best")/data/grastate.dat
	if [ -f "$g" ]; then
		echo "galera: no node was stopped last cleanly; bootstrapping node$best (seqno $bestseq)" >&2
		sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$g"
	fi
	echo "$best"
}

stop_node() { # stop_node N: SIGTERM to its PID, then wait (SIGKILL after the timeout)
	local n=$1 p i
	p=$(pid "$n")
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || return 0
	for ((i = 0; i < timeout * 4; i++)); do
		kill -0 "$p" 2>/dev/null || {
			echo "node$n stopped"
			return 0
		}
		sleep 0.25
	done
	echo "node$n did not stop within ${timeout}s; killing $p" >&2
	kill -KILL "$p" 2>/dev/null || true
}

stop_all() {
	local first n
	first=$(cat "$dir/bootstrap" 2>/dev/null || echo 1)
	for n in "${nodes[@]}"; do
		[ "$n" = "$first" ] || stop_node "$n"
	done
	stop_node "$first"
}

start_all() {
	local n running=0 first t0
	for n in "${nodes[@]}"; do
		[ -z "$(pid "$n")" ] || running=$((running + 1))
	done
	if [ "$running" = 3 ]; then
		echo "galera: already running in $dir" >&2
		status >&2 || true
		urls
		return
	fi
	if [ "$running" != 0 ]; then
		echo "galera: $running of 3 nodes run in $dir; run '$0 stop $dir' first" >&2
		exit 1
	fi
	for bin in mariadbd mariadb-install-db mariadb rsync wsrep_sst_rsync; do
		command -v "$bin" >/dev/null || {
			echo "galera: $bin is missing (apt-get install mariadb-server galera-4 rsync)" >&2
			exit 1
		}
	done
	[ -f "$provider" ] || {
		echo "galera: $provider is missing (apt-get install galera-4)" >&2
		exit 1
	}
	if [ "$runas" = mysql ] && ! runuser -u mysql -- test -x "$dir" 2>/dev/null; then
		echo "galera: the mysql user cannot reach $dir (a parent folder is private); use a folder it can reach" >&2
		exit 1
	fi
	t0=$(date +%s.%N)
	for n in "${nodes[@]}"; do
		mkdir -p "$(node_dir "$n")"
		write_config "$n"
		install_node "$n"
	done
	first=$(bootstrap_node)
	echo "$first" >"$dir/bootstrap"
	start_node "$first" --wsrep-new-cluster
	wait_synced "$first"
	echo "node$first bootstrapped" >&2
	q "$first" "CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
		GRANT ALL PRIVILEGES ON *.* TO '$user'@'127.0.0.1' WITH GRANT OPTION;"
	for n in "${nodes[@]}"; do
		[ "$n" = "$first" ] && continue
		start_node "$n"
		wait_synced "$n"
		echo "node$n joined" >&2
	done
	echo "galera: 3 nodes Synced in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s; data in $dir" >&2
	urls
}

case "$cmd" in
start) start_all ;;
stop) stop_all ;;
status) status ;;
esac

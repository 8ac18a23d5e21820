#!/usr/bin/env bash
# Installs the pinned tools the benchmarks need, from Debian's packages:
# pgbench (PostgreSQL's client package) and sysbench.
set -euo pipefail
SYSBENCH_VERSION=1.0.20+ds-5
need=()
command -v pgbench >/dev/null || need+=(postgresql-client)
if [ "$(dpkg-query -W -f='${Version}' sysbench 2>/dev/null || true)" != "$SYSBENCH_VERSION" ]; then
	need+=("sysbench=$SYSBENCH_VERSION")
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null

#!/usr/bin/env bash
# Cheap guards on the repository itself: no build outputs in git, tidy
# modules, and gen/ imported only by the three store adapters.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

# Build outputs (binaries, databases, dumps) never belong in git.
big=$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$1 > 1048576 {print $2}')
if [ -n "$big" ]; then
	echo "tracked files over 1 MiB (build outputs?):"
	echo "$big"
	status=1
fi

# Every module's go.mod and go.sum say exactly what the code imports.
for mod in . tools regtest/tools; do
	if ! out=$(cd "$mod" && go mod tidy -diff 2>&1); then
		echo "go.mod in $mod is not tidy (run: cd $mod && go mod tidy):"
		echo "$out" | head -40
		status=1
	fi
done

# The generated queries are the adapters' business alone.
leaks=$(git grep -l 'umeme-wallet/umeme/gen/' -- '*.go' |
	grep -vE '^(gen/|internal/store/(sqlitestore|mysqlstore|pgstore)/)' || true)
if [ -n "$leaks" ]; then
	echo "only the store adapters may import gen/; also imported by:"
	echo "$leaks"
	status=1
fi

# Migrations: the same versions in every engine, numbered 1, 2, 3, ... with
# no gap (golang-migrate never runs a version below the one a database is
# at, so a number slipped in below the top would silently never run), each
# with its up and its down.
ref=""
for dir in sql/schema/*/; do
	versions=$(ls "$dir" | grep -E '^[0-9]+_.*\.(up|down)\.sql$' | sed -E 's/^0*([0-9]+)_.*\.(up|down)\.sql$/\1 \2/' | sort -n | uniq)
	ups=$(echo "$versions" | awk '$2 == "up" {print $1}')
	downs=$(echo "$versions" | awk '$2 == "down" {print $1}')
	want=$(seq 1 "$(echo "$ups" | wc -l)")
	if [ "$ups" != "$want" ] || [ "$downs" != "$ups" ]; then
		echo "migrations in $dir are not numbered 1..N, each with up and down:"
		echo "$versions" | tr '\n' ' '; echo
		status=1
	fi
	if [ -n "$ref" ] && [ "$ups" != "$ref" ]; then
		echo "migrations in $dir differ from the other engines'"
		status=1
	fi
	ref=$ups
done

[ "$status" = 0 ] && echo "tree: no large files, modules tidy, gen/ behind the adapters, migrations 1..N in every engine"
exit "$status"

#!/usr/bin/env bash
# Every engine must offer the same operations: the query folders under
# sql/queries/ must define exactly the same query names, except the few that
# sql/queries/ENGINE_ONLY lists with the engines that have them and why.
set -euo pipefail
cd "$(dirname "$0")/.."
# only NAME: the engines that list NAME in ENGINE_ONLY ("NAME engine,engine ...").
only() { awk -v n="$1" '$1 == n { print $2 }' sql/queries/ENGINE_ONLY; }
names() {
	local engine
	engine=$(basename "$1")
	grep -ho -- '-- name: [A-Za-z0-9_]*' "$1"/*.sql | sed 's/-- name: //' | sort | while read -r name; do
		engines=$(only "$name")
		if [ -n "$engines" ]; then
			case ",$engines," in
			*",$engine,"*) ;;
			*) echo "$name (in $engine, but ENGINE_ONLY says only $engines)" ;;
			esac
		else
			echo "$name"
		fi
	done
}
ref=""
status=0
for dir in sql/queries/*/; do
	dir=${dir%/}
	cur=$(names "$dir")
	if [ -z "$ref" ]; then
		ref=$cur
		refdir=$dir
		continue
	fi
	if [ "$cur" != "$ref" ]; then
		echo "query names differ between $refdir and $dir:"
		diff <(echo "$ref") <(echo "$cur") || true
		status=1
	fi
done
# A name ENGINE_ONLY gives must exist in each engine it names.
while read -r name engines _; do
	case "$name" in '' | '#'*) continue ;; esac
	for engine in ${engines//,/ }; do
		grep -qx -- "-- name: $name :[a-z]*" sql/queries/"$engine"/*.sql || {
			echo "ENGINE_ONLY: $name is not in sql/queries/$engine"
			status=1
		}
	done
done <sql/queries/ENGINE_ONLY
dups=$(echo "$ref" | uniq -d)
if [ -n "$dups" ]; then
	echo "duplicate query names: $dups"
	status=1
fi
[ "$status" = 0 ] && echo "query names: $(echo "$ref" | wc -l) in every engine, $(grep -cv '^\(#\|$\)' sql/queries/ENGINE_ONLY) engine-only"
exit "$status"

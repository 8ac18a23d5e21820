#!/usr/bin/env bash
# Every engine must offer the same operations: the query folders under
# sql/queries/ must define exactly the same query names.
set -euo pipefail
cd "$(dirname "$0")/.."
names() { grep -ho -- '-- name: [A-Za-z0-9_]*' "$1"/*.sql | sort; }
ref=""
status=0
for dir in sql/queries/*/; do
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
dups=$(echo "$ref" | uniq -d)
if [ -n "$dups" ]; then
	echo "duplicate query names: $dups"
	status=1
fi
[ "$status" = 0 ] && echo "query names: $(echo "$ref" | wc -l) in every engine"
exit "$status"

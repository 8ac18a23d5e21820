#!/usr/bin/env bash
# A restore drill: back up the wallet's database, restore the backup into a
# fresh, empty database, and prove the copy is whole.
#
#   scripts/backup-restore-test.sh SOURCE_URL TARGET_URL
#
# SOURCE_URL is the database to back up, TARGET_URL an empty database to
# restore into (the script refuses one that has tables): both postgres://…
# (postgresql://…) or both mysql://user:pass@host:port/db (mysql+pymysql://…
# too; query parameters are ignored). It then
#   1. dumps SOURCE_URL with pg_dump --format=custom, or mariadb-dump
#      --single-transaction --routines (the ledger's procedure is part of the
#      schema), into BACKUP_DIR (default: a temporary folder, removed after);
#   2. restores the dump into TARGET_URL (pg_restore, or the mariadb client);
#   3. runs `server migrate version` on the copy (the schema version, not
#      dirty) and `server reconcile` (every invariant of the ledger: sums,
#      cached balances, reservations, hash chains, daily counters);
#   4. compares a fingerprint of both databases (rows of the main tables,
#      what users hold, how many entries the chains hold, the schema
#      version, the ledger's routines) unless COMPARE=0, which a drill
#      against a source still taking writes needs.
#
# SERVER is the command that runs the server binary (default: go run
# ./cmd/server, from the repository's root). Passwords go to the tools
# through PGPASSWORD / MYSQL_PWD, never on a command line. Exit status 0
# only when every step passed.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
SOURCE=$1
TARGET=$2
SERVER=${SERVER:-go run ./cmd/server}
COMPARE=${COMPARE:-1}

step() { printf '== %s\n' "$*"; }
fail() { printf 'backup-restore: %s\n' "$*" >&2; exit 1; }

engine_of() {
  case $1 in
    postgres://* | postgresql://*) echo postgres ;;
    mysql://* | mysql+pymysql://*) echo mysql ;;
    *) fail "unknown database url scheme (want postgres://… or mysql://…)" ;;
  esac
}
ENGINE=$(engine_of "$SOURCE")
[[ $(engine_of "$TARGET") == "$ENGINE" ]] || fail "SOURCE_URL and TARGET_URL name different engines"

if [[ -n ${BACKUP_DIR:-} ]]; then
  mkdir -p "$BACKUP_DIR"
  DIR=$BACKUP_DIR
else
  DIR=$(mktemp -d)
  trap 'rm -rf "$DIR"' EXIT
fi

# --- PostgreSQL -------------------------------------------------------------
# pg_* take the URL itself, without its password (kept in PGPASSWORD).
pg_parts() { # URL -> sets PG_URL (no password) and PG_PASS
  local re='^(postgres(ql)?://)([^:@/]*)(:([^@]*))?@(.*)$'
  PG_URL=$1 PG_PASS=
  if [[ $1 =~ $re ]]; then
    PG_URL="${BASH_REMATCH[1]}${BASH_REMATCH[3]}@${BASH_REMATCH[6]}"
    PG_PASS=${BASH_REMATCH[5]}
  fi
}
pg() { # URL, then the tool and its arguments; the URL goes in as -d
  local url=$1 tool=$2
  shift 2
  pg_parts "$url"
  PGPASSWORD=$PG_PASS "$tool" "$@" -d "$PG_URL"
}
pg_sql() { pg "$1" psql -X -v ON_ERROR_STOP=1 -qAt -F ' ' -c "$2"; }

# --- MySQL / MariaDB -------------------------------------------------------
my_parts() { # URL -> sets MY_USER MY_PASS MY_HOST MY_PORT MY_DB
  local re='^mysql(\+pymysql)?://([^:@/]*)(:([^@]*))?@([^:/?]*)(:([0-9]+))?/([^?]+)'
  [[ $1 =~ $re ]] || fail "cannot read the mysql url (want mysql://user:pass@host:port/db)"
  MY_USER=${BASH_REMATCH[2]} MY_PASS=${BASH_REMATCH[4]} MY_HOST=${BASH_REMATCH[5]}
  MY_PORT=${BASH_REMATCH[7]:-3306} MY_DB=${BASH_REMATCH[8]}
}
my() { # URL, then the tool and its arguments; the database name comes last
  local url=$1 tool=$2
  shift 2
  my_parts "$url"
  MYSQL_PWD=$MY_PASS "$tool" --protocol=TCP -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" "$@" "$MY_DB"
}
my_sql() { my "$1" mariadb --batch --skip-column-names -e "$2"; }

sql() { if [[ $ENGINE == postgres ]]; then pg_sql "$@"; else my_sql "$@"; fi; }

# The tables of the schema, on either engine.
TABLES="SELECT count(*) FROM information_schema.tables WHERE table_schema = $(
  [[ $ENGINE == postgres ]] && echo "'public'" || echo 'DATABASE()')"
# The ledger's routines (reconcile only reads, so it would not miss them).
if [[ $ENGINE == postgres ]]; then
  ROUTINES="SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
else
  ROUTINES="SELECT count(*) FROM information_schema.routines WHERE routine_schema = DATABASE()"
fi
# What must be the same in a copy: rows of the main tables, what users hold,
# the entries the chains hold, the schema version, the routines.
FINGERPRINT="SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM accounts),
  (SELECT count(*) FROM transactions), (SELECT count(*) FROM ledger_entries),
  (SELECT count(*) FROM notifications), (SELECT count(*) FROM ussd_sessions),
  (SELECT COALESCE(SUM(balance_msat), 0) FROM accounts WHERE kind = 'user'),
  (SELECT COALESCE(SUM(head_seq), 0) FROM accounts WHERE kind = 'user'),
  (SELECT version FROM schema_migrations), ($ROUTINES)"

[[ $(sql "$TARGET" "$TABLES") == 0 ]] || fail "TARGET_URL already has tables: restore only into an empty database"

step "back up the $ENGINE database"
if [[ $ENGINE == postgres ]]; then
  DUMP=$DIR/umeme.pgdump
  pg "$SOURCE" pg_dump --format=custom --no-owner --no-privileges -f "$DUMP"
else
  DUMP=$DIR/umeme.sql
  # --single-transaction: one consistent snapshot of InnoDB, no table locks
  # (the server keeps running); --routines: apply_balance_deltas.
  my "$SOURCE" mariadb-dump --single-transaction --routines --triggers --hex-blob \
    --default-character-set=utf8mb4 --no-tablespaces >"$DUMP"
fi
printf 'dump %s: %s bytes\n' "$DUMP" "$(wc -c <"$DUMP")"

step "restore it into the empty database"
if [[ $ENGINE == postgres ]]; then
  pg "$TARGET" pg_restore --no-owner --no-privileges --exit-on-error --single-transaction "$DUMP"
else
  my "$TARGET" mariadb --default-character-set=utf8mb4 <"$DUMP"
fi

step "check the copy"
# shellcheck disable=SC2086 # SERVER is a command line
version=$(DATABASE_URL=$TARGET $SERVER migrate version)
echo "$version"
[[ $version == *"(dirty: false)"* ]] || fail "the copy's schema is dirty or unreadable"
# shellcheck disable=SC2086
DATABASE_URL=$TARGET $SERVER reconcile

if [[ $COMPARE != 0 ]]; then
  step "compare it with the source"
  want=$(sql "$SOURCE" "$FINGERPRINT" | tr -s ' \t' ' ')
  got=$(sql "$TARGET" "$FINGERPRINT" | tr -s ' \t' ' ')
  printf 'source: %s\ncopy:   %s\n' "$want" "$got"
  [[ $want == "$got" ]] || fail "the copy differs from the source"
fi
echo "restore verified"

#!/usr/bin/env bash
# Run the test suite on SQLite, then again on a throw-away PostgreSQL database.
#
#   scripts/test.sh [pytest args...]
#
# FIRESWEEP_TEST_PG=auto     (default) run the PostgreSQL pass when PostgreSQL answers,
#                            else say it is skipped
# FIRESWEEP_TEST_PG=require  fail when PostgreSQL does not answer (.ci/run sets this)
# FIRESWEEP_TEST_PG=0        SQLite only
#
# FIRESWEEP_TEST_WORKERS=auto (default) each pass runs on pytest-xdist workers, one per CPU
#                            core (`-n auto --dist loadgroup`; the browser tests stay together
#                            on one worker); a number sets the count; 0 runs in one process.
#                            Not added when the arguments already say -n/--numprocesses or
#                            -p no:xdist.
#
# PYTHONDONTWRITEBYTECODE is unset for the run: with it set, every pytest process (each
# xdist worker, each pass) compiled the app again and re-rewrote the assertions of every test
# module and pytest plugin, about 3 s of CPU each. The __pycache__ directories this writes
# are gitignored (make clean removes them).
#
# The PostgreSQL server is DATABASE_URL's when that is a PostgreSQL URL, else
# 127.0.0.1:5432 as $PGUSER (default postgres). A fresh firesweep_test_<hex> database is
# created for the run and dropped afterwards. Exits non-zero when either pass fails
# (pytest's own exit code, so 5 = no tests collected).
# Expects scripts/setup.sh test to have run (make test does that).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${FIRESWEEP_VENV:-.venv}/bin/python
pg_mode=${FIRESWEEP_TEST_PG:-auto}

pg_url=""
child=""
cleanup() {
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
    child=""
  fi
  if [ -n "$pg_url" ]; then
    "$PY" scripts/pgtestdb.py drop "$pg_url" || true
    pg_url=""
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# pytest runs as a waited-for child so that INT/TERM reach the trap (and the throw-away
# database is dropped) at once rather than after pytest finishes.
run_pytest() {
  "$@" <&0 &
  child=$!
  wait "$child"
  local rc=$?
  child=""
  return $rc
}

unset PYTHONDONTWRITEBYTECODE

# pytest-xdist, unless turned off or the caller chose for themselves.
xdist=(-n "${FIRESWEEP_TEST_WORKERS:-auto}" --dist loadgroup)
[ "${FIRESWEEP_TEST_WORKERS:-auto}" = 0 ] && xdist=()
prev=""
for arg in "$@"; do
  case "$arg" in
    -n|-n*|--numprocesses|--numprocesses=*|-pno:xdist) xdist=() ;;
    no:xdist) [ "$prev" = -p ] && xdist=() ;;
  esac
  prev=$arg
done

# Decide on the PostgreSQL pass first, so pytest's summary stays the last thing printed.
if [ "$pg_mode" != 0 ]; then
  pg_url=$("$PY" scripts/pgtestdb.py create)
  rc=$?
  if [ $rc != 0 ]; then
    pg_url=""
    if [ "$pg_mode" = require ]; then
      echo "firesweep: PostgreSQL is required (FIRESWEEP_TEST_PG=require) but no test database could be created" >&2
      exit 1
    fi
    echo "firesweep: PostgreSQL pass skipped (no server answering); running on SQLite only"
  fi
fi

echo "firesweep: test pass 1/$([ -n "$pg_url" ] && echo 2 || echo 1): SQLite"
run_pytest env -u DATABASE_URL "$PY" -m pytest "${xdist[@]}" "$@"
sqlite_rc=$?

pg_rc=0
if [ -n "$pg_url" ]; then
  echo "firesweep: test pass 2/2: PostgreSQL (${pg_url##*/})"
  run_pytest env DATABASE_URL="$pg_url" "$PY" -m pytest "${xdist[@]}" "$@"
  pg_rc=$?
fi

if [ $sqlite_rc != 0 ] || [ $pg_rc != 0 ]; then
  echo "firesweep: test run failed: SQLite pass exit $sqlite_rc$([ -n "$pg_url" ] && echo ", PostgreSQL pass exit $pg_rc")" >&2
  [ $sqlite_rc != 0 ] && exit $sqlite_rc
  exit $pg_rc
fi
exit 0

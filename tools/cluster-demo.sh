#!/usr/bin/env bash
# `make cluster-demo`: a Dask scheduler and two workers on 127.0.0.1, a small study through
# them, then everything stopped again (also on failure or Ctrl-C).
#
# The same commands start a real cluster on several machines (see README, "여러 컴퓨터에서
# 돌리기 / scaling out"): `dask scheduler` on one, `dask worker tcp://HOST:PORT` on each of the
# others, and `python -m reglab study --scheduler tcp://HOST:PORT` where the results should go.
#
# Environment:
#   VPY          python of the project's venv (default: .venv/bin/python)
#   FLOWERS_DIR  real photos (default: data/flowers if present, else synthetic photos)
#   DEMO_OUT     results folder (default: a new temporary folder, kept and printed at the end)
#   DEMO_ARGS    study arguments (default: the ablation study, 1 epoch per run, 600 photos)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
VPY="${VPY:-.venv/bin/python}"
DASK="$(dirname "$VPY")/dask"
DEMO_ARGS="${DEMO_ARGS:---only ablation --epochs-scale 0.1 --max-samples 600}"

if [ -n "${FLOWERS_DIR:-}" ] && [ -d "$FLOWERS_DIR" ]; then
    DATA="$FLOWERS_DIR"
elif [ -d data/flowers ] && [ -n "$(ls -A data/flowers)" ]; then
    DATA="$ROOT/data/flowers"
else
    DATA="synthetic"
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/reglab-cluster-demo.XXXXXX")"
OUT="${DEMO_OUT:-$WORK/study}"
PORT="$("$VPY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ADDR="tcp://127.0.0.1:$PORT"

SCHED_PID=""
WORKER_PIDS=()
stop() {            # stop these processes: TERM, up to 10 s, then KILL
    [ "$#" -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 1 50); do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    kill -KILL "$@" 2>/dev/null || true
    wait "$@" 2>/dev/null || true
}
cleanup() {
    local code=$?
    trap - EXIT INT TERM
    echo "[cluster-demo] 정리 / stopping the workers, then the scheduler"
    stop "${WORKER_PIDS[@]}"
    [ -z "$SCHED_PID" ] || stop "$SCHED_PID"
    if [ "$code" != 0 ]; then
        echo "[cluster-demo] 실패 / failed (exit $code); logs: $WORK/*.log" >&2
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "[cluster-demo] scheduler: $ADDR (log $WORK/scheduler.log)"
# A run whose worker dies twice is given up (Dask's default allows 3 losses).
DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=2 \
    "$DASK" scheduler --host 127.0.0.1 --port "$PORT" --no-dashboard \
    >"$WORK/scheduler.log" 2>&1 &
SCHED_PID=$!

for i in 1 2; do
    echo "[cluster-demo] worker $i: dask worker $ADDR --nthreads 1 --nworkers 1"
    "$DASK" worker "$ADDR" --host 127.0.0.1 --nthreads 1 --nworkers 1 --name "demo-$i" \
        --no-dashboard --local-directory "$WORK/worker-$i" >"$WORK/worker-$i.log" 2>&1 &
    WORKER_PIDS+=($!)
done

"$VPY" - "$ADDR" <<'EOF'
import sys
from distributed import Client
with Client(sys.argv[1], timeout=30) as c:
    c.wait_for_workers(2, timeout=60)
    print(f"[cluster-demo] {len(c.scheduler_info()['workers'])} workers joined")
EOF

echo "[cluster-demo] photos: $DATA"
echo "[cluster-demo] $VPY -m reglab study $DEMO_ARGS --scheduler $ADDR --out $OUT"
start=$(date +%s)
# shellcheck disable=SC2086  # DEMO_ARGS is a list of arguments
"$VPY" -m reglab study $DEMO_ARGS --data-dir "$DATA" --out "$OUT" --scheduler "$ADDR" --no-progress
echo "[cluster-demo] $(( $(date +%s) - start )) s; 결과 / results: $OUT"

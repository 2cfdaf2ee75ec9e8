#!/usr/bin/env bash
# Starts llama.cpp's llama-server (installed by scripts/setup.d/30-llama-server.sh) on a free
# loopback port, waits until it is healthy, and prints two lines for `eval`:
#   LLAMA_URL=http://127.0.0.1:PORT/v1
#   LLAMA_PID=PID
# Usage: scripts/llama-server.sh [--parallel N] [--ctx-per-slot N] [--model GGUF] [--log FILE] [-- EXTRA ARGS]
# Stop it with: kill "$LLAMA_PID".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
parallel=4
ctx=2048
model="${LECTERN_SMOLLM2_GGUF:-}"
logfile=/dev/null
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --parallel) parallel="$2"; shift 2 ;;
        --ctx-per-slot) ctx="$2"; shift 2 ;;
        --model) model="$2"; shift 2 ;;
        --log) logfile="$2"; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
server="${LECTERN_LLAMA_SERVER:-}"
[ -x "$server" ] || { echo "llama-server not installed: run scripts/setup.d/30-llama-server.sh" >&2; exit 1; }
[ -f "$model" ] || { echo "model file missing ($model): run scripts/setup.d/30-llama-server.sh" >&2; exit 1; }
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# --cache-ram 0: no prompt cache across requests, so repeated prompts cost what new ones do.
"$server" -m "$model" --host 127.0.0.1 --port "$port" -np "$parallel" -c $((ctx * parallel)) \
    -t "$(nproc)" --cache-ram 0 --no-webui "${extra[@]}" > "$logfile" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
    if curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1; then
        echo "LLAMA_URL=http://127.0.0.1:$port/v1"
        echo "LLAMA_PID=$pid"
        exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "llama-server exited at start (see --log)" >&2; exit 1; }
    sleep 0.25
done
kill "$pid"
echo "llama-server not healthy within 60 s" >&2
exit 1

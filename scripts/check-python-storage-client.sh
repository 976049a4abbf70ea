#!/usr/bin/env bash
# Google's own Python storage client (google-cloud-storage, from PyPI) against the emulator's
# storage, objects in memory and in a --gcs-root folder: scripts/python_storage_client.py.
# Not part of `cargo test` (it needs Python and PyPI); run it after changing
# src/emulator/storage/. The venv is kept under the target folder and reused.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../target}"
venv="$target/python-storage-client"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import google.cloud.storage' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'google-cloud-storage>=3,<4'
fi
cargo build --quiet --features cli --bin vertex-batch-emulator
emulator="$target/debug/vertex-batch-emulator"

scratch="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT

for store in memory folder; do
    args=(--port 0)
    if [ "$store" = folder ]; then
        mkdir -p "$scratch/root"
        args+=(--gcs-root "$scratch/root")
    fi
    "$emulator" "${args[@]}" >"$scratch/banner" 2>&1 &
    pid=$!
    host=""
    for _ in $(seq 100); do
        host="$(grep -o 'STORAGE_EMULATOR_HOST=[^ ]*' "$scratch/banner" | head -n1 | cut -d= -f2 || true)"
        [ -n "$host" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$scratch/banner" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$host" ] || { echo "the emulator printed no STORAGE_EMULATOR_HOST" >&2; exit 1; }
    echo "objects in $store:"
    STORAGE_EMULATOR_HOST="$host" "$venv/bin/python" "$here/python_storage_client.py"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
done

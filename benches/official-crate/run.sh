#!/usr/bin/env bash
# JobClient against Google's own crate (google-cloud-aiplatform-v1, feature job-service): a cold
# `cargo build --release` and the binary size of the smallest program of each (make a client,
# get a job), then GetBatchPredictionJob throughput on one emulator, the median of three runs
# (src/main.rs). Not run by CI; but JobClient's half of both programs is in the package
# (../support/side_by_side.rs, ../support/minimal_get_job.rs), which CI compiles.
#
#   bash benches/official-crate/run.sh          # WORK=DIR keeps the build folders there
#
# Each build gets a target folder of its own, emptied first; crates are fetched before the
# clock starts. The machine's load average is printed with every figure: it is shared.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:-$(mktemp -d)}
load() { cut -d' ' -f1-3 /proc/loadavg; }

for program in job-client official; do
    manifest=$here/minimal-$program/Cargo.toml
    target=$work/target-$program
    rm -rf "$target"
    cargo fetch --quiet --manifest-path "$manifest"
    before=$(load)
    started=$(date +%s.%N)
    CARGO_TARGET_DIR=$target cargo build --release --quiet --manifest-path "$manifest"
    seconds=$(echo "$(date +%s.%N) - $started" | bc)
    binary=$target/release/get-job-$program
    bytes=$(stat -c %s "$binary")
    crates=$(ls "$target/release/deps" | grep -c '\.rlib$' || true)
    printf 'FIGURE build %s: %.0f s cold, binary %s bytes (%.1f MiB), %s crates (load average before %s, after %s)\n' \
        "$program" "$seconds" "$bytes" "$(echo "$bytes / 1048576" | bc -l)" "$crates" "$before" "$(load)"
done

CARGO_TARGET_DIR=$work/target-bench cargo run --release --quiet --manifest-path "$here/Cargo.toml"

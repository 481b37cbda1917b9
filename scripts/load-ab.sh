#!/usr/bin/env bash
# `make load-ab AB_BASE=<commit>`: this checkout's bdexec against the one
# built from another commit (default HEAD~1) under `make load`'s closed
# loop, in the same run: the two builds (and the floor) alternate level
# by level, at 2x the cores by default, so that a change to how callers
# wait for each other (the audit locks) is judged on the tail it is for,
# paired, and not across two runs of a machine whose tail moves by more
# than the change (docs/performance.md, session 22). Both builds write
# the same log and share /run, as two versions never do on a host; the
# policy cache and memos key on the build, so each build's first calls
# (the warm-up) rebuild them. A benchmark, never a test.
#
# Knobs: AB_BASE (HEAD~1), LOAD_SECONDS (5), LOAD_LEVELS ("2 2 2 2":
# rounds at 2x the cores), LOAD_TOOLS ("bdexec bdexec-b floor"; add sudo,
# doas, plain), BELLADONNA_BENCH_DIR (as for make bench).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
ab=$(bash scripts/ab-base.sh)
echo "load-ab: bdexec = this checkout, bdexec-b = $(sed -n 3p <<<"$ab")"
mkdir -p target/bench
rustc --edition 2024 -C opt-level=3 benches/load.rs -o target/bench/load-driver
AB_BASE_STATIC=$(sed -n 1p <<<"$ab") \
    AB_BASE_TWIN=$(sed -n 2p <<<"$ab") \
    BELLADONNA_BENCH_DRIVER=scripts/load-ab-inner.sh \
    BELLADONNA_LOAD_SECONDS="${LOAD_SECONDS:-5}" \
    BELLADONNA_LOAD_LEVELS="${LOAD_LEVELS:-2 2 2 2}" \
    BELLADONNA_LOAD_TOOLS="${LOAD_TOOLS:-bdexec bdexec-b floor}" \
    exec bash scripts/bench.sh

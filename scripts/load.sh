#!/usr/bin/env bash
# `make load` (issue 16 item 4, docs/slo.md): closed-loop callers at 1x
# and 2x the core count, bdexec side by side with sudo and doas (and the
# floor and a plain exec: the machine's own tail), in the
# namespace scripts/bench.sh sets up (bench user, policy, sudoers
# drop-in, doas.conf; the host's configuration is never touched). The
# measuring half is benches/load.rs, built here with plain rustc (std
# only: seconds, not a build of the crate).
#
# Knobs: LOAD_SECONDS (5; seconds per tool and level), LOAD_LEVELS
# ("1 2"; caller counts as multiples of the cores), BELLADONNA_BENCH_DIR
# (as for make bench: a disk-backed directory so fdatasync is real).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
mkdir -p target/bench
rustc --edition 2024 -C opt-level=3 benches/load.rs -o target/bench/load-driver
BELLADONNA_BENCH_DRIVER=target/bench/load-driver \
    BELLADONNA_LOAD_SECONDS="${LOAD_SECONDS:-5}" \
    BELLADONNA_LOAD_LEVELS="${LOAD_LEVELS:-1 2}" \
    exec bash scripts/bench.sh

#!/usr/bin/env bash
# `make bench-ab AB_BASE=<commit>`: this checkout's bdexec against the one
# built from another commit (default HEAD~1), call by call in the
# namespace scripts/bench.sh sets up. Two `make bench` runs move the
# ratio by 0.01-0.02 on the project's 2-core machines, more than many a
# change; here both builds run in the same minutes, in alternating
# order, with the floor beside them. Each build has its own /run (its own
# policy cache and memos, which key on the build), and every call of
# both goes through the same nsenter and setpriv. The measuring half is
# scripts/bench-ab-inner.py. A benchmark, never a test.
#
# Knobs: AB_BASE (a commit; HEAD~1), AB_ROUNDS (500), AB_ARGS (words after
# /usr/bin/true, to time another rule of the bench policy: `sandboxed`,
# `monitored`), BELLADONNA_BENCH_DIR (as for make bench). The base is built once in a worktree under
# target/bench-ab/<commit> (scripts/ab-base.sh), then reused.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
ab=$(bash scripts/ab-base.sh)
AB_BASE_NAME=$(sed -n 3p <<<"$ab") \
    AB_BASE_STATIC=$(sed -n 1p <<<"$ab") \
    AB_BASE_TWIN=$(sed -n 2p <<<"$ab") \
    BELLADONNA_BENCH_DRIVER=scripts/bench-ab-inner.py \
    exec bash scripts/bench.sh

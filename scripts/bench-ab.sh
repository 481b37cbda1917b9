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
# target/bench-ab/<commit> (about as long as `make build`), then reused.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
base=$(git rev-parse --verify "${AB_BASE:-HEAD~1}^{commit}")
host=$(rustc -vV | sed -n 's/^host: //p')
wt=$here/target/bench-ab/$base
# Where that tree builds its static bdexec (`make static-path`; before
# the musl build it was always target/HOST/release/bdexec).
static_of() {
    make -C "$1" -s --no-print-directory static-path 2>/dev/null || echo "target/$host/release/bdexec"
}
if [ ! -d "$wt" ] || [ ! -x "$wt/$(static_of "$wt")" ] || [ ! -x "$wt/target/release/bdexec" ]; then
    echo "bench-ab: building $base in $wt"
    rm -rf "$wt"
    git worktree prune
    git worktree add -f --detach "$wt" "$base" >/dev/null
    make -C "$wt" --no-print-directory -s build CARGO="cargo --quiet"
fi
AB_BASE_NAME=$(git log -1 --format='%h %s' "$base" | cut -c1-60) \
    AB_BASE_STATIC=$wt/$(static_of "$wt") \
    AB_BASE_TWIN=$wt/target/release/bdexec \
    BELLADONNA_BENCH_DRIVER=scripts/bench-ab-inner.py \
    exec bash scripts/bench.sh

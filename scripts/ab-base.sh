#!/usr/bin/env bash
# The base of an A/B measurement (`make bench-ab`, `make load-ab`): build
# commit AB_BASE (default HEAD~1) once in a worktree under
# target/bench-ab/<commit> (about as long as `make build`), then reuse
# it. Prints three lines: its static bdexec, its twin (bdexec-pam), and
# a name for reports (short hash and subject).
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
    echo "ab: building $base in $wt" >&2
    rm -rf "$wt"
    git worktree prune
    git worktree add -f --detach "$wt" "$base" >/dev/null
    make -C "$wt" --no-print-directory -s build CARGO="cargo --quiet" >&2
fi
echo "$wt/$(static_of "$wt")"
echo "$wt/target/release/bdexec"
git log -1 --format='%h %s' "$base" | cut -c1-60

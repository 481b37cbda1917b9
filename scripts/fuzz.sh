#!/usr/bin/env bash
# Fuzzing (fuzz/README.md; issue 16 item 6): one build of every cargo-fuzz
# target, shared by all of them, then each target for FUZZ_SECONDS.
#
#   scripts/fuzz.sh run     every target FUZZ_SECONDS (default 300) each
#   scripts/fuzz.sh smoke   every target FUZZ_SMOKE_SECONDS (default 10) each
#   scripts/fuzz.sh build   the build only
#   FUZZ_TARGETS="a b"      only these targets
#
# The build is cargo-fuzz's default (optimised, with debug assertions and
# overflow checks) without a sanitizer (`-s none`), so it works on stable
# Rust and is one build for every target; `RUSTC_BOOTSTRAP=1 cargo fuzz
# run T` gives AddressSanitizer by hand. The checked-in seeds in
# fuzz/corpus/<target>/ are read only; what a run finds goes to
# fuzz/work/<target>/ (ignored by git), a crash to fuzz/artifacts/<target>/
# and fails the run: turn it into a unit test next to the code it breaks.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
mode="${1:-run}"
case "$mode" in
run) secs="${FUZZ_SECONDS:-300}" ;;
smoke) secs="${FUZZ_SMOKE_SECONDS:-10}" ;;
build) secs=0 ;;
*)
    echo "usage: $0 run|smoke|build" >&2
    exit 2
    ;;
esac

# cargo-fuzz, pinned; installed once (needs the network on a fresh machine).
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    echo "fuzz: cargo install --locked cargo-fuzz@$CARGO_FUZZ_VERSION"
    cargo install --locked -j "${TOOLS_JOBS:-2}" "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
t0=$(date +%s)
cargo fuzz build -s none
echo "fuzz: build took $(($(date +%s) - t0))s"
[ "$mode" = build ] && exit 0

triple="$(rustc -vV | sed -n 's/^host: //p')"
bin="target/$triple/release"
failed=""
for t in $targets; do
    mkdir -p "work/$t" "artifacts/$t"
    [ -d "corpus/$t" ] || mkdir -p "corpus/$t"
    echo "fuzz: $t for ${secs}s"
    # -rss_limit_mb / -timeout: an allocation over 2 GiB or one input
    # taking over 10 s is a finding, like a crash.
    if ! "$bin/$t" "work/$t" "corpus/$t" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        2> "work/$t.log"; then
        failed="$failed $t"
        tail -n 40 "work/$t.log" >&2
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|Done [0-9]+ runs' "work/$t.log" || true
done
echo "fuzz: $mode done in $(($(date +%s) - t0))s"
if [ -n "$failed" ]; then
    echo "fuzz: FAILED:$failed (inputs in fuzz/artifacts/)" >&2
    exit 1
fi

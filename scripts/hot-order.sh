#!/usr/bin/env bash
# `make hot-order`: which functions a call of the static bdexec runs,
# written to packaging/bdexec.order in the linker's order. `make
# build` hands that file to the linker (lld's --symbol-ordering-file), so
# that the code of a call lies together at the start of .text: the
# kernel maps a program's code 64 KB at a time on first touch, and a call
# spread over 36 such windows costs about 15 page faults more than one
# packed into 9 (docs/performance.md "Code in call order").
#
#   make hot-order           regenerate packaging/bdexec.order (root,
#                            bpftrace; about 15 min, mostly the kernel
#                            placing and removing some 4,000 uprobes)
#   scripts/hot-order.sh check [BINARY]
#                            how many of the file's names BINARY (the
#                            static release bdexec) has; fails below 80%
#
# Regenerate when the check fails or when a call's path changed much: a
# name that no longer exists is skipped by the linker (a slower layout,
# never a different program). The names carry no hash of a function's
# body, so editing one keeps its name; a new package version (Cargo.toml)
# renames every function of the crate (cargo's -C metadata), and so
# does a new Rust release for the standard library's.
#
# How: the bench's namespace (scripts/bench.sh: the bench user, its
# policy, bdexec's state and caches settled as on a real host), a
# uprobe on every sized function of the installed static bdexec
# (bpftrace), and one call of the bench's plain rule, the call `make
# bench` measures; the functions it ran are written in the order the
# linker had them. In two sessions, Rust's functions and the C
# library's (one session of both sets looped; see the C list below).
# Sandboxed and monitored calls are left out: what only they run is
# placed as the linker places it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
out=packaging/bdexec.order

if [ "${1:-}" = check ]; then
    bin=${2:-$(make -s --no-print-directory static-path)}
    [ -f "$out" ] || { echo "hot-order: $out missing" >&2; exit 1; }
    [ -f "$bin" ] || { echo "hot-order: $bin missing (make build)" >&2; exit 1; }
    total=$(grep -c . "$out" || true)
    [ "$total" -gt 0 ] || { echo "hot-order: $out names no function" >&2; exit 1; }
    found=$(nm "$bin" | awk 'NR==FNR {want[$1]=1; next} ($3 in want) {print $3}' "$out" - | sort -u | wc -l)
    pct=$(( found * 100 / total ))
    echo "hot-order: $found of $total names of $out are in $bin ($pct%)"
    if [ "$pct" -lt 80 ]; then
        echo "hot-order: the order is stale: run 'make hot-order' (as root) and commit $out" >&2
        exit 1
    fi
    exit 0
fi

if [ "${HOT_ORDER_INSIDE:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "hot-order: needs root (uprobes, the bench's namespace)" >&2; exit 1; }
    command -v bpftrace >/dev/null || { echo "hot-order: bpftrace missing (apt-get install bpftrace)" >&2; exit 1; }
    raw=$(mktemp /var/tmp/belladonna-hot-order.XXXXXX)
    trap 'rm -f "$raw"' EXIT
    HOT_ORDER_INSIDE=1 BELLADONNA_BENCH_DRIVER="$here/scripts/hot-order.sh" HOT_ORDER_RAW="$raw" \
        bash scripts/bench.sh
    python3 - "$raw" "$out" "$(make -s --no-print-directory static-path)" <<'EOF'
import re, subprocess, sys
raw, out, binary = sys.argv[1], sys.argv[2], sys.argv[3]
# bpftrace's map lines: @[uprobe:PATH:SYMBOL]: COUNT
ran = set()
for line in open(raw):
    m = re.match(r"@\[uprobe:[^:]*:([^\]]+)\]: \d+$", line.strip())
    if m:
        ran.add(m.group(1))
if len(ran) < 100:
    sys.exit(f"hot-order: only {len(ran)} functions ran (did the call run? see above)")
# In the linker's order (the build the bench installed).
rows = []
for line in subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    p = line.split()
    if len(p) == 3 and p[1] in "tT" and p[2] in ran:
        rows.append((int(p[0], 16), p[2]))
names = list(dict.fromkeys(name for _, name in sorted(rows)))
open(out, "w").write("\n".join(names) + "\n")
print(f"hot-order: {len(names)} functions written to {out}")
EOF
    exit 0
fi

# ---------------------------------------------------------------- inside
# Run as the bench's driver (scripts/bench.sh, BELLADONNA_BENCH_DRIVER):
# bdexec installed with its file capabilities, the caches settled.
b=$BELLADONNA_BENCH_BDEXEC
call="/usr/bin/setpriv --reuid $BELLADONNA_BENCH_UID --regid $BELLADONNA_BENCH_GID --clear-groups $b /usr/bin/true"
$call
# Rust's functions by their mangling prefixes; the C library's sized
# ones by name (a name with '.' or '$' cannot be written as a bpftrace
# probe; zero-sized ones are aliases or entry stubs), except its
# vector string and memory variants (`__memset_evex_unaligned_erms`
# and kin): with uprobes on those, the probed call looped in a hash map
# insert here, as if a memset or memcmp had gone wrong; without them it
# runs through. They stay where the linker puts them.
c_probes=$(nm -S "$b" | awk -v b="$b" 'NF == 4 && ($3 == "t" || $3 == "T") && $2 !~ /^0+$/ && $4 !~ /^(_ZN|_R)/ && $4 !~ /[.$]/ && $4 !~ /_(evex|avx|avx2|avx512|sse2|sse4|ssse3|erms|rtm)/ {printf "%suprobe:%s:%s", sep, b, $4; sep = ","}')
for probes in "uprobe:$b:_ZN*,uprobe:$b:_R*" "$c_probes"; do
    echo "hot-order: placing $(( $(tr -cd , <<<"$probes" | wc -c) + 1 )) probe patterns (several minutes)"
    BPFTRACE_MAX_BPF_PROGS=8000 BPFTRACE_MAX_PROBES=8000 \
        bpftrace -q -e "$probes { @[probe] = count(); }" -c "$call" \
        2> >(grep -v RLIMIT_MEMLOCK >&2) >>"$HOT_ORDER_RAW"
done

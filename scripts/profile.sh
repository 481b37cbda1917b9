#!/usr/bin/env bash
# `make profile` (issue 16 item 2: "where the time goes is measured, not
# guessed"): one call of bdexec beside doas, sudo, the physical floor and
# /usr/bin/true, in the namespace scripts/bench.sh sets up (bench user,
# policy, sudoers drop-in, doas.conf, bdexec's PAM service; the host's
# configuration is never touched). The measuring half is
# scripts/profile-inner.py: what a process start costs on this machine
# (scripts/startup-probe.c: no C library, musl static, glibc static, glibc dynamic,
# one CPUID), CPU time, page faults and peak RSS per call for every tool; with perf installed (linux-perf) also bdexec's system
# calls, its page faults by mapping, the shared objects it touches and
# where its CPU samples fall. docs/performance.md "Where a call's time
# goes" quotes a run.
#
# Knobs: PROFILE_CALLS (200 calls of each tool), PROFILE_OUT (where perf
# writes its data, default a fresh directory under /tmp),
# BELLADONNA_BENCH_DIR (as for make bench).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
out=${PROFILE_OUT:-$(mktemp -d /tmp/belladonna-profile.XXXXXX)}
BELLADONNA_BENCH_DRIVER=scripts/profile-inner.py PROFILE_OUT="$out" \
    exec bash scripts/bench.sh

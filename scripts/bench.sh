#!/usr/bin/env bash
# `make bench`: bdexec vs sudo vs doas, per call, as an unprivileged user
# with a NOPASSWD-style rule (DESIGN section 14). A benchmark, never a
# timed test.
#
# Setup (this script) + measurement (benches/bench.rs). Everything runs in
# a private mount namespace whose /etc is the host's with a layer on top
# holding the bench user, /etc/belladonna/policy.toml, a sudoers drop-in
# and /etc/doas.conf; /var/log, /var/lib and /run are the bench's own
# directories. The host's configuration is never changed.
#
# Knobs: BELLADONNA_BENCH_ROUNDS (500), BELLADONNA_BENCH_PAR (250 calls
# for each of 4 parallel callers), BELLADONNA_BENCH_DIR (a directory on a
# disk-backed filesystem, default /var/tmp, so fdatasync is real),
# BELLADONNA_BENCH_DRIVER (another measuring program run in this setup
# instead of benches/bench.rs, then nothing else: scripts/load.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

if [ "${1:-}" != "--inside" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bench: needs root (private mount namespace, file capabilities): sudo make bench" >&2
        exit 1
    fi
    for t in unshare setcap; do
        command -v "$t" >/dev/null || { echo "bench: '$t' missing: run 'make deps' as root" >&2; exit 1; }
    done
    [ -x /usr/bin/sudo ] || echo "bench: sudo is not installed (make deps installs it); measuring without it"
    [ -x /usr/bin/doas ] || echo "bench: doas is not installed (make deps installs opendoas); measuring without it"

    echo "bench: building the release binaries and the bench driver"
    # `make build`: bdctl, the static bdexec (the product's /usr/bin/bdexec)
    # and its dynamically linked twin bdexec-pam, which the static one
    # execs for PAM; installed below as a package installs them.
    make --no-print-directory -s build CARGO="cargo --quiet"
    static_bdexec=$(make -s --no-print-directory static-path)
    twin_bdexec=target/release/bdexec
    if [ -n "${BELLADONNA_BENCH_DRIVER:-}" ]; then
        # Another measuring half in the same setup (scripts/load.sh).
        driver=$(realpath "$BELLADONNA_BENCH_DRIVER")
    elif grep -Eq '^\s*name\s*=\s*"bench"' Cargo.toml; then
        driver=$(cargo bench --bench bench --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -n 1)
        [ -n "$driver" ] && [ -x "$driver" ] || { echo "bench: could not build the bench driver" >&2; exit 1; }
        driver=$(realpath "$driver")
    else
        # Not registered as a [[bench]] yet: it is std-only, rustc builds it.
        mkdir -p target/bench
        rustc --edition 2024 -C opt-level=3 benches/bench.rs -o target/bench/bench-driver
        driver=$here/target/bench/bench-driver
    fi

    # The physical floor (scripts/bench-floor.c): static when the C
    # library allows it, else dynamic.
    floor_kind=none
    if command -v gcc >/dev/null; then
        mkdir -p target/bench
        if gcc -O2 -static -o target/bench/bench-floor scripts/bench-floor.c 2>/dev/null; then
            floor_kind=static
        elif gcc -O2 -o target/bench/bench-floor scripts/bench-floor.c; then
            floor_kind=dynamic
        fi
    fi
    [ "$floor_kind" != none ] || echo "bench: gcc missing (make deps installs it): measuring without the floor"
    # The same floor on musl, the static bdexec's C library: what the
    # floor costs without glibc's static start-up (docs/performance.md,
    # session 20). musl-gcc: Debian's musl-tools (make deps).
    floor_musl=no
    if [ "$floor_kind" != none ] && command -v musl-gcc >/dev/null \
        && musl-gcc -O2 -static -o target/bench/bench-floor-musl scripts/bench-floor.c 2>/dev/null; then
        floor_musl=yes
    fi

    base=${BELLADONNA_BENCH_DIR:-/var/tmp}
    dir=$(mktemp -d "$base/belladonna-bench.XXXXXX")
    chmod 0755 "$dir"
    trap 'rm -rf "$dir"' EXIT

    install -d -m 0755 "$dir/etc" "$dir/etc/belladonna" "$dir/etc/belladonna/policy.d" "$dir/etc/sudoers.d"
    cp -p /etc/passwd /etc/group /etc/shadow "$dir/etc/"
    echo 'bdbench:x:61900:61900:Belladonna bench:/nonexistent:/bin/sh' >>"$dir/etc/passwd"
    echo 'bdbench:x:61900:' >>"$dir/etc/group"
    echo 'bdbench:*:19700:0:99999:7:::' >>"$dir/etc/shadow"
    cat >"$dir/etc/belladonna/policy.toml" <<'EOF'
version = 1

[sandbox.bench.landlock]
read = ["/usr"]
[sandbox.bench.seccomp]
allow = ["@system-service"]
action = "errno"

[[rule]]
name = "bench-true"
users = ["bdbench"]
commands = ["/usr/bin/true"]
auth = "none"

[[rule]]
name = "bench-true-sandboxed"
users = ["bdbench"]
commands = ["/usr/bin/true sandboxed"]
auth = "none"
sandbox = "bench"

[[rule]]
name = "bench-true-monitored"
users = ["bdbench"]
commands = ["/usr/bin/true monitored"]
auth = "none"
monitor = true
EOF
    chmod 0600 "$dir/etc/belladonna/policy.toml"
    # sudo and doas, configured the same way (NOPASSWD / nopass, one command).
    printf 'bdbench ALL=(root) NOPASSWD: /usr/bin/true, /bin/true\n' >"$dir/etc/sudoers.d/belladonna-bench"
    chmod 0440 "$dir/etc/sudoers.d/belladonna-bench"
    printf 'permit nopass bdbench as root cmd /bin/true\npermit nopass bdbench as root cmd /usr/bin/true\n' >"$dir/etc/doas.conf"
    chmod 0400 "$dir/etc/doas.conf"
    # bdexec's PAM service, as `make install` and the packages install it
    # (without it PAM falls back to /etc/pam.d/other, which on Debian also
    # loads common-session's pam_systemd and libsystemd: not what an
    # installed bdexec does, nor what doas's and sudo's services load).
    install -d -m 0755 "$dir/etc/pam.d"
    install -m 0644 packaging/pam.d/belladonna "$dir/etc/pam.d/belladonna"
    # The journald the bench starts for the journald cost (volatile, in
    # the bench's /run; no kernel log, no forwarding).
    install -d -m 0755 "$dir/etc/systemd" "$dir/etc/systemd/journald.conf.d"
    printf '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\nRateLimitBurst=0\n' \
        >"$dir/etc/systemd/journald.conf.d/belladonna-bench.conf"

    install -d -m 0755 "$dir/log" "$dir/lib" "$dir/run" "$dir/bin" "$dir/libexec" "$dir/libexec/belladonna"
    install -d -m 0700 "$dir/log/belladonna" "$dir/lib/belladonna"
    install -m 0755 "$static_bdexec" "$dir/bin/bdexec"
    # Where the static bdexec looks for its twin: <its directory>/../libexec/belladonna.
    install -m 0755 "$twin_bdexec" "$dir/libexec/belladonna/bdexec-pam"
    install -m 0755 target/release/bdctl "$dir/bin/bdctl"
    setcap cap_setuid,cap_setgid,cap_setpcap,cap_net_bind_service=p "$dir/bin/bdexec"
    setcap cap_setuid,cap_setgid,cap_setpcap,cap_net_bind_service=p "$dir/libexec/belladonna/bdexec-pam"
    if [ "$floor_kind" != none ]; then
        install -m 0755 target/bench/bench-floor "$dir/bin/bench-floor"
        # On the audit log's disk, writable by the bench user.
        install -m 0600 -o 61900 -g 61900 /dev/null "$dir/floor.log"
        echo "bench: floor: scripts/bench-floor.c ($floor_kind), log $dir/floor.log"
        if [ "$floor_musl" = yes ]; then
            install -m 0755 target/bench/bench-floor-musl "$dir/bin/bench-floor-musl"
            echo "bench: floor-musl: scripts/bench-floor.c (static, musl-gcc), the same log"
        fi
    fi

    echo "bench: machine: $(nproc) cores, $(uname -r); log on $(df -PT "$dir" | awk 'NR==2 {print $2}') ($dir)"
    unshare --mount --propagation private -- bash "$0" --inside "$dir" "$driver"
    exit $?
fi

# ---------------------------------------------------------------- inside
dir=$2
driver=$3
mount -t overlay overlay -o "lowerdir=$dir/etc:/etc" /etc
mount --bind "$dir/log" /var/log
mount --bind "$dir/lib" /var/lib
mount --bind "$dir/run" /run

floor_env=()
if [ -x "$dir/bin/bench-floor" ]; then
    floor_env=(BELLADONNA_BENCH_FLOOR="$dir/bin/bench-floor" BELLADONNA_BENCH_FLOOR_LOG="$dir/floor.log")
fi
if [ -x "$dir/bin/bench-floor-musl" ]; then
    floor_env+=(BELLADONNA_BENCH_FLOOR_MUSL="$dir/bin/bench-floor-musl")
fi
# On a real host the policy and the PAM and account files were written
# long before a call: wait until every file this setup wrote is settled
# (its ctime more than 3 s old), so that the policy cache's stamps and
# the account memo apply as they do there (docs/performance.md "Stamps",
# docs/pam.md "The account memo"), and make one call that builds them.
# The policy-size block below measures a just-written policy apart.
sleep 3.2
setpriv --reuid 61900 --regid 61900 --clear-groups "$dir/bin/bdexec" /usr/bin/true
echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
env "${floor_env[@]}" BELLADONNA_BENCH_BDEXEC="$dir/bin/bdexec" BELLADONNA_BENCH_UID=61900 BELLADONNA_BENCH_GID=61900 \
    "$driver"
# Another driver (BELLADONNA_BENCH_DRIVER, `make load`) ends here.
[ -z "${BELLADONNA_BENCH_DRIVER:-}" ] || exit 0
echo "bench: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# PAM's account stage for rules without a password ([defaults]
# pam_account and pam_account_memo, both on by default, as in the
# numbers above): the same calls loading PAM on every call, and without
# the stage; the differences are what the memo saves and what the stage
# costs (docs/pam.md).
pam_calls=${BELLADONNA_BENCH_PAM_CALLS:-300}
# One block of $pam_calls calls of `bdexec ARGS` (default /usr/bin/true)
# as the bench user: us per call, whole process incl. setpriv.
pam_round() {
    local start end
    [ $# -gt 0 ] || set -- /usr/bin/true
    start=$(date +%s%N)
    for _ in $(seq "$pam_calls"); do
        setpriv --reuid 61900 --regid 61900 --clear-groups "$dir/bin/bdexec" "$@" || return 1
    done
    end=$(date +%s%N)
    echo $(((end - start) / pam_calls / 1000))
}
# The layer is rewritten in place (same inode): the mounted overlay keeps
# the inode it looked up.
policy=$dir/etc/belladonna/policy.toml
cp "$policy" "$dir/policy.orig"
hash_of_last() { tail -n 1 /var/log/belladonna/audit.jsonl | grep -o '"policy_hash":"[0-9a-f]*"'; }
# Switch the policy: [defaults] LINE (none: the bench policy as it is),
# wait until the files are settled (3 s: the stamps of the policy cache
# and of the account memo), and make one call that builds what caches.
use_defaults() {
    if [ -n "$1" ]; then
        { head -n 1 "$dir/policy.orig"; printf '[defaults]\n%s\n' "$1"; tail -n +2 "$dir/policy.orig"; } >"$policy"
    else
        cat "$dir/policy.orig" >"$policy"
    fi
    sleep 3.2
    setpriv --reuid 61900 --regid 61900 --clear-groups "$dir/bin/bdexec" /usr/bin/true
}
memo=() pam=() off=()
for _ in 1 2; do
    # The default: PAM's account stage, its accepted verdict kept while
    # the files that decide it are unchanged (the account memo,
    # docs/pam.md).
    use_defaults ""
    memo+=("$(pam_round)")
    h_memo=$(hash_of_last)
    use_defaults "pam_account_memo = false"
    pam+=("$(pam_round)")
    use_defaults "pam_account = false"
    off+=("$(pam_round)")
    h_off=$(hash_of_last)
done
[ "$h_memo" != "$h_off" ] || echo "bench: the pam_account = false policy was not picked up; the numbers below compare nothing"
[ -s /run/belladonna/account.memo ] || echo "bench: no account memo was stored; the memo figures are PAM's"
use_defaults ""
echo
echo "bdexec, auth = \"none\", $pam_calls calls each, blocks in turn, whole process incl. setpriv (us/call):"
echo "    default (account memo): ${memo[*]}    pam_account_memo = false (PAM every call): ${pam[*]}    pam_account = false: ${off[*]}"

# Monitor mode (issue 13): the same call with `monitor = true` (bdexec
# forks, waits and appends an exit record: a second durable write), in
# blocks alternating with the plain call (A B A B). No terminal here, so
# no pty (as sudo without one).
plain=() monitored=()
for _ in 1 2; do
    plain+=("$(pam_round)")
    monitored+=("$(pam_round /usr/bin/true monitored)")
done
echo
echo "monitor mode: $pam_calls calls per block, whole process incl. setpriv (us/call):"
echo "    plain: ${plain[*]}    monitor = true: ${monitored[*]}    added per call: $(awk -v a="${monitored[0]}" -v b="${monitored[1]}" -v c="${plain[0]}" -v d="${plain[1]}" 'BEGIN { printf "%d us", (a + b - c - d) / 2 }')"

# Policy size (issue 16): the same call with BELLADONNA_BENCH_RULES
# (10,000) more rules for other users written before the bench rules,
# in blocks alternating with the small policy (A B A B). The first call
# after each switch rebuilds the policy cache (/run/belladonna/
# policy.cache) and is timed on its own.
nrules=${BELLADONNA_BENCH_RULES:-10000}
{
    head -n 1 "$dir/policy.orig"
    awk -v n="$nrules" 'BEGIN { for (i = 0; i < n; i++) printf "[[rule]]\nname = \"bulk-%d\"\nusers = [\"bdbulk%d\"]\ncommands = [\"/usr/bin/true bulk%d\"]\nauth = \"none\"\n\n", i, i, i }'
    tail -n +2 "$dir/policy.orig"
} >"$dir/policy.big"
one_call() {
    local start end
    start=$(date +%s%N)
    setpriv --reuid 61900 --regid 61900 --clear-groups "$dir/bin/bdexec" /usr/bin/true || return 1
    end=$(date +%s%N)
    echo $(((end - start) / 1000))
}
# Each block twice: right after the switch (the files just written: read
# and hashed on every call) and once they are settled (older than the
# 3 s stamp margin, src/policy/stamp.rs: the steady state of a real host,
# where the stamps stand for the bytes). Settling takes two rounds: the
# first call after the policy settles rewrites the cache with its
# stamps, and the call after that cache file settles writes its
# verification memo (policy.cache.ok, large caches only), after which
# calls skip the cache's checksum.
settle_twice() {
    sleep 3.2
    one_call >/dev/null
    sleep 3.2
    one_call >/dev/null
}
small=() big=() rebuild=() small_fresh=() big_fresh=()
for _ in 1 2; do
    cat "$dir/policy.orig" >"$policy"
    one_call >/dev/null
    small_fresh+=("$(pam_round)")
    settle_twice
    small+=("$(pam_round)")
    cat "$dir/policy.big" >"$policy"
    rebuild+=("$(one_call)")
    big_fresh+=("$(pam_round)")
    settle_twice
    big+=("$(pam_round)")
done
cat "$dir/policy.orig" >"$policy"
ratio() { awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN { printf "%.2f", (a + b) / (c + d) }'; }
echo
echo "policy size: 1 rule vs $nrules more rules, $pam_calls calls per block, whole process incl. setpriv (us/call):"
echo "    settled: small: ${small[*]}    big: ${big[*]}    ratio big/small: $(ratio "${big[@]}" "${small[@]}")"
echo "    just written: small: ${small_fresh[*]}    big: ${big_fresh[*]}    ratio big/small: $(ratio "${big_fresh[@]}" "${small_fresh[@]}")"
echo "    first call after switching to the big policy (cache rebuilt): ${rebuild[*]}"
check_start=$(date +%s%N)
"$dir/bin/bdctl" policy check "$dir/policy.big" >/dev/null 2>&1 || true
check_end=$(date +%s%N)
echo "    bdctl policy check of the big policy: $(((check_end - check_start) / 1000000)) ms (its $nrules bulk accounts unknown: one NSS lookup each)"
# The same policy where its accounts exist, as on a real host: the bulk
# users and groups in /etc/passwd and /etc/group (a mount namespace of
# its own, for this one command).
{ cat /etc/passwd; awk -v n="$nrules" 'BEGIN { for (i = 0; i < n; i++) printf "bdbulk%d:x:%d:%d::/nonexistent:/usr/sbin/nologin\n", i, 100000 + i, 100000 + i }'; } >"$dir/passwd.bulk"
{ cat /etc/group; awk -v n="$nrules" 'BEGIN { for (i = 0; i < n; i++) printf "bdbulk%d:x:%d:\n", i, 100000 + i }'; } >"$dir/group.bulk"
known_ms=$(unshare --mount --propagation private -- bash -c '
    mount --bind "$1/passwd.bulk" /etc/passwd && mount --bind "$1/group.bulk" /etc/group || exit 1
    s=$(date +%s%N); "$1/bin/bdctl" policy check "$1/policy.big" >/dev/null 2>&1; e=$(date +%s%N)
    echo $(((e - s) / 1000000))' _ "$dir") || known_ms="(not measured: mount failed)"
echo "    bdctl policy check of the big policy: $known_ms ms (its accounts in /etc/passwd and /etc/group)"
echo "bench: load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
if [ ! -f /var/log/belladonna/audit.jsonl ]; then
    echo "bench: bdexec wrote no audit log: the numbers above are not of a working bdexec"
    exit 1
fi
records=$(wc -l </var/log/belladonna/audit.jsonl)
echo "bench: audit log: $records records, $(stat -c %s /var/log/belladonna/audit.jsonl) bytes"
if "$dir/bin/bdctl" audit verify >/dev/null 2>&1; then
    echo "bench: bdctl audit verify: the chain of all $records records is valid"
else
    echo "bench: bdctl audit verify FAILED:"
    "$dir/bin/bdctl" audit verify || true
    exit 1
fi

#!/usr/bin/env bash
# `make demo`: Belladonna doing its real job, on the built-in demo policy
# (policies/demo.toml), without changing anything on the host.
#
# Everything happens in a private mount namespace (unshare --mount) with
# its own /etc/belladonna, /etc/passwd, /etc/group and /etc/shadow (the
# host's plus three demo accounts), its own /var/log, /var/lib and /run.
# The namespace and its temporary directory disappear at the end
# (BELLADONNA_DEMO_KEEP=1 keeps the directory to look at the audit log).
#
# Needs root (namespaces, mounts, setcap) and the release binaries
# (`make demo` builds them first).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "${1:-}" != "--inside" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "demo: needs root (private mount namespace, file capabilities)." >&2
        echo "demo: run:  sudo make demo" >&2
        exit 1
    fi
    # The static bdexec (the product's /usr/bin/bdexec), its dynamically
    # linked twin (target/release/bdexec, installed as bdexec-pam: the
    # static one execs it for PAM) and bdctl, as `make` builds them.
    static_bdexec=$here/$(make -C "$here" -s --no-print-directory static-path)
    for b in "$static_bdexec" "$here/target/release/bdexec" "$here/target/release/bdctl"; do
        [ -x "$b" ] || { echo "demo: $b missing: run 'make' first" >&2; exit 1; }
    done
    for t in unshare setpriv setcap getcap; do
        command -v "$t" >/dev/null || { echo "demo: '$t' missing: run 'make deps' as root" >&2; exit 1; }
    done

    demo=$(mktemp -d /tmp/belladonna-demo.XXXXXX)
    chmod 0755 "$demo"
    if [ -z "${BELLADONNA_DEMO_KEEP:-}" ]; then
        trap 'rm -rf "$demo"' EXIT
    fi
    echo "demo: working directory $demo (removed at the end)"

    # The /etc layer: the host's /etc shows through, these files win.
    install -d -m 0755 "$demo/etc" "$demo/etc/belladonna" "$demo/etc/belladonna/policy.d"
    install -m 0600 "$here/policies/demo.toml" "$demo/etc/belladonna/policy.toml"
    cp -p /etc/passwd /etc/group "$demo/etc/"
    cp -p /etc/shadow "$demo/etc/shadow"
    cat >>"$demo/etc/passwd" <<'EOF'
alice:x:61501:61501:Demo Alice (ops):/home/alice:/bin/bash
bob:x:61502:61502:Demo Bob (service):/home/bob:/bin/sh
mallory:x:61503:61503:Demo Mallory:/home/mallory:/bin/sh
EOF
    cat >>"$demo/etc/group" <<'EOF'
alice:x:61501:
bob:x:61502:
mallory:x:61503:
ops:x:61500:alice
EOF
    cat >>"$demo/etc/shadow" <<'EOF'
alice:*:19700:0:99999:7:::
bob:*:19700:0:99999:7:::
mallory:*:19700:0:99999:7:::
EOF
    # State and log directories, as `make install` makes them.
    install -d -m 0755 "$demo/log" "$demo/lib" "$demo/run" "$demo/bin" "$demo/libexec" "$demo/libexec/belladonna"
    install -d -m 0700 "$demo/log/belladonna" "$demo/lib/belladonna"
    # The binaries: bdexec and its twin (where bdexec looks for it:
    # <its directory>/../libexec/belladonna) with file capabilities
    # (permitted only), no setuid.
    install -m 0755 "$static_bdexec" "$demo/bin/bdexec"
    install -m 0755 "$here/target/release/bdexec" "$demo/libexec/belladonna/bdexec-pam"
    install -m 0755 "$here/target/release/bdctl" "$demo/bin/bdctl"
    setcap cap_setuid,cap_setgid,cap_setpcap,cap_net_bind_service=p "$demo/bin/bdexec"
    setcap cap_setuid,cap_setgid,cap_setpcap,cap_net_bind_service=p "$demo/libexec/belladonna/bdexec-pam"

    exec unshare --mount --propagation private -- bash "$0" --inside "$demo"
fi

# ---------------------------------------------------------------- inside
demo=$2
mount -t overlay overlay -o "lowerdir=$demo/etc:/etc" /etc
mount --bind "$demo/log" /var/log
mount --bind "$demo/lib" /var/lib
mount --bind "$demo/run" /run
# The administrator's writable /etc/belladonna (keys, lock) inside the demo.
mount --bind "$demo/etc/belladonna" /etc/belladonna

bold= norm=
if [ -t 1 ]; then
    bold=$(tput bold 2>/dev/null || true)
    norm=$(tput sgr0 2>/dev/null || true)
fi
cd /
unexpected=0

say() { printf '\n%s== %s%s\n' "$bold" "$*" "$norm"; }

# run USER EXPECTED_EXIT|any CMD... : show the command, its output and exit code.
run() {
    local user=$1 want=$2; shift 2
    printf '%s%s$ %s%s\n' "$bold" "$user" "$*" "$norm"
    local rc=0
    if [ "$user" = root ]; then
        env -i PATH="$demo/bin:/usr/sbin:/usr/bin:/sbin:/bin" TERM="${TERM:-dumb}" "$@" || rc=$?
    else
        setpriv --reuid "$user" --regid "$user" --init-groups -- \
            env -i PATH="$demo/bin:/usr/bin:/bin" HOME="/home/$user" USER="$user" LOGNAME="$user" \
            TERM="${TERM:-dumb}" LANG="${LANG:-C.UTF-8}" "$@" || rc=$?
    fi
    if [ "$want" = any ]; then
        echo "   (exit $rc)"
    elif [ "$rc" = "$want" ]; then
        echo "   (exit $rc, as expected)"
    else
        echo "   (exit $rc — UNEXPECTED, expected $want)"
        unexpected=$((unexpected + 1))
    fi
}

say "The installed bdexec and its PAM twin: no setuid bit, file capabilities in the permitted set only"
ls -l "$demo/bin/bdexec" "$demo/libexec/belladonna/bdexec-pam" | sed "s|$demo/||"
getcap "$demo/bin/bdexec" "$demo/libexec/belladonna/bdexec-pam" | sed "s|$demo/||"

say "The demo policy (/etc/belladonna/policy.toml inside the namespace)"
cat /etc/belladonna/policy.toml

say "The administrator creates the audit MAC key (the verification key K0 goes off-host)"
run root 0 bdctl key gen --audit --export-verify-key "$demo/k0.key"

say "alice (group ops) asks what she may run"
run alice 0 bdexec -l

say "alice runs an allowed command as root"
run alice 0 bdexec -- /usr/bin/id
run alice 0 bdexec -- /usr/bin/id -u

say "alice runs a command as bob (-u); bob gets no capabilities"
run alice 0 bdexec -u bob -- /usr/bin/whoami
run alice 0 bdexec -u bob -- /usr/bin/id -un

say "alice reads files as root inside a sandbox: Landlock allows /etc/hostname only"
run alice 0 bdexec -- /usr/bin/cat /etc/hostname
run alice 1 bdexec -- /usr/bin/cat /etc/shadow

say "Denied: a shell (deny beats allow), an unlisted argument, an unlisted target"
run alice 1 bdexec -- /usr/bin/bash -c id
run alice 1 bdexec -- /usr/bin/id -G
run alice 1 bdexec -u mallory -- /usr/bin/id -u

say "Denied: mallory has no rule at all"
run mallory 1 bdexec -- /usr/bin/id
run mallory any bdexec -l

say "The audit trail, as the administrator sees it"
run root 0 bdctl audit show

say "The raw record of the last decision (one JSON object per line, hash-chained)"
tail -n 1 /var/log/belladonna/audit.jsonl

say "Verifying the hash chain, then every record's MAC with the off-host key"
run root 0 bdctl audit verify
run root 0 bdctl audit verify --key "$demo/k0.key"

say "Checking the policy"
run root 0 bdctl policy check /etc/belladonna/policy.toml

echo
if [ "$unexpected" -ne 0 ]; then
    echo "${bold}demo: $unexpected step(s) did not behave as expected${norm}"
    exit 1
fi
echo "${bold}demo: done — every step behaved as expected. Nothing on the host was changed.${norm}"

#!/usr/bin/env bash
# policy-gate.sh — the CI policy-hash gating matrix (docs/policy-gate.md).
#
#   scripts/policy-gate.sh            check every policies/*.toml against
#                                     policies/pins.json; exit 1 on a mismatch
#   scripts/policy-gate.sh --update   rewrite policies/pins.json from the
#                                     current policies (then review and commit)
#
# For each policy: its canonical hash and its lint counts (offline lint:
# the checks that depend on the policy text alone, so the result is the
# same on every machine) must equal the pinned ones. For each policy that
# differs from its version in the last commit that touched pins.json, the
# privilege diff against that version is printed (`bdctl policy diff`, or
# `diff -u` where bdctl has no diff subcommand).
#
# Environment: BDCTL (bdctl to use; default: build target/debug/bdctl with
# cargo), POLICY_DIR (default: policies/ next to this script's directory).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${POLICY_DIR:-$root/policies}
pins=$dir/pins.json
update=0
case "${1:-}" in
    --update) update=1 ;;
    "") ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "policy-gate: unknown argument: $1 (use --update)" >&2; exit 2 ;;
esac

if [ -z "${BDCTL:-}" ]; then
    (cd "$root" && cargo build --quiet --bin bdctl)
    BDCTL=$root/target/debug/bdctl
fi

shopt -s nullglob
files=("$dir"/*.toml)
if [ ${#files[@]} -eq 0 ]; then
    echo "policy-gate: no policies in $dir" >&2
    exit 1
fi

# One pins.json line per policy, always in this exact form, so this
# script needs no JSON tool:  "NAME": {"hash": "H", "lint": {"error": E, "warn": W, "info": I}}
pin_line() { # name -> line (or failure when the policy does not load)
    local name=$1 out hash counts e w i rc=0
    out=$("$BDCTL" policy check --offline "$dir/$name") || rc=$?
    hash=$(sed -n 's/^policy hash: \([0-9a-f]\{64\}\)$/\1/p' <<<"$out")
    counts=$(grep -E '^errors: [0-9]+, warnings: [0-9]+, info: [0-9]+$' <<<"$out" || true)
    if [ -z "$hash" ] || [ -z "$counts" ]; then
        echo "policy-gate: $name does not load (bdctl exit $rc):" >&2
        printf '%s\n' "$out" >&2
        return 1
    fi
    read -r e w i < <(sed 's/errors: \([0-9]*\), warnings: \([0-9]*\), info: \([0-9]*\)/\1 \2 \3/' <<<"$counts")
    printf '"%s": {"hash": "%s", "lint": {"error": %s, "warn": %s, "info": %s}}' "$name" "$hash" "$e" "$w" "$i"
}

declare -A current=()
load_failed=0
for f in "${files[@]}"; do
    name=$(basename "$f")
    if line=$(pin_line "$name"); then
        current[$name]=$line
    else
        load_failed=1
    fi
done
if [ $load_failed = 1 ]; then
    echo "policy-gate: FAIL: a policy does not load (see above)" >&2
    exit 1
fi

if [ $update = 1 ]; then
    tmp=$(mktemp "$dir/.pins.json.XXXXXX")
    {
        echo "{"
        n=0
        for f in "${files[@]}"; do
            n=$((n + 1))
            sep=","; [ $n = ${#files[@]} ] && sep=""
            echo "  ${current[$(basename "$f")]}$sep"
        done
        echo "}"
    } >"$tmp"
    chmod 0644 "$tmp"
    mv "$tmp" "$pins"
    echo "policy-gate: wrote $pins (${#files[@]} policies); review and commit it with the policies"
    exit 0
fi

# The privilege diff of each policy that changed since the last commit
# that touched pins.json (informational: printed whether or not the pins
# were updated in this change).
print_diffs() {
    if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        echo "policy-gate: $root is not a git work tree: no diff against the pinned versions"
        return 0
    fi
    local rev rel have_diff=0 f name old
    rev=$(git -C "$root" log -1 --format=%H -- "$pins" 2>/dev/null || true)
    if [ -z "$rev" ]; then
        echo "policy-gate: pins.json has no commit yet: no diff against the pinned versions"
        return 0
    fi
    rel=$(realpath --relative-to="$root" "$dir")
    if "$BDCTL" policy diff --help >/dev/null 2>&1; then
        have_diff=1
    fi
    old=$(mktemp -d)
    for f in "${files[@]}"; do
        name=$(basename "$f")
        if ! git -C "$root" show "$rev:$rel/$name" >"$old/$name" 2>/dev/null; then
            echo "== $rel/$name: new since ${rev:0:12} (no pinned version to diff against)"
            continue
        fi
        cmp -s "$old/$name" "$f" && continue
        echo "== $rel/$name: changed since ${rev:0:12} (the last commit that touched pins.json)"
        if [ $have_diff = 1 ]; then
            "$BDCTL" policy diff "$old/$name" "$f" || true
        else
            echo "(this bdctl has no 'policy diff': text diff)"
            diff -u --label "$rel/$name@${rev:0:12}" --label "$rel/$name" "$old/$name" "$f" || true
        fi
    done
    rm -rf "$old"
}

fail=0
if [ ! -f "$pins" ]; then
    echo "policy-gate: FAIL: $pins is missing (run scripts/policy-gate.sh --update)" >&2
    exit 1
fi
for f in "${files[@]}"; do
    name=$(basename "$f")
    want=$(grep -F "\"$name\": {" "$pins" | sed 's/^ *//; s/,$//' || true)
    got=${current[$name]}
    if [ -z "$want" ]; then
        echo "policy-gate: FAIL: $name has no pin in pins.json (current: $got)" >&2
        fail=1
    elif [ "$want" != "$got" ]; then
        wh=$(sed -n 's/.*"hash": "\([0-9a-f]*\)".*/\1/p' <<<"$want")
        gh=$(sed -n 's/.*"hash": "\([0-9a-f]*\)".*/\1/p' <<<"$got")
        wl=$(sed -n 's/.*"lint": \({[^}]*}\).*/\1/p' <<<"$want")
        gl=$(sed -n 's/.*"lint": \({[^}]*}\).*/\1/p' <<<"$got")
        if [ "$wh" != "$gh" ]; then
            echo "policy-gate: FAIL: $name: hash changed without pins.json being updated: pinned $wh, now $gh" >&2
        fi
        if [ "$wl" != "$gl" ]; then
            echo "policy-gate: FAIL: $name: lint counts changed: pinned $wl, now $gl" >&2
        fi
        fail=1
    else
        echo "policy-gate: ok: $name"
    fi
done
# Pins of policies that no longer exist.
while IFS= read -r name; do
    if [ -n "$name" ] && [ ! -f "$dir/$name" ]; then
        echo "policy-gate: FAIL: pins.json pins $name, which does not exist" >&2
        fail=1
    fi
done < <(sed -n 's/^ *"\([^"]*\)": {"hash".*/\1/p' "$pins")

print_diffs
if [ $fail = 1 ]; then
    echo "policy-gate: FAIL: update the pins deliberately with scripts/policy-gate.sh --update, review the diff above and commit pins.json with the policy change" >&2
    exit 1
fi
echo "policy-gate: all ${#files[@]} policies match their pins"

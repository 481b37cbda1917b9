#!/usr/bin/env bash
# The CI gates, one script for CI (.ci/run) and developers alike
# (docs/supply-chain.md). Each gate fails with a non-zero exit.
#
#   scripts/gates.sh tools      install the pinned cargo tools and Python checkers
#   scripts/gates.sh fmt        cargo fmt --check
#   scripts/gates.sh clippy     clippy, all targets and features, -D warnings
#                               (this includes clippy::incompatible_msrv: std
#                               APIs newer than Cargo.toml's rust-version)
#   scripts/gates.sh doc        cargo doc, warnings denied
#   scripts/gates.sh deny       cargo deny --offline check (deny.toml)
#   scripts/gates.sh audit      cargo audit against the same RustSec snapshot
#   scripts/gates.sh vet        cargo vet --locked --frozen (supply-chain/)
#   scripts/gates.sh sbom       CycloneDX 1.5 SBOM -> target/sbom/, schema-checked
#   scripts/gates.sh workflows  .github/workflows/*.yml against GitHub's schema
#   scripts/gates.sh policy     the policy hash gate (scripts/policy-gate.sh)
#   scripts/gates.sh modules    no import cycle among modules (scripts/module-deps.py)
#   scripts/gates.sh all        every gate above but tools, in that order
#
# The RustSec snapshot is the git bundle
# $SUPPLY_CHAIN_DIR/advisory-db.bundle (default: the first of
# ../shared/supply-chain and ../../shared/supply-chain that exists,
# relative to the repository root), cloned once into target/advisory-dbs/.
# Nothing here reaches the network except `tools` (crates.io, PyPI).
#
# MANIFEST=path/Cargo.toml runs deny/audit/vet/sbom on another manifest (the
# package tests point it at a scratch copy with a vulnerable dependency).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
MANIFEST="${MANIFEST:-$root/Cargo.toml}"
mdir="$(cd "$(dirname "$MANIFEST")" && pwd)"

# The cargo tools, pinned (cargo install --locked skips one already
# installed at this version). Compiling all six takes ~20 min on 2 cores.
TOOLS=(
    cargo-deb@3.8.0
    cargo-generate-rpm@0.21.1
    cargo-deny@0.20.2
    cargo-audit@0.22.2
    cargo-cyclonedx@0.5.9
    cargo-vet@0.10.3
)
PY_TOOLS=(check-jsonschema==0.39.0 jsonschema==4.26.0)

# The advisory-db directory name cargo-deny derives from its default URL.
ADB_NAME=advisory-db-3157b0e258782691

die() {
    echo "gates: $*" >&2
    exit 1
}

supply_chain_dir() {
    if [ -n "${SUPPLY_CHAIN_DIR:-}" ]; then
        echo "$SUPPLY_CHAIN_DIR"
        return
    fi
    for d in ../shared/supply-chain ../../shared/supply-chain; do
        if [ -e "$d/advisory-db.bundle" ]; then
            echo "$d"
            return
        fi
    done
    die "no advisory-db.bundle in ../shared/supply-chain or ../../shared/supply-chain (set SUPPLY_CHAIN_DIR)"
}

# Clones the bundle into $1/target/advisory-dbs/ (once) and prints the path.
advisory_db() {
    local dest="$1/target/advisory-dbs/$ADB_NAME" bundle
    if [ ! -d "$dest/.git" ]; then
        bundle="$(supply_chain_dir)/advisory-db.bundle"
        [ -r "$bundle" ] || die "cannot read $bundle"
        rm -rf "$dest"
        mkdir -p "$(dirname "$dest")"
        git -c init.defaultBranch=main clone -q "$bundle" "$dest" || die "git clone $bundle failed"
    fi
    echo "$dest"
}

gate_tools() {
    local t
    for t in "${TOOLS[@]}"; do
        local name="${t%@*}" want="${t#*@}" have
        have="$(cargo install --list | sed -n "s/^$name v\([^:]*\):$/\1/p")"
        if [ "$have" = "$want" ]; then
            echo "tools: $name $want already installed"
            continue
        fi
        echo "tools: cargo install --locked $t"
        local s=$SECONDS
        cargo install --locked -j "${TOOLS_JOBS:-2}" "$t"
        echo "tools: $t built in $((SECONDS - s))s"
    done
    # Debian's own python3 refuses pip installs without this (PEP 668).
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${PY_TOOLS[@]}"
}

gate_fmt() { cargo fmt --check; }

gate_clippy() { cargo clippy --all-targets --all-features -- -D warnings; }

gate_doc() { RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features; }

gate_deny() {
    # --offline reads the crates from the local registry: fetch them first.
    cargo fetch --locked --manifest-path "$MANIFEST"
    advisory_db "$mdir" >/dev/null
    # db-path in deny.toml is relative to the current directory.
    (cd "$mdir" && cargo deny --manifest-path "$MANIFEST" --config "$root/deny.toml" \
        --offline --locked --all-features check --hide-inclusion-graph advisories licenses bans sources)
}

gate_audit() {
    local db
    db="$(advisory_db "$mdir")"
    # --deny warnings: unmaintained and unsound advisories fail too.
    cargo audit --db "$db" --no-fetch --stale --deny warnings \
        --file "$mdir/Cargo.lock"
}

gate_vet() {
    # --frozen reads the crates from the local registry: fetch them first.
    cargo fetch --locked --manifest-path "$MANIFEST"
    cargo vet --manifest-path "$MANIFEST" --locked --frozen
}

gate_sbom() {
    local out="$root/target/sbom"
    mkdir -p "$out"
    rm -f "$mdir"/*.cdx.json
    cargo cyclonedx --manifest-path "$MANIFEST" --all-features --format json \
        --spec-version 1.5 --override-filename belladonna.cdx
    mv "$mdir/belladonna.cdx.json" "$out/belladonna.cdx.json"
    python3 "$root/scripts/validate-sbom.py" "$out/belladonna.cdx.json"
}

gate_workflows() {
    # The schema ships inside check-jsonschema: no network.
    check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
    # The check can fail: a job with a misspelt key must be refused.
    local bad
    bad="$(mktemp --suffix=.yml)"
    printf 'on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n' >"$bad"
    if check-jsonschema --builtin-schema vendor.github-workflows "$bad" >/dev/null 2>&1; then
        rm -f "$bad"
        die "workflows: check-jsonschema accepted a workflow with an unknown key"
    fi
    rm -f "$bad"
    echo "workflows: a malformed workflow is refused"
}

gate_policy() { scripts/policy-gate.sh; }
gate_modules() { python3 scripts/module-deps.py --check; }

run() {
    local g="$1" s=$SECONDS
    echo "==> gate: $g"
    "gate_$g"
    echo "==> gate: $g passed ($((SECONDS - s))s)"
}

[ $# -ge 1 ] || die "usage: scripts/gates.sh tools|fmt|clippy|doc|deny|audit|vet|sbom|workflows|policy|modules|all ..."
for g in "$@"; do
    case "$g" in
    all) for a in fmt clippy doc deny audit vet sbom workflows policy modules; do run "$a"; done ;;
    tools | fmt | clippy | doc | deny | audit | vet | sbom | workflows | policy | modules) run "$g" ;;
    *) die "unknown gate: $g" ;;
    esac
done

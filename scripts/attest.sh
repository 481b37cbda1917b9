#!/usr/bin/env bash
# Release artifacts, their manifest, signatures and provenance
# (make release / make verify-release; docs/supply-chain.md).
#
#   scripts/attest.sh release [DIR]   collect, hash, sign (default DIR:
#                                     target/release-artifacts)
#   scripts/attest.sh verify  [DIR]   check SHA256SUMS, every signature and
#                                     the provenance; exit 1 on any mismatch
#
# Collected: the .deb and .rpm (make packages), the man pages rendered
# with mandoc (HTML and PDF), the CycloneDX SBOM (scripts/gates.sh sbom).
# Written: SHA256SUMS; FILE.sig for every artifact and for SHA256SUMS;
# provenance.intoto.json, an in-toto Statement (SLSA provenance v1) in a
# signed DSSE envelope; cosign.pub, the public key.
#
# Signatures are what `cosign sign-blob --key` makes and
# `cosign verify-blob --key cosign.pub --signature FILE.sig FILE` accepts:
# base64 of an ASN.1 DER ECDSA P-256 signature over the SHA-256 of the
# file. cosign is used where it is installed; otherwise openssl makes the
# same signatures.
#
# The key: RELEASE_KEY=/path/to/key.pem, an ECDSA P-256 private key in PEM
# (PKCS#8 or SEC1, unencrypted: keep it on the release machine only; or a
# cosign key when cosign is installed, with COSIGN_PASSWORD set).
# Without RELEASE_KEY a throwaway key is generated under
# target/release-key/ and the release is marked as test-signed.
# verify checks against RELEASE_PUBKEY=/path/to/cosign.pub when set (the
# key you trust); otherwise against DIR/cosign.pub, which proves only that
# the files are consistent with each other.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cmd="${1:-}"
dir="${2:-$root/target/release-artifacts}"

die() {
    echo "attest: $*" >&2
    exit 1
}

# sign KEY FILE: writes FILE.sig (base64 DER ECDSA over SHA-256(FILE)).
sign() {
    local key="$1" f="$2"
    if [ -n "${USE_COSIGN:-}" ]; then
        cosign sign-blob --yes --tlog-upload=false --key "$key" --output-signature "$f.sig" "$f" >/dev/null
    else
        openssl dgst -sha256 -sign "$key" "$f" | base64 -w0 >"$f.sig"
    fi
}

# verify_sig PUB FILE SIG
verify_sig() {
    local pub="$1" f="$2" sig="$3" tmp
    tmp="$(mktemp)"
    if ! base64 -d "$sig" >"$tmp" 2>/dev/null; then
        rm -f "$tmp"
        return 1
    fi
    if openssl dgst -sha256 -verify "$pub" -signature "$tmp" "$f" >/dev/null 2>&1; then
        rm -f "$tmp"
    else
        rm -f "$tmp"
        return 1
    fi
    if command -v cosign >/dev/null 2>&1; then
        cosign verify-blob --insecure-ignore-tlog=true --key "$pub" --signature "$sig" "$f" >/dev/null 2>&1
    fi
}

# DSSE pre-authentication encoding of (type, payload file), to stdout.
pae() {
    local type="$1" body="$2"
    printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(stat -c %s "$body")"
    cat "$body"
}

PAYLOAD_TYPE="application/vnd.in-toto+json"

release() {
    shopt -s nullglob
    local debs=(target/debian/*.deb) rpms=(target/generate-rpm/*.rpm)
    [ ${#debs[@]} = 1 ] || die "want one .deb in target/debian (make deb)"
    [ ${#rpms[@]} = 1 ] || die "want one .rpm in target/generate-rpm (make rpm)"
    [ -f target/sbom/belladonna.cdx.json ] || die "no target/sbom/belladonna.cdx.json (scripts/gates.sh sbom)"

    rm -rf "$dir"
    mkdir -p "$dir/man"
    cp "${debs[0]}" "${rpms[0]}" target/sbom/belladonna.cdx.json "$dir/"
    local m
    for m in man/*.[1-8]; do
        mandoc -Thtml -Ostyle=man.css "$m" >"$dir/man/${m#man/}.html"
        mandoc -Tpdf "$m" >"$dir/man/${m#man/}.pdf"
    done

    local key="${RELEASE_KEY:-}" test_signed=false
    if [ -z "$key" ]; then
        key="$root/target/release-key/release-test.key"
        mkdir -p -m 0700 "$(dirname "$key")"
        openssl ecparam -name prime256v1 -genkey -noout -out "$key"
        chmod 0600 "$key"
        test_signed=true
        echo "attest: WARNING: no RELEASE_KEY: signed with a throwaway test key ($key)" >&2
    fi
    [ -r "$key" ] || die "cannot read RELEASE_KEY $key"
    USE_COSIGN=
    if command -v cosign >/dev/null 2>&1 && grep -q "SIGSTORE PRIVATE KEY" "$key"; then
        USE_COSIGN=1
        cosign public-key --key "$key" >"$dir/cosign.pub"
    else
        openssl pkey -in "$key" -pubout -out "$dir/cosign.pub" 2>/dev/null ||
            die "RELEASE_KEY $key is not a PEM private key"
        openssl pkey -pubin -in "$dir/cosign.pub" -text -noout | grep -q "prime256v1\|P-256" ||
            die "RELEASE_KEY $key is not an ECDSA P-256 key"
    fi

    # The manifest: every artifact, relative to DIR.
    (cd "$dir" && find . -type f ! -name cosign.pub ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs sha256sum) >"$dir/SHA256SUMS"

    # The provenance statement (in-toto v1, SLSA provenance v1).
    local stmt="$root/target/provenance.statement.json"
    python3 - "$dir/SHA256SUMS" "$stmt" "$test_signed" <<'PY'
import json, os, subprocess, sys, time
sums, out, test_signed = sys.argv[1], sys.argv[2], sys.argv[3] == "true"
subjects = []
for line in open(sums):
    digest, name = line.rstrip("\n").split("  ", 1)
    subjects.append({"name": name, "digest": {"sha256": digest}})
def git(*a):
    try:
        return subprocess.run(["git", *a], capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return ""
commit = git("rev-parse", "HEAD")
dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
statement = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": subjects,
    "predicateType": "https://slsa.dev/provenance/v1",
    "predicate": {
        "buildDefinition": {
            "buildType": "https://belladonna.invalid/make-release/v1",
            "externalParameters": {"target": "make release", "testSigned": test_signed},
            "internalParameters": {"rustc": rustc},
            "resolvedDependencies": [
                {"uri": "git+file://belladonna", "digest": {"gitCommit": commit}, "annotations": {"dirty": dirty}},
            ],
        },
        "runDetails": {
            "builder": {"id": os.environ.get("RELEASE_BUILDER_ID", "local:" + os.uname().nodename)},
            "metadata": {"invocationId": os.environ.get("GITHUB_RUN_ID", ""), "startedOn": now, "finishedOn": now},
        },
    },
}
json.dump(statement, open(out, "w"), indent=2, sort_keys=True)
PY
    local paef="$root/target/provenance.pae"
    pae "$PAYLOAD_TYPE" "$stmt" >"$paef"
    sign "$key" "$paef"
    python3 - "$stmt" "$paef.sig" "$dir/provenance.intoto.json" "$PAYLOAD_TYPE" <<'PY'
import base64, json, sys
stmt, sig, out, ptype = sys.argv[1:5]
env = {
    "payloadType": ptype,
    "payload": base64.b64encode(open(stmt, "rb").read()).decode(),
    "signatures": [{"keyid": "", "sig": open(sig).read().strip()}],
}
json.dump(env, open(out, "w"), indent=2)
PY
    rm -f "$paef" "$paef.sig"

    # Signatures: every artifact and the manifest.
    local f
    while read -r _ f; do sign "$key" "$dir/$f"; done <"$dir/SHA256SUMS"
    sign "$key" "$dir/SHA256SUMS"
    echo "attest: $(wc -l <"$dir/SHA256SUMS") artifacts in $dir, signed$([ "$test_signed" = true ] && echo " (TEST KEY)")"
}

verify() {
    [ -d "$dir" ] || die "no $dir (make release)"
    local pub="${RELEASE_PUBKEY:-$dir/cosign.pub}" bad=0 f
    [ -r "$pub" ] || die "cannot read the public key $pub"
    [ -f "$dir/SHA256SUMS" ] || die "no $dir/SHA256SUMS"
    fail() {
        echo "verify: FAIL: $*" >&2
        bad=1
    }

    verify_sig "$pub" "$dir/SHA256SUMS" "$dir/SHA256SUMS.sig" || fail "SHA256SUMS: bad signature"
    (cd "$dir" && sha256sum --quiet --strict -c SHA256SUMS) || fail "SHA256SUMS: an artifact does not match"
    # Nothing unlisted (other than the signatures, the key, the provenance).
    while read -r f; do
        case "$f" in
        SHA256SUMS | cosign.pub | provenance.intoto.json | *.sig) ;;
        *) grep -q "  $f\$" "$dir/SHA256SUMS" || fail "$f: not in SHA256SUMS" ;;
        esac
    done < <(cd "$dir" && find . -type f -printf '%P\n')
    while read -r _ f; do
        [ -f "$dir/$f.sig" ] || { fail "$f: no signature"; continue; }
        verify_sig "$pub" "$dir/$f" "$dir/$f.sig" || fail "$f: bad signature"
    done <"$dir/SHA256SUMS"

    # The provenance: a DSSE envelope signed with the same key whose
    # subjects are exactly the manifest's entries.
    local tmp
    tmp="$(mktemp -d)"
    if python3 - "$dir/provenance.intoto.json" "$tmp" "$PAYLOAD_TYPE" <<'PY'; then
import base64, json, sys
env_path, tmp, ptype = sys.argv[1:4]
env = json.load(open(env_path))
if env.get("payloadType") != ptype or len(env.get("signatures", [])) != 1:
    sys.exit("provenance: not a single-signature in-toto DSSE envelope")
open(tmp + "/payload", "wb").write(base64.b64decode(env["payload"], validate=True))
open(tmp + "/sig", "w").write(env["signatures"][0]["sig"])
PY
        pae "$PAYLOAD_TYPE" "$tmp/payload" >"$tmp/pae"
        verify_sig "$pub" "$tmp/pae" "$tmp/sig" || fail "provenance.intoto.json: bad signature"
        python3 - "$tmp/payload" "$dir/SHA256SUMS" <<'PY' || fail "provenance.intoto.json: subjects differ from SHA256SUMS"
import json, sys
st = json.load(open(sys.argv[1]))
assert st["_type"] == "https://in-toto.io/Statement/v1", st["_type"]
assert st["predicateType"] == "https://slsa.dev/provenance/v1", st["predicateType"]
want = {}
for line in open(sys.argv[2]):
    d, n = line.rstrip("\n").split("  ", 1)
    want[n] = d
got = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
if got != want:
    sys.exit("subjects: " + ", ".join(sorted(set(got.items()) ^ set(want.items()))[:1][0]))
PY
    else
        fail "provenance.intoto.json: unreadable"
    fi
    rm -rf "$tmp"

    if [ "$bad" = 0 ]; then
        echo "verify: OK: $(wc -l <"$dir/SHA256SUMS") artifacts, their signatures and the provenance (key $pub)"
    else
        return 1
    fi
}

case "$cmd" in
release) release ;;
verify) verify ;;
*) die "usage: scripts/attest.sh release|verify [DIR]" ;;
esac

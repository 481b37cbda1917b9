#!/usr/bin/env bash
# Belladonna kernel matrix: boot Debian's kernels under qemu (TCG software
# emulation, no KVM needed) with a tiny initramfs whose /init is a
# statically linked probe (tests/kernel_probe), and report, per kernel,
# what Landlock and seccomp really enforce -- both with the probe's own
# minimal re-implementation and with the product's sandbox code (the
# belladonna library: the product_* rows). See docs/kernel-matrix.md.
#
#   scripts/kernel-matrix.sh            (or: make kernel-matrix)
#
# Nothing on the host is installed or reconfigured except, when run as
# root and missing, the qemu-system-x86 package itself. Kernel packages
# are only downloaded (apt-get download, through a private APT
# configuration under target/kernel-matrix/apt) and their vmlinuz
# extracted; the host's /etc/apt is never touched.
#
# Environment (all optional):
#   KM_KERNELS        kernels to boot, space separated
#                     (default "6.1 6.12 newest 6.1:nolandlock"): a version prefix
#                     ("6.1" = newest 6.1.x), "newest", or an exact image package
#                     name (linux-image-6.1.0-50-cloud-amd64); a ":nolandlock"
#                     suffix boots that kernel with Landlock left out of lsm=
#                     (the "kernel without Landlock" case)
#   KM_FLAVOUR        Debian kernel flavour (default cloud-amd64; amd64 works too,
#                     the .deb is ~3x bigger)
#   KM_SUITES         Debian suites searched (default: bookworm bookworm-updates
#                     bookworm-security trixie trixie-updates trixie-security
#                     trixie-backports sid)
#   KM_MIRROR         Debian mirror (default http://deb.debian.org/debian)
#   KM_SECURITY_MIRROR  (default http://deb.debian.org/debian-security)
#   KM_KEYRING        archive keyring (default /usr/share/keyrings/debian-archive-keyring.gpg)
#   KM_OFFLINE=1      no apt-get update/download: boot the kernels already cached
#   KM_KEEP_DEBS=1    keep the downloaded .deb files (default: only vmlinuz is kept)
#   KM_TIMEOUT        seconds per qemu run (default 120)
#   KM_ACCEL          qemu accelerator (default tcg; kvm where /dev/kvm works)
#   KM_MEM            guest memory in MiB (default 512)
#   KM_APPEND         kernel command line (default below: Landlock must be in lsm=)
#   KM_MIN_BOOTED     fail unless at least this many kernels ran the probe (default 2)
#   KM_HOST=1         also run the probe on the running kernel (in `unshare -n`)
#   KM_DIR            work directory (default target/kernel-matrix)
#
# Exit status: 0 when every check on every booted kernel passed or was
# unsupported/skipped; 1 when a check failed, a probe did not finish (panic,
# timeout), or fewer than KM_MIN_BOOTED kernels could be booted; 2 on a
# setup error (missing tool, probe build failure).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${KM_DIR:-$ROOT/target/kernel-matrix}
KERNELS=${KM_KERNELS:-"6.1 6.12 newest 6.1:nolandlock"}
FLAVOUR=${KM_FLAVOUR:-cloud-amd64}
SUITES=${KM_SUITES:-"bookworm bookworm-updates bookworm-security trixie trixie-updates trixie-security trixie-backports sid"}
MIRROR=${KM_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${KM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=${KM_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
OFFLINE=${KM_OFFLINE:-0}
TIMEOUT=${KM_TIMEOUT:-120}
ACCEL=${KM_ACCEL:-tcg}
MEM=${KM_MEM:-512}
APPEND=${KM_APPEND:-"console=ttyS0 panic=-1 quiet lsm=landlock,lockdown,yama,apparmor"}
MIN_BOOTED=${KM_MIN_BOOTED:-2}
HOST=${KM_HOST:-0}

case "${1:-}" in
  -h|--help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  "") ;;
  *) echo "kernel-matrix: unknown argument: $1 (see --help; settings are KM_* variables)" >&2; exit 2 ;;
esac

T0=$SECONDS
say() { printf 'kernel-matrix: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

mkdir -p "$OUT"/{logs,debs,kernels} || die "cannot create $OUT"

# ------------------------------------------------------------------ tools
if ! command -v qemu-system-x86_64 >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "qemu-system-x86_64 missing: installing qemu-system-x86 (host apt, no recommends)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-x86 >"$OUT/logs/qemu-install.log" 2>&1 \
      || die "apt-get install qemu-system-x86 failed (see $OUT/logs/qemu-install.log; try apt-get update first)"
  else
    die "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
  fi
fi
for t in cargo apt-get apt-cache dpkg-deb dpkg gzip tar timeout; do
  command -v "$t" >/dev/null || die "'$t' not found"
done

# ------------------------------------------------------------------ probe
say "building the probe (static, x86_64-unknown-linux-gnu + crt-static)"
export CARGO_TARGET_DIR="$OUT/probe-target"
PROBE_MANIFEST="$ROOT/tests/kernel_probe/Cargo.toml"
cargo test --locked -q --manifest-path "$PROBE_MANIFEST" >"$OUT/logs/probe-unit-tests.log" 2>&1 \
  || { cat "$OUT/logs/probe-unit-tests.log" >&2; die "probe unit tests (decision rule) failed"; }
say "probe unit tests: $(grep -E '^test result:' "$OUT/logs/probe-unit-tests.log" | head -1)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked -q --release \
  --target x86_64-unknown-linux-gnu --manifest-path "$PROBE_MANIFEST" >"$OUT/logs/probe-build.log" 2>&1 \
  || { cat "$OUT/logs/probe-build.log" >&2; die "probe build failed (glibc static libs come with libc6-dev)"; }
BIN="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
PROBE="$BIN/kernel-probe"
if command -v readelf >/dev/null && readelf -l "$PROBE" | grep -q INTERP; then
  die "$PROBE is dynamically linked; it must be static to run as /init"
fi
"$BIN/mkinitramfs" "$PROBE" "$OUT/initramfs.cpio" || die "mkinitramfs failed"
gzip -9nf "$OUT/initramfs.cpio" || die "gzip failed"
INITRD="$OUT/initramfs.cpio.gz"
say "initramfs: $INITRD ($(stat -c %s "$INITRD") bytes)"

# ------------------------------------------------------------------ apt
# A private APT configuration: our own sources list, lists, cache and an
# empty dpkg status. The host's own sources and preferences are not read.
APTDIR="$OUT/apt"
mkdir -p "$APTDIR"/{lists/partial,cache/archives/partial,etc/sources.list.d,etc/preferences.d}
: >"$APTDIR/status"
{
  for s in $SUITES; do
    case "$s" in *-security) m=$SECURITY_MIRROR ;; *) m=$MIRROR ;; esac
    echo "deb [signed-by=$KEYRING] $m $s main"
  done
} >"$APTDIR/etc/sources.list"
cat >"$APTDIR/etc/apt.conf" <<EOF
// Generated by scripts/kernel-matrix.sh: a private APT configuration.
Dir::Etc::sourcelist "$APTDIR/etc/sources.list";
Dir::Etc::sourceparts "$APTDIR/etc/sources.list.d";
Dir::Etc::preferences "$APTDIR/etc/preferences";
Dir::Etc::preferencesparts "$APTDIR/etc/preferences.d";
Dir::State::Lists "$APTDIR/lists";
Dir::State::status "$APTDIR/status";
Dir::Cache "$APTDIR/cache";
// binary caches on (some hosts turn them off): one parse of the lists, not one per apt-cache call
Dir::Cache::pkgcache "pkgcache.bin";
Dir::Cache::srcpkgcache "";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled "false";
Debug::NoLocking "true";
// Hooks of the host's apt.conf.d (cache cleaners, PackageKit) are not
// ours to trigger.
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Post-Invoke;
EOF
APT_OPTS=(-c "$APTDIR/etc/apt.conf")
[ "$(id -u)" = 0 ] && APT_OPTS+=(-o "APT::Sandbox::User=root")

APT_NOTE=""
if [ "$OFFLINE" = 1 ]; then
  say "KM_OFFLINE=1: using the cached kernels only"
else
  [ -r "$KEYRING" ] || die "Debian archive keyring $KEYRING missing (apt-get install debian-archive-keyring)"
  say "apt-get update (private configuration: $SUITES)"
  # apt-get update exits 0 even when every mirror failed ("W: Failed to
  # fetch ..."), so look at what it said, not only at its status.
  apt-get "${APT_OPTS[@]}" update >"$OUT/logs/apt-update.log" 2>&1
  rc=$?
  APT_NOTE=$(grep -E '^(E|W):' "$OUT/logs/apt-update.log" | head -3 | tr '\n' ' ')
  if [ "$rc" != 0 ] || [ -n "$APT_NOTE" ]; then
    say "apt-get update (exit $rc) reported problems, continuing with what was fetched: $APT_NOTE"
  fi
fi

# newest version in a list (dpkg ordering)
max_version() {
  local best="" v
  while read -r v; do
    [ -n "$v" ] || continue
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
  done
  printf '%s' "$best"
}

# resolve SPEC -> "PACKAGE VERSION" or an error on stderr
resolve() {
  local spec=$1 meta="linux-image-$FLAVOUR" versions ver pkg
  if [[ "$spec" == linux-image-* ]]; then
    ver=$(apt-cache "${APT_OPTS[@]}" madison "$spec" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | max_version)
    [ -n "$ver" ] || { echo "no package $spec in $SUITES" >&2; return 1; }
    echo "$spec $ver"; return 0
  fi
  versions=$(apt-cache "${APT_OPTS[@]}" madison "$meta" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | sort -u)
  [ -n "$versions" ] || { echo "no $meta in the package lists (apt-get update: ${APT_NOTE:-no error reported})" >&2; return 1; }
  if [ "$spec" = newest ]; then
    ver=$(max_version <<<"$versions")
  else
    ver=$(grep -F "$spec." <<<"$versions" | grep -E "^${spec//./\\.}\." | max_version)
  fi
  [ -n "$ver" ] || { echo "no $meta $spec.x in $SUITES (available: $(tr '\n' ' ' <<<"$versions"))" >&2; return 1; }
  pkg=$(apt-cache "${APT_OPTS[@]}" show "$meta=$ver" 2>/dev/null | sed -n 's/^Depends: //p' | head -1 \
        | tr ',' '\n' | sed 's/^ *//; s/[ |].*//' | grep -E '^linux-image-[0-9]' | head -1)
  [ -n "$pkg" ] || { echo "$meta=$ver depends on no linux-image-<version> package" >&2; return 1; }
  echo "$pkg $ver"
}

# download PACKAGE=VERSION into $OUT/debs (cached) -> path of the .deb
download() {
  local pkg=$1 ver=$2 deb err
  deb=$(ls "$OUT/debs/${pkg}_"*.deb 2>/dev/null | head -1)
  if [ -z "$deb" ]; then
    [ "$OFFLINE" = 1 ] && { echo "KM_OFFLINE=1 and $pkg is not cached" >&2; return 1; }
    if ! err=$(cd "$OUT/debs" && apt-get "${APT_OPTS[@]}" download "$pkg=$ver" 2>&1); then
      echo "apt-get download $pkg=$ver failed: $(grep -E '^(E|Err|W):' <<<"$err" | head -3 | tr '\n' ' ')" >&2
      return 1
    fi
    deb=$(ls "$OUT/debs/${pkg}_"*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { echo "apt-get download $pkg=$ver produced no .deb" >&2; return 1; }
  fi
  echo "$deb"
}

# fetch PACKAGE VERSION -> path of vmlinuz (cached under $OUT/kernels)
fetch() {
  local pkg=$1 ver=$2 deb kdir vmlinuz cand deps tried=""
  kdir="$OUT/kernels/${pkg}_${ver//[:~]/_}"
  if [ -s "$kdir/vmlinuz" ]; then echo "$kdir/vmlinuz"; return 0; fi
  rm -rf "$kdir"; mkdir -p "$kdir/x"
  deb=$(download "$pkg" "$ver") || return 1
  # Up to 6.x the image package holds boot/vmlinuz-V. Newer Debian kernels
  # (7.x) are split: linux-image-V-FLAVOUR is a small package depending on
  # linux-binary-V-FLAVOUR (usr/lib/modules/V/vmlinuz), linux-modules-V-...,
  # so follow the image's own dependencies until a vmlinuz turns up.
  deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/[ |].*//' \
         | grep -E '^linux-(binary|image|base)-[0-9]' || true)
  for cand in "$pkg" $deps; do
    tried+="$cand "
    if [ "$cand" != "$pkg" ]; then deb=$(download "$cand" "$ver") || return 1; fi
    # dpkg-deb's data tarball, vmlinuz only (modules are not needed: the
    # probe uses nothing that Debian builds as a module).
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir/x" --wildcards \
      './boot/vmlinuz-*' './usr/lib/modules/*/vmlinuz' 2>/dev/null
    vmlinuz=$(ls "$kdir"/x/boot/vmlinuz-* "$kdir"/x/usr/lib/modules/*/vmlinuz 2>/dev/null | head -1)
    if [ -n "$vmlinuz" ]; then
      mv "$vmlinuz" "$kdir/vmlinuz" && rm -rf "$kdir/x"
      # the vmlinuz is what is cached; the packages can go
      [ "${KM_KEEP_DEBS:-0}" = 1 ] || rm -f "$OUT/debs/${pkg}_"*.deb $(for d in $deps; do echo "$OUT/debs/${d}_"*.deb; done)
      echo "$kdir/vmlinuz"; return 0
    fi
  done
  echo "no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz in: $tried" >&2
  return 1
}

# ------------------------------------------------------------------ run
COLS=()                 # column ids
declare -A CELL NOTE    # CELL[col,key] = value; NOTE[col] = text
KEYS=(kernel debian_package landlock_abi
      landlock_fs landlock_truncate landlock_net landlock_scope
      policy_both_outcomes policy_hard_min_abi6 policy_best_effort
      seccomp_avail_kill_process seccomp_avail_log seccomp_avail_errno seccomp_avail_user_notif
      seccomp_baseline seccomp_arch
      seccomp_kill_mode seccomp_log_mode sandbox_exec
      product_seccomp_baseline product_seccomp_errno product_seccomp_kill
      product_seccomp_log product_seccomp_arch
      product_landlock product_landlock_report
      product_min_abi6 product_min_abi_both product_sandbox_exec)
TAIL_KEYS=(run_seconds result)
FAILS=0; BOOTED=0
declare -A SEEN

# parse LOG into column COL; returns 0 if the probe finished
collect() {
  local col=$1 log=$2 line key rest val done=0
  while IFS= read -r line; do
    case "$line" in
      PROBE_DONE*) done=1 ;;
      "PROBE "*)
        rest=${line#PROBE }
        key=${rest%%=*}; val=${rest#*=}
        case "$key" in
          kernel|cmdline|lsm|loopback|setup_warning) CELL[$col,$key]=$val ;;
          landlock_abi) CELL[$col,$key]=${val%% *}
                        [ "$val" != "${val%% *}" ] && NOTE[$col]+="landlock_abi: ${val#* }; " ;;
          *) local v=${val%% *}
             [[ " ${KEYS[*]} " == *" $key "* ]] || KEYS+=("$key")   # a check this script does not know yet
             if [ "$v" = fail ]; then CELL[$col,$key]=FAIL; NOTE[$col]+="$key FAILED: ${val#fail }; "; FAILS=$((FAILS+1))
             else CELL[$col,$key]=$v; fi ;;
        esac ;;
    esac
  done < <(tr -d '\r' <"$log" | grep -a -o 'PROBE.*')
  [ "$done" = 1 ]
}

run_kernel() {
  local spec=${1%%:*} variant="" col="k${#COLS[@]}" resolved pkg ver vmlinuz log t1 rc append=$APPEND
  [[ "$1" == *:* ]] && variant=${1#*:}
  case "$variant" in
    "") ;;
    nolandlock) append="$(sed -E 's/(^| )lsm=[^ ]*//' <<<"$APPEND") lsm=lockdown,capability,yama,apparmor" ;;
    *) die "unknown kernel variant '$variant' in '$1' (known: nolandlock)" ;;
  esac
  COLS+=("$col")
  CELL[$col,kernel]="$1"
  if [ "$OFFLINE" = 1 ] && [[ "$spec" != linux-image-* ]]; then
    # offline: pick the cached image matching the spec
    local cached
    cached=$(ls "$OUT/kernels" 2>/dev/null | grep -E "^linux-image-${spec//./\\.}[.-]" | sort -V | tail -1)
    [ "$spec" = newest ] && cached=$(ls "$OUT/kernels" 2>/dev/null | sort -V | tail -1)
    [ -n "$cached" ] || { CELL[$col,result]="not fetched"; NOTE[$col]+="KM_OFFLINE=1 and no cached kernel for $spec; "; return; }
    pkg=${cached%%_*}; ver=${cached#*_}
  else
    if ! resolved=$(resolve "$spec" 2>"$OUT/logs/resolve.err"); then
      CELL[$col,result]="not fetched"; NOTE[$col]+="$(cat "$OUT/logs/resolve.err"); "
      say "$spec: NOT FETCHED: $(cat "$OUT/logs/resolve.err")"; return
    fi
    read -r pkg ver <<<"$resolved"
  fi
  if [ -n "${SEEN[$pkg:$variant]:-}" ]; then
    CELL[$col,debian_package]="$pkg"; CELL[$col,result]="same as ${SEEN[$pkg:$variant]}"
    return
  fi
  SEEN[$pkg:$variant]=$1
  CELL[$col,debian_package]="$pkg $ver"
  spec=$1
  say "$spec: $pkg $ver"
  if ! vmlinuz=$(fetch "$pkg" "$ver" 2>"$OUT/logs/fetch.err"); then
    CELL[$col,result]="not fetched"; NOTE[$col]+="$(cat "$OUT/logs/fetch.err"); "
    say "$spec: NOT FETCHED: $(cat "$OUT/logs/fetch.err")"; return
  fi
  log="$OUT/logs/$pkg${variant:+.$variant}.serial.log"
  say "$spec: booting $vmlinuz (qemu -accel $ACCEL, timeout ${TIMEOUT}s)"
  t1=$(date +%s.%N)
  timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel "$ACCEL" -m "$MEM" -smp 1 \
    -nographic -no-reboot -nic none \
    -kernel "$vmlinuz" -initrd "$INITRD" -append "$append" </dev/null >"$log" 2>&1
  rc=$?
  CELL[$col,run_seconds]=$(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  if collect "$col" "$log"; then
    BOOTED=$((BOOTED+1))
    grep -q FAILED <<<"${NOTE[$col]:-}" && CELL[$col,result]=FAIL || CELL[$col,result]=ok
    [ -n "$variant" ] && CELL[$col,kernel]+=" ($variant)"
  else
    FAILS=$((FAILS+1))
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
      CELL[$col,result]="FAIL (timeout)"; NOTE[$col]+="qemu timed out after ${TIMEOUT}s; "
    else
      CELL[$col,result]="FAIL (no PROBE_DONE)"; NOTE[$col]+="qemu exit $rc, probe did not finish: $(tr -d '\r' <"$log" | grep -a -E 'panic|Kernel|error|PROBE' | tail -3 | tr '\n' ' '); "
    fi
  fi
  say "$spec: ${CELL[$col,result]} in ${CELL[$col,run_seconds]}s (serial log: $log)"
}

run_host() {
  local col="k${#COLS[@]}" log="$OUT/logs/host.log" t1
  COLS+=("$col")
  CELL[$col,debian_package]="(host, unshare -n)"
  t1=$(date +%s.%N)
  if command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
    unshare -n "$PROBE" >"$log" 2>&1
  else
    "$PROBE" >"$log" 2>&1
  fi
  CELL[$col,run_seconds]=$(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  if collect "$col" "$log"; then
    # not counted in BOOTED: KM_MIN_BOOTED is about Debian's kernels
    grep -q FAILED <<<"${NOTE[$col]:-}" && CELL[$col,result]=FAIL || CELL[$col,result]=ok
    CELL[$col,kernel]+=" (host)"
  else
    FAILS=$((FAILS+1)); CELL[$col,result]="FAIL (no PROBE_DONE)"
  fi
}

T_PREP=$((SECONDS - T0))
for spec in $KERNELS; do run_kernel "$spec"; done
[ "$HOST" = 1 ] && run_host

# ------------------------------------------------------------------ report
REPORT="$OUT/report.md"
{
  echo "# Belladonna kernel matrix"
  echo
  echo "qemu $ACCEL, ${MEM} MiB, append: \`$APPEND\`; flavour $FLAVOUR; $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  # column widths
  declare -A W
  ALL_KEYS=("${KEYS[@]}" "${TAIL_KEYS[@]}")
  w0=0; for k in "${ALL_KEYS[@]}"; do [ ${#k} -gt $w0 ] && w0=${#k}; done
  for c in "${COLS[@]}"; do
    W[$c]=1
    for k in "${ALL_KEYS[@]}"; do v=${CELL[$c,$k]:--}; [ ${#v} -gt ${W[$c]} ] && W[$c]=${#v}; done
  done
  printf '| %-*s |' "$w0" check; for c in "${COLS[@]}"; do printf ' %-*s |' "${W[$c]}" "${CELL[$c,kernel]:-?}"; done; echo
  printf '|%s|' "$(printf -- '-%.0s' $(seq 1 $((w0+2))))"; for c in "${COLS[@]}"; do printf '%s|' "$(printf -- '-%.0s' $(seq 1 $((W[$c]+2))))"; done; echo
  for k in "${ALL_KEYS[@]:1}"; do
    printf '| %-*s |' "$w0" "$k"
    for c in "${COLS[@]}"; do printf ' %-*s |' "${W[$c]}" "${CELL[$c,$k]:--}"; done; echo
  done
  echo
  for c in "${COLS[@]}"; do
    [ -n "${NOTE[$c]:-}" ] && echo "- ${CELL[$c,kernel]:-?}: ${NOTE[$c]}"
  done
  echo
  echo "Legend: enforced/pass/available/refused/applied = verified; unsupported = the kernel lacks it (fine);"
  echo "skip = not testable here (reason in the serial log); FAIL = enforced but broken, or the probe did not finish."
} >"$REPORT"
echo
cat "$REPORT"
echo
TOTAL=$((SECONDS - T0))
say "booted $BOOTED kernel(s), $FAILS failure(s); preparation ${T_PREP}s, total ${TOTAL}s; logs in $OUT/logs, report in $REPORT"
if [ "$FAILS" -gt 0 ]; then say "FAILED"; exit 1; fi
if [ "$BOOTED" -lt "$MIN_BOOTED" ]; then say "FAILED: only $BOOTED kernel(s) ran the probe (KM_MIN_BOOTED=$MIN_BOOTED)"; exit 1; fi
say "OK"
exit 0

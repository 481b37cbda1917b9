#!/usr/bin/env bash
# Package tests (make test-packages; docs/install.md). Root only. Installs
# the built .deb and .rpm into throwaway roots and never touches the host:
# everything runs in a private mount namespace, and each root is an
# overlay of / whose upper layer is a tmpfs (it vanishes with the
# namespace; tmpfs keeps security.capability xattrs, so postinst's setcap
# and rpm's %caps run for real). In a root, bdexec runs as a freshly
# created unprivileged user (setpriv --init-groups).
#
#   deb: install (caps, no setuid bit, modes; /usr/bin/bdexec static, its
#        twin /usr/libexec/belladonna/bdexec-pam dynamic, both with the
#        capabilities), the default policy denies with exit 1 and a
#        durable audit record, an allowing policy works, a call that needs
#        PAM is refused while the twin lacks its capabilities or is
#        missing, upgrade to a rebuilt package keeps the edited policy
#        and the log, upgrade over a world-writable policy keeps it and
#        bdexec still refuses it, remove keeps policy and log, purge
#        removes the rest
#   deb on ramfs (no xattrs): postinst fails loudly, naming the cause
#   rpm: rpm -qp --filecaps --scripts, then rpm --root: caps (bdexec and
#        its twin), static and dynamic, a denial
#   gate: a vulnerable dependency pinned in a scratch manifest fails
#        cargo deny, cargo audit and (unaudited) cargo vet
#
# Needs: the packages (make deb rpm), dpkg, rpm, setcap, readelf
# (binutils), cargo-deny and cargo-audit (make gate-tools).
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"

if [ "$(id -u)" != 0 ]; then
    echo "test-packages: needs root (mount namespaces, overlays, loop devices)" >&2
    exit 1
fi
# Re-run in a private mount namespace: every mount below dies with it.
if [ -z "${BD_PKGTEST_NS:-}" ]; then
    exec unshare --mount --propagation private env BD_PKGTEST_NS=1 "$0" "$@"
fi

shopt -s nullglob
debs=(target/debian/belladonna_*_amd64.deb)
rpms=(target/generate-rpm/belladonna-*.rpm)
[ ${#debs[@]} = 1 ] || { echo "test-packages: want one target/debian/belladonna_*.deb (make deb), found ${#debs[@]}" >&2; exit 1; }
[ ${#rpms[@]} = 1 ] || { echo "test-packages: want one target/generate-rpm/belladonna-*.rpm (make rpm), found ${#rpms[@]}" >&2; exit 1; }
DEB="$root_dir/${debs[0]}"
RPM="$root_dir/${rpms[0]}"
CAPS_RE='cap_setgid,cap_setuid,cap_setpcap,cap_net_bind_service=p'
CAPS='cap_setuid,cap_setgid,cap_setpcap,cap_net_bind_service=p'
# The static bdexec execs its dynamically linked twin for PAM.
TWIN=/usr/libexec/belladonna/bdexec-pam

work="$(mktemp -d /tmp/bd-pkgtest.XXXXXX)"
mount -t tmpfs -o size=2g,mode=0755 bd-pkgtest "$work"
trap 'umount -lR "$work" 2>/dev/null; rmdir "$work" 2>/dev/null || true' EXIT
# A copy: rebuilding a revision (cargo deb) empties target/debian/.
DEB_NAME="${DEB##*/}"
cp "$DEB" "$work/belladonna.deb"
DEB="$work/belladonna.deb"
passed=0
failed=0
started=$SECONDS

ok() {
    passed=$((passed + 1))
    echo "ok   $*"
}
bad() {
    failed=$((failed + 1))
    echo "FAIL $*" >&2
}
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    local what="$1"
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

# static_elf FILE / dynamic_elf FILE: whether FILE has a program
# interpreter (PT_INTERP); an unreadable FILE is neither.
static_elf() {
    local h
    h="$(readelf -lW "$1")" || return 1
    ! grep -q '^ *INTERP ' <<<"$h"
}
dynamic_elf() {
    local h
    h="$(readelf -lW "$1")" || return 1
    grep -q '^ *INTERP ' <<<"$h"
}

# A fresh overlay of / at $work/$1/root, with its own /proc, /dev, /tmp
# and /run, no host belladonna state, and a fresh user bdpkg.
new_root() {
    local n="$work/$1"
    mkdir -p "$n/upper" "$n/work" "$n/root"
    mount -t overlay "bd-$1" -o "lowerdir=/,upperdir=$n/upper,workdir=$n/work" "$n/root"
    mount -t proc proc "$n/root/proc"
    mount --bind /dev "$n/root/dev"
    mount -t tmpfs -o mode=1777 tmp "$n/root/tmp"
    mount -t tmpfs -o mode=0755 run "$n/root/run"
    rm -rf "$n/root/etc/belladonna" "$n/root/var/log/belladonna" "$n/root/var/lib/belladonna"
    chroot "$n/root" useradd --create-home --shell /bin/sh bdpkg >&2
    echo "$n/root"
}

# as_user ROOT ARGS...: runs ARGS as bdpkg inside ROOT; stdout, stderr
# and the exit status land in $out, $err, $rc.
as_user() {
    local r="$1"
    shift
    local uid
    uid="$(chroot "$r" id -u bdpkg)"
    set +e
    out="$(chroot "$r" setpriv --reuid="$uid" --regid="$uid" --init-groups --reset-env "$@" 2>"$work/stderr")"
    rc=$?
    set -e
    err="$(cat "$work/stderr")"
}

test_deb() {
    local r log
    r="$(new_root deb)"
    cp "$DEB" "$r/tmp/belladonna.deb"
    log="$work/dpkg.log"

    check "deb: dpkg -i installs" chroot "$r" dpkg -i /tmp/belladonna.deb
    check "deb: getcap shows bdexec's capabilities" \
        bash -c "getcap '$r/usr/bin/bdexec' | grep -q '$CAPS_RE'"
    check "deb: bdexec has no setuid/setgid bit (mode 0755 root:root)" \
        test "$(stat -c '%a %U:%G' "$r/usr/bin/bdexec")" = "755 root:root"
    check "deb: getcap shows the twin's capabilities ($TWIN)" \
        bash -c "getcap '$r$TWIN' | grep -q '$CAPS_RE'"
    check "deb: the twin has no setuid/setgid bit, its directory is root's (0755 root:root)" \
        test "$(stat -c '%a %U:%G' "$r$TWIN" "$r${TWIN%/*}" | sort -u)" = "755 root:root"
    check "deb: /usr/bin/bdexec is static (no PT_INTERP)" static_elf "$r/usr/bin/bdexec"
    check "deb: the twin is dynamically linked (PT_INTERP)" dynamic_elf "$r$TWIN"
    check "deb: /usr/sbin/bdctl installed" test -x "$r/usr/sbin/bdctl"
    check "deb: policy.toml is 0600 root and a conffile" bash -c \
        "[ \"\$(stat -c '%a %U' '$r/etc/belladonna/policy.toml')\" = '600 root' ] && grep -qx /etc/belladonna/policy.toml '$r/var/lib/dpkg/info/belladonna.conffiles'"
    check "deb: /run, /var/log, /var/lib belladonna dirs are 0700 root" bash -c \
        "for d in run/belladonna var/log/belladonna var/lib/belladonna; do [ \"\$(stat -c '%a %U' '$r'/\$d)\" = '700 root' ] || exit 1; done"
    check "deb: completions, man pages, tmpfiles, units, catalog, PAM" bash -c \
        "cd '$r' && test -f usr/share/bash-completion/completions/bdctl -a -f usr/share/zsh/vendor-completions/_bdexec \
         -a -f usr/share/fish/vendor_completions.d/bdctl.fish -a -f usr/share/man/man8/bdexec.8.gz \
         -a -f usr/lib/tmpfiles.d/belladonna.conf -a -f lib/systemd/system/belladonna-metrics.timer -a -f lib/systemd/system/belladonna-audit-rotate.timer \
         -a -f usr/lib/systemd/catalog/belladonna.catalog -a -f etc/pam.d/belladonna \
         -a -f usr/share/belladonna/prometheus/belladonna-slo.rules.yml"
    check "deb: systemd-tmpfiles re-creates /run/belladonna 0700 (as at boot)" bash -c \
        "rm -rf '$r/run/belladonna' && chroot '$r' systemd-tmpfiles --create belladonna.conf && [ \"\$(stat -c '%a %U' '$r/run/belladonna')\" = '700 root' ]"
    check "deb: systemd-analyze verify accepts the units" \
        chroot "$r" systemd-analyze verify --man=no /lib/systemd/system/belladonna-metrics.service /lib/systemd/system/belladonna-metrics.timer \
            /lib/systemd/system/belladonna-audit-rotate.service /lib/systemd/system/belladonna-audit-rotate.timer

    # The installed default policy denies, with exit 1 and a record.
    as_user "$r" /usr/bin/bdexec -n -- /usr/bin/id -u
    check "deb: default policy denies with exit 1 (got $rc: $err)" test "$rc" = 1
    check "deb: the refusal is one stderr line" test "$(printf '%s\n' "$err" | wc -l)" = 1
    check "deb: the refusal is in the audit log" bash -c \
        "grep '\"event\":\"reject\"' '$r/var/log/belladonna/audit.jsonl' | grep -q '\"submituser\":\"bdpkg\"'"
    check "deb: bdctl audit verify passes" chroot "$r" bdctl audit verify

    # An allowing policy works.
    cat >"$r/etc/belladonna/policy.toml" <<'POLICY'
version = 1
[[rule]]
name = "pkgtest"
users = ["bdpkg"]
commands = ["/usr/bin/id -u"]
auth = "none"
POLICY
    as_user "$r" /usr/bin/bdexec -n -- /usr/bin/id -u
    check "deb: an allowing policy runs the command as root (rc $rc, out '$out', err '$err')" \
        test "$rc:$out" = "0:0"

    # A call that needs PAM goes through the twin: PAM's account stage on
    # every call (pam_account_memo = false, so no earlier verdict is
    # reused). Without the twin's capabilities, then without the twin,
    # bdexec refuses (an exit status, not a signal) and the command does
    # not run; restored, it runs.
    cp -p "$r/etc/belladonna/policy.toml" "$work/policy.saved"
    { head -n 1 "$work/policy.saved"; printf '[defaults]\npam_account_memo = false\n'; tail -n +2 "$work/policy.saved"; } \
        >"$r/etc/belladonna/policy.toml"
    as_user "$r" /usr/bin/bdexec -n -- /usr/bin/id -u
    check "deb: a call through PAM (the twin) runs (rc $rc, out '$out', err '$err')" test "$rc:$out" = "0:0"
    setcap -r "$r$TWIN"
    as_user "$r" /usr/bin/bdexec -n -- /usr/bin/id -u
    check "deb: the twin without capabilities: refused, not run (rc $rc, out '$out', err '$err')" \
        test "$rc" != 0 -a "$rc" -lt 128 -a -z "$out"
    setcap "$CAPS" "$r$TWIN"
    mv "$r$TWIN" "$work/bdexec-pam.saved"
    as_user "$r" /usr/bin/bdexec -n -- /usr/bin/id -u
    check "deb: the twin missing: refused, not run (rc $rc, out '$out', err '$err')" \
        test "$rc" != 0 -a "$rc" -lt 128 -a -z "$out"
    mv "$work/bdexec-pam.saved" "$r$TWIN"
    as_user "$r" /usr/bin/bdexec -n -- /usr/bin/id -u
    check "deb: the twin restored: the call through PAM runs again (rc $rc, out '$out', err '$err')" \
        test "$rc:$out" = "0:0"
    cp -p "$work/policy.saved" "$r/etc/belladonna/policy.toml"
    local records
    records="$(wc -l <"$r/var/log/belladonna/audit.jsonl")"

    # Upgrade to a rebuilt package (a new revision of the same build).
    (cd "$root_dir" && cargo deb --no-build --no-strip --deb-revision 2 -o "$r/tmp/belladonna-2.deb") >"$log" 2>&1 ||
        { cat "$log" >&2; bad "deb: rebuild a revision 2 package"; }
    check "deb: upgrade to revision 2" chroot "$r" dpkg -i /tmp/belladonna-2.deb
    check "deb: upgrade kept the edited policy" grep -q 'name = "pkgtest"' "$r/etc/belladonna/policy.toml"
    check "deb: upgrade kept the audit log" test "$(wc -l <"$r/var/log/belladonna/audit.jsonl")" -ge "$records"
    check "deb: upgrade re-applied the capabilities" bash -c "getcap '$r/usr/bin/bdexec' | grep -q '$CAPS_RE'"
    check "deb: upgrade re-applied the twin's capabilities" bash -c "getcap '$r$TWIN' | grep -q '$CAPS_RE'"
    as_user "$r" /usr/bin/bdexec -n -- /usr/bin/id -u
    check "deb: the command still runs after the upgrade" test "$rc:$out" = "0:0"

    # Upgrade (to revision 3) over a world-writable policy: kept as is,
    # named by postinst, and bdexec still refuses it.
    chmod 0666 "$r/etc/belladonna/policy.toml"
    (cd "$root_dir" && cargo deb --no-build --no-strip --deb-revision 3 -o "$r/tmp/belladonna-3.deb") >"$log" 2>&1 ||
        { cat "$log" >&2; bad "deb: rebuild a revision 3 package"; }
    set +e
    chroot "$r" dpkg -i /tmp/belladonna-3.deb >"$log" 2>&1
    local drc=$?
    set -e
    check "deb: upgrade over a world-writable policy succeeds" test "$drc" = 0
    check "deb: postinst names the world-writable policy" grep -q "policy.toml is writable by group or others" "$log"
    check "deb: the world-writable policy is kept (content and mode)" bash -c \
        "grep -q 'name = \"pkgtest\"' '$r/etc/belladonna/policy.toml' && [ \"\$(stat -c %a '$r/etc/belladonna/policy.toml')\" = 666 ]"
    as_user "$r" /usr/bin/bdexec -n -- /usr/bin/id -u
    # A user is told only that the policy could not be loaded (issue 8
    # item 7); the reason is in the audit record (and syslog/journald).
    check "deb: bdexec refuses the world-writable policy (rc $rc: $err)" bash -c \
        "[ '$rc' = 3 ] && printf '%s' \"\$1\" | grep -q 'the policy could not be loaded'" _ "$err"
    check "deb: the refusal's record names the world-writable policy" \
        grep -q 'writable by group or others' "$r/var/log/belladonna/audit.jsonl"
    chmod 0600 "$r/etc/belladonna/policy.toml"
    # The rebuilds emptied target/debian/: put the package back.
    cp "$DEB" "$root_dir/target/debian/$DEB_NAME"

    # Remove keeps policy and log; purge removes what the package made.
    check "deb: dpkg -r" chroot "$r" dpkg -r belladonna
    check "deb: remove deleted the binaries (and the twin's directory)" bash -c \
        "[ ! -e '$r/usr/bin/bdexec' ] && [ ! -e '$r$TWIN' ] && [ ! -e '$r${TWIN%/*}' ] && [ ! -e '$r/usr/sbin/bdctl' ]"
    check "deb: remove kept the policy and the audit log" \
        test -f "$r/etc/belladonna/policy.toml" -a -s "$r/var/log/belladonna/audit.jsonl"
    check "deb: dpkg -P" chroot "$r" dpkg -P belladonna
    check "deb: purge removed binaries (and with them the capabilities), policy, /run state" bash -c \
        "[ ! -e '$r/usr/bin/bdexec' ] && [ ! -e '$r/etc/belladonna/policy.toml' ] && [ ! -e '$r/run/belladonna' ] \
         && ! getcap -r '$r/usr/bin' '$r/usr/libexec' 2>/dev/null | grep -q bdexec"
    check "deb: purge kept the audit log (documented)" test -s "$r/var/log/belladonna/audit.jsonl"
}

# A filesystem without extended attributes: ramfs (this kernel has no
# vfat; ramfs has no xattr handlers at all, so setcap gets EOPNOTSUPP).
# dpkg installs into it with its admin directory elsewhere and runs the
# real postinst outside a chroot (DPKG_ROOT = the ramfs).
test_deb_noxattr() {
    local mnt="$work/noxattr" admin="$work/noxattr-admin" log="$work/noxattr.log"
    mkdir -p "$mnt" "$admin/info" "$admin/updates" "$admin/triggers"
    touch "$admin/status"
    mount -t ramfs -o mode=0755 bd-noxattr "$mnt"
    set +e
    dpkg --instdir="$mnt" --admindir="$admin" --force-script-chrootless --force-depends \
        -i "$DEB" >"$log" 2>&1
    local drc=$?
    set -e
    check "deb without xattrs: dpkg fails (exit $drc)" test "$drc" != 0
    check "deb without xattrs: postinst says setcap failed and why" bash -c \
        "grep -q 'belladonna: ERROR: setcap .* failed: .*Operation not supported' '$log' && grep -q 'extended attributes' '$log'"
    check "deb without xattrs: the package is left half-configured" \
        bash -c "dpkg --admindir='$admin' -s belladonna 2>/dev/null | grep -q '^Status: install ok half-configured'"
    check "deb without xattrs: bdexec and its twin carry no capabilities" bash -c \
        "! getcap '$mnt/usr/bin/bdexec' '$mnt$TWIN' | grep -q cap_"
    cat "$log"
    umount "$mnt"
}

test_rpm() {
    local r qp
    qp="$(rpm -qp --filecaps --scripts "$RPM")"
    check "rpm: -qp --filecaps shows bdexec's capabilities" bash -c \
        "printf '%s\n' \"\$1\" | grep -q '^/usr/bin/bdexec[[:space:]]*$CAPS_RE'" _ "$qp"
    check "rpm: -qp --filecaps shows the twin's capabilities" bash -c \
        "printf '%s\n' \"\$1\" | grep -q '^$TWIN[[:space:]]*$CAPS_RE'" _ "$qp"
    check "rpm: -qp --scripts shows %post and %postun" bash -c \
        "printf '%s\n' \"\$1\" | grep -q '^postinstall scriptlet' && printf '%s\n' \"\$1\" | grep -q '^postuninstall scriptlet'" _ "$qp"
    check "rpm: policy.toml is %config(noreplace), mode 0600" bash -c \
        "rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEMODES:perms}\n]' '$RPM' | grep -q '^/etc/belladonna/policy.toml cn -rw-------$'"

    r="$(new_root rpm)"
    cp "$RPM" "$r/tmp/belladonna.rpm"
    rpm --root "$r" --initdb
    # --nodeps: the throwaway root's rpm database knows no other package.
    check "rpm: rpm --root -i installs" rpm --root "$r" -i --nodeps "$r/tmp/belladonna.rpm"
    check "rpm: the capability xattr is on the installed bdexec" bash -c \
        "getcap '$r/usr/bin/bdexec' | grep -q '$CAPS_RE'"
    check "rpm: no setuid bit" test "$(stat -c '%a' "$r/usr/bin/bdexec")" = 755
    check "rpm: the capability xattr is on the installed twin" bash -c \
        "getcap '$r$TWIN' | grep -q '$CAPS_RE'"
    check "rpm: the twin has no setuid bit, its directory is root's (0755 root:root)" \
        test "$(stat -c '%a %U:%G' "$r$TWIN" "$r${TWIN%/*}" | sort -u)" = "755 root:root"
    check "rpm: /usr/bin/bdexec is static (no PT_INTERP)" static_elf "$r/usr/bin/bdexec"
    check "rpm: the twin is dynamically linked (PT_INTERP)" dynamic_elf "$r$TWIN"
    check "rpm: %post made the 0700 directories" bash -c \
        "for d in run/belladonna var/log/belladonna var/lib/belladonna; do [ \"\$(stat -c '%a' '$r'/\$d)\" = 700 ] || exit 1; done"
    as_user "$r" /usr/bin/bdexec -n -- /usr/bin/id -u
    check "rpm: default policy denies with exit 1 (got $rc: $err)" test "$rc" = 1
    echo "# edited" >>"$r/etc/belladonna/policy.toml"
    check "rpm: rpm -e" rpm --root "$r" -e belladonna
    check "rpm: erase removed bdexec, the twin and its directory, and kept the edited policy as .rpmsave and the log" bash -c \
        "[ ! -e '$r/usr/bin/bdexec' ] && [ ! -e '$r$TWIN' ] && [ ! -e '$r${TWIN%/*}' ] && grep -q '# edited' '$r/etc/belladonna/policy.toml.rpmsave' && [ -s '$r/var/log/belladonna/audit.jsonl' ]"
    check "rpm: erase left no empty directory of the package's under /usr/share" bash -c \
        "[ ! -e '$r/usr/share/belladonna' ] && [ ! -e '$r/usr/share/doc/belladonna' ]"
}

# The supply-chain gates can fail: a scratch copy of the manifest with one
# dependency pinned to a version that has a RustSec advisory.
test_vulnerable_dep() {
    local s="$work/vuln"
    mkdir -p "$s"
    cp -r Cargo.toml Cargo.lock supply-chain "$s/"
    ln -s "$root_dir/src" "$root_dir/benches" "$s/"
    # smallvec 1.6.0: RUSTSEC-2021-0003 (buffer overflow in insert_many).
    sed -i 's/^\[dependencies\]$/[dependencies]\nsmallvec = "=1.6.0"/' "$s/Cargo.toml"
    # Adds smallvec to the scratch lock file (fetches it from crates.io
    # once; the rest of the lock file is unchanged).
    (cd "$s" && cargo metadata --format-version 1 >/dev/null 2>"$s/lock.log") ||
        { cat "$s/lock.log" >&2; bad "gate: lock the scratch manifest"; return; }
    set +e
    MANIFEST="$s/Cargo.toml" scripts/gates.sh deny >"$s/deny.log" 2>&1
    local deny_rc=$?
    MANIFEST="$s/Cargo.toml" scripts/gates.sh audit >"$s/audit.log" 2>&1
    local audit_rc=$?
    MANIFEST="$s/Cargo.toml" scripts/gates.sh vet >"$s/vet.log" 2>&1
    local vet_rc=$?
    set -e
    check "gate: cargo deny fails on the vulnerable dependency (exit $deny_rc)" bash -c \
        "[ $deny_rc != 0 ] && grep -q 'RUSTSEC-2021-0003' '$s/deny.log'"
    check "gate: cargo audit fails on the vulnerable dependency (exit $audit_rc)" bash -c \
        "[ $audit_rc != 0 ] && grep -q 'RUSTSEC-2021-0003' '$s/audit.log'"
    check "gate: cargo vet fails on the new, unaudited dependency (exit $vet_rc)" bash -c \
        "[ $vet_rc != 0 ] && grep -q 'smallvec' '$s/vet.log'"
    [ "$deny_rc" != 0 ] && [ "$audit_rc" != 0 ] && [ "$vet_rc" != 0 ] || cat "$s/deny.log" "$s/audit.log" "$s/vet.log" >&2
}

only="${1:-all}"
case "$only" in
all) test_deb; test_deb_noxattr; test_rpm; test_vulnerable_dep ;;
deb) test_deb ;;
noxattr) test_deb_noxattr ;;
rpm) test_rpm ;;
gate) test_vulnerable_dep ;;
*) echo "usage: $0 [all|deb|noxattr|rpm|gate]" >&2; exit 2 ;;
esac

echo "test-packages: $((SECONDS - started))s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

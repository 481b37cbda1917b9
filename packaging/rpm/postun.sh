# belladonna %postun: on erase ($1 = 0), remove the per-boot state and the
# directories the package created that are now empty (rpm removed the
# twin but not /usr/libexec/belladonna, nor the Prometheus rules' and the
# documentation's directories: the package does not own them). The
# audit log, the key-epoch marker, keys and an edited policy (rpm keeps
# it as policy.toml.rpmsave) are never deleted (docs/install.md).
if [ "$1" = 0 ]; then
    rm -rf /run/belladonna
    rmdir /usr/libexec/belladonna 2>/dev/null || :
    rmdir /usr/share/belladonna/prometheus /usr/share/belladonna /usr/share/doc/belladonna 2>/dev/null || :
    for d in /etc/belladonna/policy.d /etc/belladonna /var/lib/belladonna /var/log/belladonna; do
        [ -d "$d" ] || continue
        rmdir "$d" 2>/dev/null || echo "belladonna: kept $d (not empty)" >&2
    done
fi

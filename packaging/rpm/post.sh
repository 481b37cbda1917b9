# belladonna %post (rpm sets the file capabilities of bdexec and of its
# twin /usr/libexec/belladonna/bdexec-pam from the payload; see
# packaging/deb/postinst for the Debian side). The directories are
# root's alone; a group- or world-writable policy is kept but named.
install -d -m 0755 /etc/belladonna/policy.d
for d in /run/belladonna /var/log/belladonna /var/lib/belladonna; do
    install -d -m 0700 -o root -g root "$d"
done
if [ -n "$(find /etc/belladonna/policy.toml -prune -perm /022 2>/dev/null)" ]; then
    echo "belladonna: WARNING: /etc/belladonna/policy.toml is writable by group or others: bdexec refuses it until you run: chmod 0600 /etc/belladonna/policy.toml" >&2
fi
if command -v journalctl >/dev/null 2>&1; then
    journalctl --update-catalog >/dev/null 2>&1 || :
fi

#!/bin/bash
# Reproduce, without bdexec, an acknowledged append lost in a simulated
# power cut on ext4 (docs/durability.md, "After the sync, the file system
# must still answer"). Root; losetup, mkfs.ext4, xfs_io, python3.
#
# usage: run.sh [RECORD_BYTES] [locked|group]
# Six writers append RECORD_BYTES lines (open, flock, pread the tail,
# write, fdatasync under the lock ("locked") or after it ("group"),
# close), each noting the lines whose fdatasync succeeded and whether an
# open(2) on the file system worked right after ("up") or failed
# ("down": it was already shut down). After 2 s: EXT4_IOC_SHUTDOWN
# without a log flush, remount, and every noted line is looked for.
# Output: one "LOST tag up|down" per noted line missing, then a summary.
# Every loss seen here was "down".
set -eu
reclen=${1:-1200} mode=${2:-group}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /var/tmp/powercut.XXXXXX)
cd "$work"; mkdir mnt
truncate -s 64M img; mkfs.ext4 -q -F img
loop=$(losetup -f --show img)
trap 'umount "$work/mnt" 2>/dev/null; losetup -d "$loop"; rm -rf "$work"' EXIT
mount "$loop" mnt
head -c 3000 /dev/urandom | base64 -w0 > mnt/log; echo >> mnt/log
touch mnt/probe; sync
for w in 1 2 3 4 5 6; do python3 "$here/writer.py" mnt/log "w$w" 400 "$reclen" "$mode" "$work/ran-w$w" & done
sleep 2; xfs_io -x -c shutdown mnt; wait
umount mnt; mount "$loop" mnt
lost=0; ran=0
for tt in $(cat ran-* | awk '$1=="ran"{print $2 ":" $4}'); do
  t=${tt%:*}; st=${tt#*:}; ran=$((ran+1))
  grep -q "\"tag\":\"$t\"" mnt/log || { lost=$((lost+1)); echo "LOST $t $st"; }
done
echo "acknowledged=$ran lost=$lost"

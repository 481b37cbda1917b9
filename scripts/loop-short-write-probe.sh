#!/bin/bash
# Reproduce, without ext4 or bdexec, the write a loop device reports done
# but never stored (docs/durability.md, ENOSPC at fdatasync): a loop
# device over a file on a full tmpfs, one 8 KiB write whose first page
# exists in the tmpfs and whose second is a hole with no space for it.
# The tmpfs takes the first page and refuses the second (a short write);
# the loop driver reports the whole request as done. With requests of at
# most 4 KiB (queue/max_sectors_kb) the same write fails with ENOSPC.
# Root; losetup, fallocate, python3. Seen on 6.18:
#   default requests: pwrite -> 8192, fsync ok, second page: zeros
#   4 KiB requests:   pwrite -> [Errno 28] No space left on device
set -eu
work=$(mktemp -d /var/tmp/loop-short-write.XXXXXX)
trap 'rm -rf "$work"' EXIT
probe() { # $1: max_sectors_kb or "" for the default
  unshare -m --propagation private /bin/bash -eu -c '
    work=$1 maxkb=$2
    mount -t tmpfs -o size=1m tmpfs "$work"
    dd if=/dev/zero of="$work/img" bs=4k count=128 2>/dev/null  # 512 KiB, every page present
    fallocate -p -o 262144 -l 262144 "$work/img"                  # second half: holes
    dd if=/dev/zero of="$work/fill" bs=4k 2>/dev/null || true       # the tmpfs is full
    loop=$(losetup -f --show "$work/img")
    q=/sys/block/${loop#/dev/}/queue/max_sectors_kb; old=$(cat "$q")
    trap "echo $old > $q; losetup -d $loop; umount $work" EXIT
    [ -z "$maxkb" ] || echo "$maxkb" > "$q"
    echo "max_sectors_kb=$(cat "$q") dio=$(cat /sys/block/${loop#/dev/}/loop/dio)"
    python3 - "$loop" "$work/img" <<"PY"
import mmap, os, sys
dev, img = sys.argv[1], sys.argv[2]
fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 8192); buf.write(b"A" * 4096 + b"B" * 4096)
try:
    print("  pwrite 8 KiB at 252 KiB (page 63 present, page 64 a hole) ->", os.pwrite(fd, buf, 252 * 1024))
except OSError as e:
    print("  pwrite ->", e)
try:
    os.fsync(fd); print("  fsync ok")
except OSError as e:
    print("  fsync ->", e)
os.close(fd)
with open(img, "rb") as f:
    f.seek(256 * 1024); page = f.read(4096)
print("  page 64 of the backing file:", "zeros" if page == bytes(4096) else "stored")
PY
  ' probe "$work" "$1"
}
echo "default requests:"; probe ""
echo "4 KiB requests:"; probe 4

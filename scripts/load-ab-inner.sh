#!/usr/bin/env bash
# The inside of `make load-ab` (scripts/load-ab.sh), run by
# scripts/bench.sh in its namespace: install the base build as bench.sh
# installed this checkout's (bin/bdexec and its twin at
# ../libexec/belladonna/bdexec-pam, with the capabilities), under
# base/, then run `make load`'s driver with it as the row `bdexec-b`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
d=$(dirname "$(dirname "$BELLADONNA_BENCH_BDEXEC")")
caps=cap_setuid,cap_setgid,cap_setpcap,cap_net_bind_service=p
install -d -m 0755 "$d/base" "$d/base/bin" "$d/base/libexec" "$d/base/libexec/belladonna"
install -m 0755 "$AB_BASE_STATIC" "$d/base/bin/bdexec"
install -m 0755 "$AB_BASE_TWIN" "$d/base/libexec/belladonna/bdexec-pam"
setcap "$caps" "$d/base/bin/bdexec"
setcap "$caps" "$d/base/libexec/belladonna/bdexec-pam"
BELLADONNA_LOAD_BDEXEC_B="$d/base/bin/bdexec" exec "$here/target/bench/load-driver"

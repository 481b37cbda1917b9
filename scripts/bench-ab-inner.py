#!/usr/bin/env python3
"""The measuring half of `make bench-ab` (scripts/bench-ab.sh), run by
scripts/bench.sh inside its namespace as root: this checkout's bdexec
(BELLADONNA_BENCH_BDEXEC, installed by bench.sh) against a base build
(AB_BASE_STATIC and its twin AB_BASE_TWIN, installed here the same way),
with the floor (scripts/bench-floor.c) beside them.

Each build gets a mount namespace of its own, kept open as a file, whose
/run is a directory of its own: the policy cache and the memos key on
the build, and sharing one /run would rebuild them on every call. /etc,
the audit log and the state directory are the bench's, shared. Every
call of each tool is `nsenter --mount=<ns> setpriv --reuid ... <tool>
/usr/bin/true`, timed whole; the order rotates from round to round.
Printed: each tool's median, the paired medians of the differences and
ratios, and in how many rounds the new build was faster."""
import os
import shutil
import statistics
import subprocess
import sys
import time

UID = os.environ.get("BELLADONNA_BENCH_UID", "61900")
GID = os.environ.get("BELLADONNA_BENCH_GID", "61900")
CAPS = "cap_setuid,cap_setgid,cap_setpcap,cap_net_bind_service=p"


def main():
    new = os.environ["BELLADONNA_BENCH_BDEXEC"]
    d = os.path.dirname(os.path.dirname(new))
    floor = os.environ.get("BELLADONNA_BENCH_FLOOR")
    floor_log = os.environ.get("BELLADONNA_BENCH_FLOOR_LOG")
    rounds = int(os.environ.get("AB_ROUNDS", "500"))

    # The base as bench.sh installs the new one: bin/bdexec and its twin
    # at ../libexec/belladonna/bdexec-pam, root's, with the capabilities.
    base = f"{d}/base/bin/bdexec"
    twin = f"{d}/base/libexec/belladonna/bdexec-pam"
    for p in (f"{d}/base/bin", f"{d}/base/libexec/belladonna"):
        os.makedirs(p, 0o755, exist_ok=True)
    for p in (f"{d}/base", f"{d}/base/bin", f"{d}/base/libexec", f"{d}/base/libexec/belladonna"):
        os.chmod(p, 0o755)
    for src, dst in ((os.environ["AB_BASE_STATIC"], base), (os.environ["AB_BASE_TWIN"], twin)):
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755)
        subprocess.run(["setcap", CAPS, dst], check=True)

    ns = {}
    for k in ("new", "base"):
        run = f"{d}/run-{k}"
        os.makedirs(run, 0o755, exist_ok=True)
        ns[k] = f"{d}/ns-{k}"
        open(ns[k], "w").close()
        r = subprocess.run(
            ["unshare", f"--mount={ns[k]}", "--propagation", "private",
             "mount", "--bind", run, "/run"],
            capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"bench-ab: cannot make the {k} namespace: {r.stderr.strip()}")
    # AB_ARGS: arguments after /usr/bin/true, to pick another rule of
    # the bench policy (`sandboxed`, `monitored`); true ignores them.
    args = os.environ.get("AB_ARGS", "").split()
    tools = {"new": (ns["new"], [new, "/usr/bin/true"] + args),
             "base": (ns["base"], [base, "/usr/bin/true"] + args)}
    if floor and floor_log:
        tools["floor"] = (ns["new"], [floor, floor_log, "/usr/bin/true"] + args)

    def call(k):
        space, argv = tools[k]
        cmd = ["nsenter", f"--mount={space}", "setpriv", "--reuid", UID,
               "--regid", GID, "--clear-groups"] + argv
        t = time.perf_counter_ns()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = (time.perf_counter_ns() - t) / 1000.0
        if r.returncode != 0:
            sys.exit(f"bench-ab: {k} failed: {r.stderr.decode(errors='replace').strip()}")
        return dt

    # Build each /run's caches and memos, let them settle (3 s), then
    # one more call each.
    for k in tools:
        for _ in range(3):
            call(k)
    time.sleep(3.3)
    for k in tools:
        call(k)

    load = open("/proc/loadavg").read().split()[:3]
    names = list(tools)
    times = {k: [] for k in names}
    for i in range(rounds):
        order = names[i % len(names):] + names[:i % len(names)]
        for k in order:
            times[k].append(call(k))

    print(f"bench-ab: {rounds} rounds, base {os.environ.get('AB_BASE_NAME', '?')}"
          + (f", /usr/bin/true {' '.join(args)}" if args else "") + "; "
          f"load average before {' '.join(load)}, after "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    print("  each call through nsenter and setpriv (both tools pay them)")
    for k in names:
        print(f"  {k:6} median {statistics.median(times[k]):8.1f} us")
    diff = [a - b for a, b in zip(times["new"], times["base"])]
    faster = sum(1 for x in diff if x < 0)
    q = statistics.quantiles(diff, n=4)
    print(f"  new - base, paired: median {statistics.median(diff):+.1f} us "
          f"(quartiles {q[0]:+.1f} .. {q[2]:+.1f}); new faster in {faster}/{rounds} rounds")
    if "floor" in times:
        for k in ("new", "base"):
            extra = [a - f for a, f in zip(times[k], times["floor"])]
            print(f"  {k} - floor, paired: median {statistics.median(extra):+.1f} us")


if __name__ == "__main__":
    main()

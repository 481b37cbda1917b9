#!/usr/bin/env python3
"""`make profile`, the measuring half (scripts/profile.sh runs it inside
the namespace scripts/bench.sh sets up): where one call's time goes, for
bdexec beside doas, sudo, the physical floor and plain /usr/bin/true,
each started by setpriv as the bench user exactly as `make bench` does.

Part 0 (gcc): what starting a process costs here before any program's
own code runs: scripts/startup-probe.c built without a C library, with
glibc static and with glibc dynamic, each started and reaped in turn,
and the time of one CPUID instruction (glibc's start-up probes the CPU
with it; in a virtual machine it traps to the hypervisor).

Part 1 (python3 only): the calls in turn (A B C D E, A B C D E, ...), and
per call the wall time, the CPU time and minor page faults the kernel
accounted to the process (wait4's rusage: setpriv, then the tool, then
/usr/bin/true, one process). Not the peak RSS: a child of this Python
process inherits its high-water mark at exec; `make bench` reports it.

Part 2 (when perf is installed): one bdexec call's system calls by name
(`perf trace -s`), its page faults by the mapping they fell in and the
code that took them (`perf record -e page-faults -d`), the shared objects
it maps (perf's mmap events), and where the CPU samples of PROFILE_CALLS
calls fall (`perf record -a -g`: user code by object, kernel time by the
system call or fault that entered it). A measurement, never a test.
"""

import collections
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

CALLS = int(os.environ.get("PROFILE_CALLS", "200"))
UID = os.environ["BELLADONNA_BENCH_UID"]
GID = os.environ["BELLADONNA_BENCH_GID"]
BDEXEC = os.environ["BELLADONNA_BENCH_BDEXEC"]
OUT = os.environ.get("PROFILE_OUT", "/tmp")
os.makedirs(OUT, exist_ok=True)
SETPRIV = ["setpriv", "--reuid", UID, "--regid", GID, "--clear-groups"]

tools = {"bdexec": [BDEXEC, "--", "/usr/bin/true"]}
for name, path in (("doas", "/usr/bin/doas"), ("sudo", "/usr/bin/sudo")):
    if os.access(path, os.X_OK):
        tools[name] = [path, "/usr/bin/true"] if name == "doas" else [path, "-n", "/usr/bin/true"]
floor = os.environ.get("BELLADONNA_BENCH_FLOOR")
if floor:
    tools["floor"] = [floor, os.environ["BELLADONNA_BENCH_FLOOR_LOG"], "/usr/bin/true"]
tools["plain"] = ["/usr/bin/true"]


def one(argv):
    """One call: (wall s, cpu s, minor faults, status)."""
    t0 = time.perf_counter()
    pid = os.posix_spawnp(SETPRIV[0], SETPRIV + argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_minflt, status


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


print(f"profile: {os.cpu_count()} cores, {os.uname().release}; load average before: {loadavg()}")


def process_start():
    """Part 0: what starting a process costs here before any program's
    own code runs (scripts/startup-probe.c): no C library, musl's static
    start-up (the static bdexec's C library), glibc's static start-up
    (the floor's), the dynamic loader with libc.so; and one CPUID
    instruction per leaf."""
    gcc = shutil.which("gcc")
    if not gcc:
        print("\nPart 0 skipped: gcc missing (make deps installs it)")
        return
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "startup-probe.c")
    builds = {"no libc (static)": ("nolibc", ["-static", "-nostdlib", "-DPROBE_NOLIBC"]),
              "glibc static": ("static", ["-static"]), "glibc dynamic": ("dynamic", []),
              "cpuid": ("cpuid", ["-DPROBE_CPUID"])}
    musl = shutil.which("musl-gcc")
    if musl:
        builds = {"musl static": ("musl", ["-static"]), **builds}
    else:
        print("\nPart 0: musl-gcc missing (make deps installs musl-tools): no musl row")
    exe = {}
    for name, (file, flags) in builds.items():
        out = os.path.join(OUT, "startup-probe-" + file)
        cc = musl if file == "musl" else gcc
        r = subprocess.run([cc, "-O2", *flags, "-o", out, src], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"\nPart 0: {name} did not build: {r.stderr.strip()[:200]}")
            continue
        exe[name] = out
    starts = {k: v for k, v in exe.items() if k != "cpuid"}
    runs = {k: [] for k in starts}
    for _ in range(CALLS):
        for name, path in starts.items():
            t0 = time.perf_counter()
            pid = os.posix_spawn(path, [path], {})
            _, status, ru = os.wait4(pid, 0)
            runs[name].append((time.perf_counter() - t0, ru.ru_utime + ru.ru_stime, ru.ru_minflt))
    print(f"\nPart 0: starting a process that exits at once, {CALLS} of each in turn "
          f"(posix_spawn from this Python process, wait4)")
    print(f"{'':18} {'wall p50 us':>12} {'cpu us':>8} {'minor faults':>13}")
    for name, v in runs.items():
        print(f"{name:18} {statistics.median(r[0] for r in v) * 1e6:12.0f}"
              f" {statistics.median(r[1] for r in v) * 1e6:8.0f} {statistics.median(r[2] for r in v):13.0f}")
    if "cpuid" in exe:
        r = subprocess.run([exe["cpuid"]], capture_output=True, text=True)
        leaves = ", ".join(f"{a} {b}" for a, b in (line.split() for line in r.stdout.splitlines()))
        print(f"one CPUID instruction, us per leaf: {leaves}")


process_start()
# Warm up (and let the policy settle: the cache's stamps need 3 s).
for argv in tools.values():
    for _ in range(3):
        one(argv)
time.sleep(3.3)
rows = {k: [] for k in tools}
for _ in range(CALLS):
    for k, argv in tools.items():
        rows[k].append(one(argv))
bad = {k: sum(1 for r in v if r[3] != 0) for k, v in rows.items()}
print(f"\nPart 1: {CALLS} calls of each, in turn, started by setpriv as uid {UID}; "
      "whole process (setpriv -> tool -> /usr/bin/true); load average after: " + loadavg())
print(f"{'':8} {'wall p50 ms':>12} {'cpu ms':>8} {'minor faults':>13}"
      f" {'cpu above plain':>16} {'faults above plain':>19}")
med = {k: (statistics.median(r[0] for r in v) * 1e3, statistics.median(r[1] for r in v) * 1e3,
           statistics.median(r[2] for r in v)) for k, v in rows.items()}
for k, (w, c, f) in med.items():
    print(f"{k:8} {w:12.3f} {c:8.3f} {f:13.0f} {c - med['plain'][1]:16.3f}"
          f" {f - med['plain'][2]:19.0f}")
for k, n in bad.items():
    if n:
        print(f"profile: {k} failed {n} of {CALLS} calls: its figures measure a refusal")
print("(cpu: user + system time the kernel accounted to the process, tick-sampled, "
      "so a median of a few ms is coarse; wall: includes waiting for the disk)")

perf = shutil.which("perf")
if not perf:
    print("\nprofile: perf is not installed (apt-get install linux-perf): part 2 skipped")
    sys.exit(0)


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


print("\nPart 2: one bdexec call under perf")
bd = SETPRIV + tools["bdexec"]
one(tools["bdexec"])
time.sleep(3.3)
# System calls by name, for bdexec's process (setpriv's are listed apart).
r = run([perf, "trace", "-s", "-o", f"{OUT}/profile-trace.txt", "--"] + bd)
counts = collections.Counter()
total = 0
try:
    with open(f"{OUT}/profile-trace.txt") as f:
        text = f.read()
    # One block per thread; the exec'd process keeps setpriv's pid and is
    # named after the last program it ran (true), so take every block.
    for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s+(\d+)\s+[\d.]+", text, re.M):
        counts[m.group(1)] += int(m.group(2))
        total += int(m.group(2))
except OSError:
    pass
if total:
    print(f"system calls of setpriv -> bdexec -> true: {total} "
          "(setpriv and true alone, the same way: see the plain line below)")
    print("  " + ", ".join(f"{n} {c}" for n, c in counts.most_common(16)))
    r = run([perf, "trace", "-s", "-o", f"{OUT}/profile-trace-plain.txt", "--"] + SETPRIV + ["/usr/bin/true"])
    with open(f"{OUT}/profile-trace-plain.txt") as f:
        plain = sum(int(m.group(2)) for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s+(\d+)\s+[\d.]+", f.read(), re.M))
    print(f"  plain (setpriv -> true): {plain}")
else:
    print(f"perf trace gave nothing: {r.stderr.strip()[:300]}")

# Page faults by the mapping they fell in and the code that took them,
# for the tool's process image only (after its exec, before true's); the
# same for doas when it is installed (its shared objects beside ours).
def faults(name, argv, comm, n=20):
    pf = f"{OUT}/profile-faults-{name}.data"
    run([perf, "record", "-q", "-e", "page-faults", "-c", "1", "-d", "-a", "-o", pf, "--",
         "sh", "-c", f"for i in $(seq {n}); do {' '.join(SETPRIV + argv)} >/dev/null; done"])
    s = run([perf, "script", "-i", pf, "-F", "comm,addr,ip,sym,dso"])
    by = collections.Counter()
    for line in s.stdout.splitlines():
        if not line.strip().startswith(comm[:15]):
            continue
        objs = re.findall(r"\(([^)]*)\)", line)
        if len(objs) < 2:
            continue
        where = os.path.basename(objs[0]) or objs[0]
        who = os.path.basename(objs[1])
        who = "kernel" if "kernel" in who else ("itself" if who == where else who)
        by[(where, who)] += 1
    tot = sum(by.values())
    if not tot:
        print(f"{name}: perf saw no page fault of a process named {comm}")
        return
    print(f"page faults of the {name} image per call: {tot / n:.0f} (mapping <- code that touched it)")
    for (where, who), c in by.most_common(14 if name == "bdexec" else 6):
        print(f"  {c / n:6.1f}  {where} <- {who}")
    objs = sorted({w for (w, _) in by if w.endswith(".so") or ".so." in w})
    print(f"  shared objects touched: {len(objs)}: {' '.join(objs)}")


comm = os.path.basename(BDEXEC)
faults("bdexec", tools["bdexec"], comm)
if "doas" in tools:
    faults("doas", tools["doas"], "doas")

# CPU samples of many calls, system-wide: bdexec's user code by object,
# its kernel time by what entered the kernel.
cpu = f"{OUT}/profile-cpu.data"
r = run([perf, "record", "-q", "-a", "-g", "-o", cpu, "--",
         "sh", "-c", f"for i in $(seq {CALLS}); do {' '.join(bd)} >/dev/null; done"])
s = run([perf, "script", "-i", cpu, "--comm", comm[:15], "-F", "ip,sym,dso"])
cat = collections.Counter()
samples = 0
for stack in s.stdout.split("\n\n"):
    frames = [f.strip() for f in stack.strip().splitlines() if f.strip()]
    if not frames:
        continue
    samples += 1
    key = None
    for fr in frames:
        m = re.search(r"\s(\S+)\s+\((\S+)\)$", fr)
        if not m:
            continue
        sym = m.group(1)
        if sym.startswith("__x64_sys_") or sym.startswith("__do_sys_"):
            key = "kernel: " + re.sub(r"^__(x64|do)_sys_", "", sym)
            break
        if "page_fault" in sym:
            key = "kernel: page faults"
            break
    if key is None:
        m = re.search(r"\((\S+)\)$", frames[0])
        obj = os.path.basename(m.group(1)) if m else "?"
        key = "kernel: other (exec, exit, scheduling)" if "kernel" in obj else "user: " + obj
    cat[key] += 1
if samples:
    print(f"CPU samples in bdexec's image over {CALLS} calls: {samples} (share by where they fell)")
    for k, c in cat.most_common(16):
        print(f"  {100 * c / samples:5.1f}%  {k}")
print(f"\nprofile: load average at the end: {loadavg()}; perf data in {OUT}")

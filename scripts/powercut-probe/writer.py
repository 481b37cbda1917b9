import os, sys, fcntl, time
"""One writer of scripts/powercut-probe/run.sh: LOG NAME COUNT RECORD_BYTES locked|group OUT."""
log, name, n, reclen, mode, outp = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
out = open(outp, "w", buffering=1)
for i in range(n):
    tag = f"{name}-{i}"
    try:
        fd = os.open(log, os.O_RDWR | os.O_APPEND)
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size: os.pread(fd, min(size, 4096), max(0, size - 4096))
        rec = ('{"tag":"%s",' % tag).encode()
        rec += b'"pad":"' + b'x' * (reclen - len(rec) - 3) + b'"}\n'
        if os.write(fd, rec) != len(rec): raise OSError("short")
        if mode == "locked":
            os.fdatasync(fd); fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            fcntl.flock(fd, fcntl.LOCK_UN); os.fdatasync(fd)
        os.close(fd)
    except OSError as e:
        out.write(f"fail {tag} {e}\n"); continue
    t=time.time_ns()
    try:
        os.close(os.open(os.path.dirname(log)+"/probe", os.O_RDONLY)); sd="up"
    except OSError: sd="down"
    out.write(f"ran {tag} {t} {sd}\n")
    os.system("true")

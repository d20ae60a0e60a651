# Workloads of bench/fuse-session, run as child processes (never from the process that
# serves the mount). Each prints its own timing (seconds) on one line; startup is excluded.
import os, sys, time

cmd = sys.argv[1]
if cmd == 'stat':  # ROOT: os.stat of ROOT/d{0..9}/f{0..999}
    root = sys.argv[2]
    paths = [f'{root}/d{d}/f{i}' for d in range(10) for i in range(1000)]
    t = time.perf_counter()
    for p in paths:
        os.stat(p)
    print(time.perf_counter() - t)
elif cmd == 'create':  # DIR PREFIX N START: at wall time START, N x (create, write 4 KiB, close)
    d, prefix, n, start = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    buf = b'x' * 4096
    while time.time() < start:
        time.sleep(0.0005)
    t0 = time.time()
    for i in range(n):
        fd = os.open(f'{d}/{prefix}{i}', os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
        os.write(fd, buf)
        os.close(fd)
    print(t0, time.time())
elif cmd == 'read':  # FILE DROP: sequential read in 1 MiB calls; DROP=1 drops the file's pages first
    f, drop = sys.argv[2], sys.argv[3] == '1'
    fd = os.open(f, os.O_RDONLY)
    if drop:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    n = 0
    t = time.perf_counter()
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        n += len(b)
    print(time.perf_counter() - t, n)
    os.close(fd)

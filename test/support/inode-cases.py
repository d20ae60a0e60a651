#!/usr/bin/env python3
"""Descriptor and hard-link cases where a path-based session differs from a local filesystem
(issue 21). Usage: inode-cases.py DIR [DIR2]: DIR2 is DIR seen through a second mount of the
volume (default DIR). Runs each case in a fresh subdirectory of DIR and prints
one JSON object {case: result}; the same run on a pfs mount and on a plain directory must agree."""
import json, os, sys, time

def hardlink_write(y='y'):
    """y: the path the second name is opened by (the same directory through a second mount, or not)."""
    fx = os.open('x', os.O_RDWR | os.O_CREAT, 0o644); os.link('x', 'y')
    os.pwrite(fx, b'A' * 8192, 0); first = os.pread(fx, 4, 0)
    fy = os.open(y, os.O_RDWR); os.pwrite(fy, b'B' * 8192, 0); os.close(fy)
    r = [first.decode(), os.pread(fx, 4, 0).decode(), os.pread(fx, 4, 8000).decode()]
    os.close(fx)
    return r

def hardlink_truncate(y='y'):
    fx = os.open('x', os.O_RDWR | os.O_CREAT, 0o644); os.link('x', 'y')
    os.pwrite(fx, b'A' * 8192, 0); os.fsync(fx); os.pread(fx, 4096, 4096)
    fy = os.open(y, os.O_RDWR); os.ftruncate(fy, 0); os.close(fy)
    r = [len(os.pread(fx, 3034, 4096)), os.fstat(fx).st_size]
    os.close(fx)
    return r

def hardlink_second_descriptor_reads_new_size():
    fx = os.open('x', os.O_RDWR | os.O_CREAT, 0o644); os.link('x', 'y')
    os.pwrite(fx, b'A' * 100, 0)
    fy = os.open('y', os.O_RDWR); os.pwrite(fy, b'C' * 300, 100)
    r = [os.fstat(fx).st_size, os.pread(fx, 400, 0).count(b'C'), os.stat('x').st_size]
    os.close(fy); os.close(fx)
    return r

def unlinked_open_file():
    fd = os.open('u', os.O_RDWR | os.O_CREAT, 0o644); os.write(fd, b'hello')
    os.unlink('u')
    st = os.fstat(fd)
    r = [st.st_nlink, st.st_size, os.pread(fd, 5, 0).decode()]
    os.close(fd)
    return r

def fchmod_through_unlinked_name():
    fd = os.open('x', os.O_RDWR | os.O_CREAT, 0o644); os.link('x', 'y'); os.unlink('x')
    os.write(fd, b'data'); os.fsync(fd)
    os.fchmod(fd, 0o600); os.utime(fd, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    os.close(fd)
    st = os.stat('y')
    return [oct(st.st_mode & 0o7777), st.st_mtime_ns, st.st_nlink, st.st_size]

def nanosecond_times():
    open('t', 'w').close()
    os.utime('t', ns=(1_000_000_123_456_789, 1_000_000_987_654_321))
    st = os.stat('t')
    return [st.st_atime_ns, st.st_mtime_ns]

def ctime_changes():
    out = []
    fd = os.open('c', os.O_RDWR | os.O_CREAT, 0o644)
    def changed(fn):
        before = os.stat('c').st_ctime_ns
        time.sleep(0.02)
        fn()
        return os.stat('c').st_ctime_ns > before
    out.append(changed(lambda: os.link('c', 'c2')))
    out.append(changed(lambda: os.unlink('c2')))
    out.append(changed(lambda: os.chmod('c', 0o640)))
    out.append(changed(lambda: os.truncate('c', 10)))
    out.append(changed(lambda: os.pwrite(fd, b'x', 0) and os.fsync(fd)))
    os.close(fd)
    return out

def ctime_rename_and_xattr():
    out = []
    open('r', 'w').close()
    def changed(path_before, fn, path_after):
        before = os.stat(path_before).st_ctime_ns
        time.sleep(0.02)
        fn()
        return os.stat(path_after).st_ctime_ns > before
    out.append(changed('r', lambda: os.rename('r', 'r2'), 'r2'))
    out.append(changed('r2', lambda: os.setxattr('r2', 'user.k', b'v'), 'r2'))
    out.append(changed('r2', lambda: os.chown('r2', 0, 0), 'r2'))
    return out

def fsetxattr_through_unlinked_name():
    fd = os.open('x', os.O_RDWR | os.O_CREAT, 0o644); os.link('x', 'y'); os.unlink('x')
    os.setxattr(fd, 'user.k', b'kept')
    os.close(fd)
    return [os.getxattr('y', 'user.k').decode(), os.stat('y').st_nlink]

def truncate_through_link_then_read_from_other():
    fx = os.open('x', os.O_RDWR | os.O_CREAT, 0o644); os.link('x', 'y')
    os.pwrite(fx, b'A' * 8192, 0); os.pread(fx, 4, 0)
    os.truncate('y', 100)
    r = [len(os.pread(fx, 8192, 0)), os.fstat(fx).st_size, os.stat('x').st_size]
    os.close(fx)
    return r

def removed_directory_and_fifo_open():
    os.mkdir('d', 0o750); fd = os.open('d', os.O_RDONLY)
    os.mkfifo('p', 0o640); fp = os.open('p', os.O_RDWR | os.O_NONBLOCK)
    os.rmdir('d'); os.unlink('p')
    sd, sp = os.fstat(fd), os.fstat(fp)
    r = [sd.st_nlink, oct(sd.st_mode), sp.st_nlink, oct(sp.st_mode)]
    os.close(fd); os.close(fp)
    return r

def removed_directory_on_other_mount():
    os.mkdir('d', 0o750); fd = os.open('d', os.O_RDONLY); os.fstat(fd)
    os.rmdir(other('d'))
    sd = os.fstat(fd)
    os.close(fd)
    return [sd.st_nlink, oct(sd.st_mode)]

# The same directory seen through a second mount of the volume (argv[2]; the directory itself
# on a local disk): coherence across agents, through leases.
OTHER = None

def other(name):
    return os.path.join(OTHER, name)


def hardlink_write_other_mount():
    return hardlink_write(other('y'))

def hardlink_truncate_other_mount():
    return hardlink_truncate(other('y'))

CASES = [hardlink_write_other_mount, hardlink_truncate_other_mount, hardlink_write, hardlink_truncate, hardlink_second_descriptor_reads_new_size, unlinked_open_file,
         fchmod_through_unlinked_name, nanosecond_times, ctime_changes, ctime_rename_and_xattr,
         fsetxattr_through_unlinked_name, truncate_through_link_then_read_from_other,
         removed_directory_and_fifo_open, removed_directory_on_other_mount]

def main():
    global OTHER
    root = sys.argv[1]
    other_root = sys.argv[2] if len(sys.argv) > 2 else root
    out = {}
    for case in CASES:
        d = os.path.join(root, case.__name__)
        os.makedirs(d)
        os.chdir(d)
        OTHER = os.path.join(other_root, case.__name__)
        try:
            out[case.__name__] = case()
        except OSError as e:
            out[case.__name__] = 'error ' + (os.strerror(e.errno) if e.errno else str(e))
    print(json.dumps(out))

main()

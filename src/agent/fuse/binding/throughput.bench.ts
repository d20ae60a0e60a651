// Sequential dd throughput through a do-nothing FUSE mount (writes discarded,
// reads answer zeros), for a few option sets; then, with pfs's options, writes
// that are copied into reused 1 MiB buffers, and copied and hashed (zlib.crc32
// of the copied bytes), as the agent's writeback does before it replies: what a
// write handler's per-byte work costs on the round trip. Root only; prints MB/s.
// Run: node --import tsx src/agent/fuse/binding/throughput.bench.ts [sizeMiB]

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

import { createFuseMount, forceUnmount, type CreateFuseMountOptions, type FuseOps } from './index.js';

const sizeMiB = Number(process.argv[2] ?? 1024);

type WriteWork = 'none' | 'copy' | 'copy+crc32';
/** Answer getxattr (ENODATA): the kernel then asks for security.capability before every write(2). */
const withXattr = process.env.BENCH_XATTR === '1';

/** 80 reused 1 MiB buffers, as the writeback's pool keeps 8 segments' worth. */
const buffers = Array.from({ length: 80 }, () => Buffer.alloc(1 << 20));
let bufferAt = 0;
let usedInBuffer = 0;

function discardFs(writeSizes: number[], readSizes: number[], work: WriteWork = 'none'): FuseOps {
  const now = new Date();
  return {
    getattr(path, reply) {
      if (path === '/') return reply(0, { mode: 0o40755, nlink: 2, size: 4096, atime: now, mtime: now, ctime: now });
      if (path === '/w' || path === '/r') {
        return reply(0, { mode: 0o100644, size: path === '/r' ? sizeMiB * 1048576 : 0, atime: now, mtime: now, ctime: now });
      }
      reply(-2);
    },
    open: (_p, _f, reply) => reply(0, 1),
    ...(withXattr ? { getxattr: (_p: string, _n: string, _pos: number, reply: (code: number) => void) => reply(-61) } : {}),
    truncate: (_p, _s, done) => done(0),
    write(_p, _fd, buf, len, _pos, reply) {
      writeSizes.push(len);
      if (work !== 'none') {
        if (usedInBuffer + len > buffers[bufferAt]!.length) {
          bufferAt = (bufferAt + 1) % buffers.length;
          usedInBuffer = 0;
        }
        const dest = buffers[bufferAt]!;
        buf.copy(dest, usedInBuffer, 0, len);
        if (work === 'copy+crc32') crc32(dest.subarray(usedInBuffer, usedInBuffer + len));
        usedInBuffer += len;
      }
      reply(len);
    },
    read(_p, _fd, buf, len, _pos, reply) {
      readSizes.push(len);
      buf.fill(0, 0, len);
      reply(len);
    },
    fsync: (_p, _d, _fd, done) => done(0),
    flush: (_p, _fd, done) => done(0),
    release: (_p, _fd, done) => done(0),
  };
}

function dd(args: string[]): Promise<string> {
  return new Promise((ok, fail) => execFile('dd', args, (err, _o, stderr) => (err ? fail(new Error(stderr)) : ok(stderr.trim().split('\n').at(-1)!))));
}

async function run(label: string, options: CreateFuseMountOptions, work: WriteWork = 'none'): Promise<void> {
  const mnt = await mkdtemp(join(tmpdir(), 'pfs-bench-'));
  const writes: number[] = [];
  const reads: number[] = [];
  const fuse = createFuseMount(mnt, discardFs(writes, reads, work), options);
  try {
    await fuse.mount();
    const w = await dd(['if=/dev/zero', `of=${join(mnt, 'w')}`, 'bs=1M', `count=${sizeMiB}`, 'conv=fsync']);
    const r = await dd([`if=${join(mnt, 'r')}`, 'of=/dev/null', 'bs=1M']);
    const mode = (a: number[]) => a.reduce((m, n) => Math.max(m, n), 0);
    console.log(`${label}\n  options: ${fuse.optionArg} (negotiated requests: ${fuse.maxRequestBytes} B)\n  write: ${w}  (largest request ${mode(writes)} B, ${writes.length} requests)\n  read:  ${r}  (largest request ${mode(reads)} B, ${reads.length} requests)`);
  } finally {
    await fuse.unmount().catch(() => undefined);
    await forceUnmount(mnt);
    await rm(mnt, { recursive: true, force: true });
  }
}

await run('fuse-native defaults (no big_writes)', { bigWrites: false, maxWriteBytes: undefined, autoUnmount: false });
await run('pfs defaults (big_writes, max_write=131072, auto_unmount)', {});
await run('pfs defaults + max_read/max_readahead 128 KiB, max_background 64', { maxReadBytes: 131072, maxReadaheadBytes: 131072, maxBackground: 64, congestionThreshold: 48 });
await run('pfs defaults; each write copied into reused 1 MiB buffers', {}, 'copy');
await run('pfs defaults; each write copied, then zlib.crc32 of the copy', {}, 'copy+crc32');
const big = { maxWriteBytes: 1 << 20, maxReadBytes: 1 << 20 };
await run('1 MiB requests (max_write=max_read=1048576, FUSE_MAX_PAGES)', big);
await run('1 MiB requests; each write copied into reused 1 MiB buffers', big, 'copy');
await run('1 MiB requests; each write copied, then zlib.crc32 of the copy', big, 'copy+crc32');

// Real mounts: requests above 128 KiB (FUSE_MAX_PAGES, docs/FUSE-BINDING.md 2.8) and
// security.capability answered by the addon (2.9). Root only; skipped elsewhere.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

import { contextAddonBuildScript } from './caller-context.js';
import type { CreateFuseMountOptions, FuseMount } from './fuse-mount.js';
import { fuseSkipReason, sh, withFuseMount } from './test-support.js';
import type { FuseOps } from './types.js';

const reason = fuseSkipReason();
const ENODATA = -61;

interface Seen {
  writeSizes: number[];
  readSizes: number[];
  capabilityAsks: number;
}

/** One file /f (writes discarded, size kept), one /r of 8 MiB of zeros; getxattr answers ENODATA. */
function discardFs(seen: Seen, absentKnown: () => boolean): FuseOps {
  const now = new Date();
  let size = 0;
  return {
    getattr(path, reply) {
      if (path === '/') return reply(0, { mode: 0o40755, nlink: 2, size: 4096, atime: now, mtime: now, ctime: now });
      if (path === '/f') return reply(0, { mode: 0o100644, size, atime: now, mtime: now, ctime: now });
      if (path === '/r') return reply(0, { mode: 0o100644, size: 8 << 20, atime: now, mtime: now, ctime: now });
      reply(-2);
    },
    open: (_p, _f, reply) => reply(0, 7),
    truncate: (_p, s, done) => { size = s; done(0); },
    ftruncate: (_p, _fd, s, done) => { size = s; done(0); },
    write(_p, _fd, _buf, len, pos, reply) {
      seen.writeSizes.push(len);
      size = Math.max(size, pos + len);
      reply(len);
    },
    read(_p, _fd, buf, len, pos, reply) {
      seen.readSizes.push(len);
      const n = Math.max(0, Math.min(len, (8 << 20) - pos));
      buf.fill(0, 0, n);
      reply(n);
    },
    getxattr(_p, name, _pos, reply) {
      if (name === 'security.capability') seen.capabilityAsks++;
      reply(ENODATA, null, absentKnown());
    },
    fsync: (_p, _d, _fd, done) => done(0),
    flush: (_p, _fd, done) => done(0),
    release: (_p, _fd, done) => done(0),
  };
}

async function withMount(seen: Seen, absentKnown: () => boolean, options: CreateFuseMountOptions, body: (mnt: string, fuse: FuseMount) => Promise<void>): Promise<void> {
  execFileSync(process.execPath, [contextAddonBuildScript()!, '--if-missing'], { stdio: 'inherit' });
  await withFuseMount('pfs-large-', discardFs(seen, absentKnown), { attrTimeoutMs: 0, entryTimeoutMs: 0, ...options }, body);
}

test('max_write 1 MiB: the INIT reply negotiates FUSE_MAX_PAGES and the kernel sends 1 MiB writes and reads', { skip: reason, timeout: 60_000 }, async () => {
  const seen: Seen = { writeSizes: [], readSizes: [], capabilityAsks: 0 };
  await withMount(seen, () => false, { maxWriteBytes: 1 << 20, maxReadBytes: 1 << 20, readAheadBytes: 1 << 20 }, async (mnt, fuse) => {
    assert.equal(fuse.maxRequestBytes, 1 << 20, 'negotiated (fs.fuse.max_pages_limit is 256 here)');
    assert.deepEqual(fuse.readAhead, { bytes: 1 << 20 }, 'read_ahead_kb raised');
    assert.match(fuse.optionArg, /max_write=1048576/);
    const dd = await sh('dd', ['if=/dev/zero', `of=${join(mnt, 'f')}`, 'bs=4M', 'count=8', 'conv=fsync']);
    assert.equal(dd.code, 0, dd.stderr);
    assert.equal(seen.writeSizes.reduce((a, b) => a + b, 0), 32 << 20);
    assert.equal(Math.max(...seen.writeSizes), 1 << 20);
    assert.ok(seen.writeSizes.length <= 40, `32 MiB in ${seen.writeSizes.length} write requests`);
    // Direct reads of 1 MiB reach the filesystem as one request each (no read-ahead involved).
    const rd = await sh('dd', [`if=${join(mnt, 'r')}`, 'of=/dev/null', 'bs=1M', 'iflag=direct']);
    assert.equal(rd.code, 0, rd.stderr);
    assert.equal(Math.max(...seen.readSizes), 1 << 20, `read requests: ${seen.readSizes.slice(0, 8).join(',')}`);
    // Buffered reads: read-ahead requests of up to 1 MiB, since the window was raised.
    seen.readSizes.length = 0;
    const buffered = await sh('dd', [`if=${join(mnt, 'r')}`, 'of=/dev/null', 'bs=1M']);
    assert.equal(buffered.code, 0, buffered.stderr);
    assert.equal(Math.max(...seen.readSizes), 1 << 20, `buffered read requests: ${seen.readSizes.slice(0, 8).join(',')}`);
  });
});

test('default max_write stays at libfuse 2\'s 128 KiB', { skip: reason, timeout: 60_000 }, async () => {
  const seen: Seen = { writeSizes: [], readSizes: [], capabilityAsks: 0 };
  await withMount(seen, () => false, {}, async (mnt, fuse) => {
    assert.equal(fuse.maxRequestBytes, 131072);
    assert.equal(fuse.readAhead, null);
    const dd = await sh('dd', ['if=/dev/zero', `of=${join(mnt, 'f')}`, 'bs=1M', 'count=4', 'conv=fsync']);
    assert.equal(dd.code, 0, dd.stderr);
    assert.equal(Math.max(...seen.writeSizes), 131072);
  });
});

test('security.capability: an ENODATA marked absentKnown is answered by the addon until forgetCapabilityAbsence()', { skip: reason, timeout: 60_000 }, async () => {
  const seen: Seen = { writeSizes: [], readSizes: [], capabilityAsks: 0 };
  let lasting = false;
  await withMount(seen, () => lasting, { maxWriteBytes: 1 << 20 }, async (mnt, fuse) => {
    const write = async (count: number) => {
      const dd = await sh('dd', ['if=/dev/zero', `of=${join(mnt, 'f')}`, 'bs=64K', `count=${count}`, 'conv=notrunc']);
      assert.equal(dd.code, 0, dd.stderr);
    };
    // Not marked: the kernel's ask before every write(2) reaches the handler.
    await write(10);
    assert.ok(seen.capabilityAsks >= 10, `asks without absentKnown: ${seen.capabilityAsks}`);
    // Marked: the handler is asked once, the addon answers the rest.
    lasting = true;
    const before = seen.capabilityAsks;
    const answeredBefore = fuse.capabilityAnswers();
    await write(10);
    assert.equal(seen.capabilityAsks - before, 1, 'one ask reached the handler');
    assert.ok(fuse.capabilityAnswers() - answeredBefore >= 9, `addon answers: ${fuse.capabilityAnswers() - answeredBefore}`);
    // Forgotten: the next ask reaches the handler again.
    fuse.forgetCapabilityAbsence();
    lasting = false;
    const again = seen.capabilityAsks;
    await write(3);
    assert.ok(seen.capabilityAsks - again >= 3, `asks after forget: ${seen.capabilityAsks - again}`);
  });
});

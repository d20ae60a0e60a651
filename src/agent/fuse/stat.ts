/** Conversions between protocol values and fuse-native's stat shapes. */
import type { Attr, StatVfs, Timespec } from '../../common/protocol/index.js';
import type { FuseStat, FuseStatfs } from './binding/index.js';

const ms = (t: Timespec) => t.sec * 1000 + Math.floor(t.nsec / 1e6);

export function toStat(a: Attr, blockSizeBytes: number): FuseStat {
  return {
    mode: a.mode, uid: a.uid, gid: a.gid, size: a.size, dev: 0, nlink: a.nlink, ino: a.ino, rdev: a.rdev,
    blksize: blockSizeBytes, blocks: a.blocks,
    atime: ms(a.atime), mtime: ms(a.mtime), ctime: ms(a.ctime),
  };
}

const U32 = 0xffffffff;

/** statfs fields are uint32 in fuse-native: scale the fragment size up until the counts fit. */
export function toStatfs(s: StatVfs): FuseStatfs {
  let scale = 1;
  while (Math.max(s.blocks, s.bfree, s.bavail) / scale > U32) scale *= 2;
  const cap = (n: number) => Math.min(U32, n);
  return {
    bsize: s.bsize * scale, frsize: s.frsize * scale,
    blocks: Math.floor(s.blocks / scale), bfree: Math.floor(s.bfree / scale), bavail: Math.floor(s.bavail / scale),
    files: cap(s.files), ffree: cap(s.ffree), favail: cap(s.favail), fsid: 0, flag: 0, namemax: s.namemax,
  };
}

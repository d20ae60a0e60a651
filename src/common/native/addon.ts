// Loads pfs_native.node (see pfs_native.h) once; null when it is not built or not Linux.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

export interface NativeAddon {
  dropPageCache(fd: number, offset: number, length: number, done: (errno: number) => void): void;
  crc32Blocks(buf: Buffer, blockSizeBytes: number, done: (crcs: number[]) => void): void;
  /** The owner of the TCP socket src -> dst: uid, -1 when there is none, -2 - errno on failure (sockdiag.c). */
  tcpPeerUid(family: 4 | 6, srcIp: Buffer, srcPort: number, dstIp: Buffer, dstPort: number): number;
}

const ADDON_REL = join('src', 'common', 'native', 'build', 'pfs_native.node');
let addon: NativeAddon | null | undefined;

/** The addon (build: node src/common/native/build.mjs, part of make build), or null. */
export function nativeAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  const root = process.platform === 'linux' ? packageRoot() : null;
  const path = root && join(root, ADDON_REL);
  if (path && existsSync(path)) addon = createRequire(import.meta.url)(path) as NativeAddon;
  return addon;
}

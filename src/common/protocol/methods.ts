/**
 * The RPC methods between pfsagentd and proxyfsd: names, parameters and results.
 * `MUTATING` lists the methods whose replies the server makes durable with the change itself,
 * so a resent request is answered from the reply table and never executed twice, even
 * across a server restart.
 */
import type { Attr, Cred, DirEntry, Extent, Ino, ObjectChecksums, StatVfs, Timespec } from './types.js';

export type TimeSet = Timespec | 'now';

export interface MethodMap {
  Ping: { params: Record<string, never>; result: { serverTime: Timespec } };
  Mount: { params: { volume: string; authToken?: string }; result: MountResult };
  Unmount: { params: { mountId: string }; result: Record<string, never> };

  Lookup: { params: { mountId: string; cred: Cred; parent: Ino; name: string }; result: Attr };
  GetAttr: { params: { mountId: string; ino: Ino }; result: Attr };
  SetAttr: { params: SetAttrParams; result: Attr };
  Access: { params: { mountId: string; cred: Cred; ino: Ino; mask: number }; result: Record<string, never> };

  Create: { params: { mountId: string; cred: Cred; parent: Ino; name: string; mode: number; umask: number; flags: number }; result: Attr };
  Mknod: { params: { mountId: string; cred: Cred; parent: Ino; name: string; mode: number; umask: number; rdev: number }; result: Attr };
  Mkdir: { params: { mountId: string; cred: Cred; parent: Ino; name: string; mode: number; umask: number }; result: Attr };
  Symlink: { params: { mountId: string; cred: Cred; parent: Ino; name: string; target: string }; result: Attr };
  Readlink: { params: { mountId: string; ino: Ino }; result: { target: string } };
  Link: { params: { mountId: string; cred: Cred; ino: Ino; newParent: Ino; newName: string }; result: Attr };
  Unlink: { params: { mountId: string; cred: Cred; parent: Ino; name: string }; result: Record<string, never> };
  Rmdir: { params: { mountId: string; cred: Cred; parent: Ino; name: string }; result: Record<string, never> };
  Rename: { params: { mountId: string; cred: Cred; parent: Ino; name: string; newParent: Ino; newName: string; flags: number }; result: Record<string, never> };

  Open: { params: { mountId: string; cred: Cred; ino: Ino; flags: number }; result: Attr };
  Release: { params: { mountId: string; ino: Ino }; result: Record<string, never> };
  ReadDir: { params: { mountId: string; cred: Cred; ino: Ino; cookie: number; maxEntries: number; plus: boolean }; result: { entries: DirEntry[]; eof: boolean } };
  StatVfs: { params: { mountId: string }; result: StatVfs };

  SetXattr: { params: { mountId: string; cred: Cred; ino: Ino; name: string; value: string /* base64 */; flags: number }; result: Record<string, never> };
  GetXattr: { params: { mountId: string; cred: Cred; ino: Ino; name: string }; result: { value: string /* base64 */ } };
  ListXattr: { params: { mountId: string; cred: Cred; ino: Ino }; result: { names: string[] } };
  RemoveXattr: { params: { mountId: string; cred: Cred; ino: Ino; name: string }; result: Record<string, never> };

  FetchExtentMapChunk: { params: { mountId: string; ino: Ino; fileOffset: number; maxEntriesFrom: number; maxEntriesBefore: number }; result: ExtentMapChunk };
  ProvisionObject: { params: { mountId: string; count: number }; result: { objects: { objectId: number; key: string }[] } };
  Wrote: { params: WroteParams; result: Attr };
}

export interface MountResult {
  mountId: string;
  rootIno: Ino;
  /** Where the volume's log segments live, without credentials (file:///dir, swift://..., s3://...). */
  objectStoreUrl: string;
  /** Block size the agent must use for the CRC32 list it reports with Wrote. */
  checksumBlockSizeBytes: number;
}

export interface SetAttrParams {
  mountId: string;
  cred: Cred;
  ino: Ino;
  mode?: number;          // permission bits (and S_ISUID/S_ISGID/S_ISVTX)
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSet;
  mtime?: TimeSet;
}

export interface ExtentMapChunk {
  /** Every byte in [rangeStart, rangeEnd) not covered by `extents` reads as zero. */
  rangeStart: number;
  rangeEnd: number;
  size: number;
  extents: Extent[];
  /** Checksums of every object that `extents` references. */
  objects: ObjectChecksums[];
}

export interface WroteParams {
  mountId: string;
  ino: Ino;
  object: { objectId: number; sizeBytes: number; blockSizeBytes: number; crc32: number[] };
  extents: Extent[];      // objectId of each must equal object.objectId
  mtime: Timespec;
}

export type Method = keyof MethodMap;
export type Params<M extends Method> = MethodMap[M]['params'];
export type Result<M extends Method> = MethodMap[M]['result'];

export const METHODS: readonly Method[] = [
  'Ping', 'Mount', 'Unmount', 'Lookup', 'GetAttr', 'SetAttr', 'Access', 'Create', 'Mknod', 'Mkdir',
  'Symlink', 'Readlink', 'Link', 'Unlink', 'Rmdir', 'Rename', 'Open', 'Release', 'ReadDir', 'StatVfs',
  'SetXattr', 'GetXattr', 'ListXattr', 'RemoveXattr', 'FetchExtentMapChunk', 'ProvisionObject', 'Wrote',
];

export const MUTATING: ReadonlySet<Method> = new Set<Method>([
  'Mount', 'Unmount', 'SetAttr', 'Create', 'Mknod', 'Mkdir', 'Symlink', 'Link', 'Unlink', 'Rmdir',
  'Rename', 'Open', 'Release', 'SetXattr', 'RemoveXattr', 'ProvisionObject', 'Wrote',
]);

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && (METHODS as readonly string[]).includes(name);
}

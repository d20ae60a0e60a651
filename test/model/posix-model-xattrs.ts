/**
 * Extended attributes of the reference model (see xattr(7)): user.* on files and directories
 * with read/write permission, sticky directories' user.* for their owner; trusted.* for root
 * (others: EPERM to change, ENODATA to read, hidden from lists); security.* readable by all,
 * changed by root; other namespaces ENOTSUP. Called after the path has been walked.
 */
import type { Cred } from '../../src/common/protocol/index.js';
import { allowed, fail, need, type MNode } from './posix-rules.js';

interface Model {
  walk(cred: Cred, path: readonly string[]): MNode;
}

function nameSpace(name: string): 'user' | 'trusted' | 'security' {
  if (name === '' || Buffer.byteLength(name) > 255) fail('ERANGE');
  const dot = name.indexOf('.');
  const ns = dot < 0 ? '' : name.slice(0, dot);
  if (ns !== 'user' && ns !== 'trusted' && ns !== 'security') fail('ENOTSUP');
  if (dot === name.length - 1) fail('EINVAL');
  return ns;
}

function mayChange(cred: Cred, n: MNode, ns: string): void {
  if (ns !== 'user') {
    if (cred.uid !== 0) fail('EPERM');
    return;
  }
  if (n.type !== 'reg' && n.type !== 'dir') fail('EPERM');
  const owns = cred.uid === 0 || cred.uid === n.uid;
  if (n.type === 'dir' && n.perm & 0o1000 && !owns) fail('EPERM');
  need(cred, n, 2);
}

/** The names listxattr shows cred: all but trusted.* for non-root callers. */
export function visibleXattrs(cred: Cred, n: MNode): string[] {
  return [...n.xattrs.keys()].filter((k) => cred.uid === 0 || !k.startsWith('trusted.')).sort();
}

export function xattrOps(model: Model) {
  return {
    set(cred: Cred, path: readonly string[], name: string, value: Buffer, flags: number): void {
      const n = model.walk(cred, path);
      if (flags & ~3) fail('EINVAL');
      if (name === '' || Buffer.byteLength(name) > 255) fail('ERANGE');
      if (value.length > 65536) fail('E2BIG');
      mayChange(cred, n, nameSpace(name));
      if (flags & 1 && n.xattrs.has(name)) fail('EEXIST');
      if (flags & 2 && !n.xattrs.has(name)) fail('ENODATA');
      n.xattrs.set(name, value);
    },
    get(cred: Cred, path: readonly string[], name: string): Buffer {
      const n = model.walk(cred, path);
      const ns = nameSpace(name);
      if (ns === 'trusted' && cred.uid !== 0) fail('ENODATA');
      if (ns === 'user') {
        if (n.type !== 'reg' && n.type !== 'dir') fail('ENODATA');
        if (!allowed(cred, n, 4)) fail('EACCES');
      }
      return n.xattrs.get(name) ?? fail('ENODATA');
    },
    list(cred: Cred, path: readonly string[]): string[] {
      return visibleXattrs(cred, model.walk(cred, path));
    },
    remove(cred: Cred, path: readonly string[], name: string): void {
      const n = model.walk(cred, path);
      mayChange(cred, n, nameSpace(name));
      if (!n.xattrs.delete(name)) fail('ENODATA');
    },
  };
}

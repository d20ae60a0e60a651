// One mount of bench/fuse-session, in its own process (forked by main.ts): a MemTree served by
// the current path-based binding ('path', fuse-native + context addon, timeouts 0 as the agent
// runs today; 'pathlong': 60 s timeouts and kernel_cache), by the inode-based prototype ('ll0':
// timeouts 0, 'lllong': 60 s; 'llpoll0', 'llpolllong': the same with reader 'poll'), or by the
// pure-JS /dev/fuse reader ('raw0', 'rawlong', 'rawplus': 60 s and READDIRPLUS). Answers IPC:
// { cmd: 'cpu' } -> { cpuUs, requests }, { cmd: 'unmount' } -> exits.

import { createFuseMount, type FuseOps } from '../../src/agent/fuse/binding/index.js';
import { createLowLevelSession, createRawSession, FUSE_ROOT_ID, lowLevelStats, MemTree, type LlOps } from '../../src/agent/fuse/binding/lowlevel/index.js';

export type Target = 'path' | 'pathlong' | 'll0' | 'lllong' | 'llpoll0' | 'llpolllong' | 'raw0' | 'rawlong' | 'rawplus';
const [target, mnt] = process.argv.slice(2) as [Target, string];

let requests = 0;
function counted<T extends object>(ops: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(ops)) out[k] = (...a: unknown[]) => { requests++; return (f as (...x: unknown[]) => unknown)(...a); };
  return out as T;
}

const tree = new MemTree();
const stat = tree.mkdir(FUSE_ROOT_ID, 'stat');
for (let d = 0; d < 10; d++) {
  const dir = tree.mkdir(stat, `d${d}`);
  for (let i = 0; i < 1000; i++) tree.file(dir, `f${i}`, Buffer.alloc(100));
}
const big = tree.mkdir(FUSE_ROOT_ID, 'big');
for (let i = 0; i < 20000; i++) tree.file(big, `e${String(i).padStart(5, '0')}`, Buffer.alloc(100));
tree.file(FUSE_ROOT_ID, 'data64', Buffer.alloc(64 << 20, 7));
const w = tree.mkdir(FUSE_ROOT_ID, 'w');
tree.mkdir(w, 'c1');
tree.mkdir(w, 'c8');

const fail = (op: unknown, err: unknown) => { console.error(`handler ${String(op)}: ${String(err)}`); process.exit(1); };
let unmount: () => Promise<void>;
if (target === 'path' || target === 'pathlong') {
  const ms = target === 'path' ? 0 : 60_000;
  const fuse = createFuseMount(mnt, counted<FuseOps>(tree.pathOps()), {
    fsname: 'pfs:bench', subtype: 'pfs', defaultPermissions: true, useIno: true, hardRemove: true, autoUnmount: true,
    bigWrites: true, maxWriteBytes: 131072, attrTimeoutMs: ms, entryTimeoutMs: ms, kernelCache: ms > 0, onHandlerError: fail,
  });
  await fuse.mount();
  unmount = () => fuse.unmount();
} else if (target.startsWith('raw')) {
  const s = target === 'raw0' ? 0 : 60;
  const session = createRawSession(mnt, counted<LlOps>(tree.llOps({ attrS: s, entryS: s })), {
    mountOptions: ['default_permissions'], readdirPlus: target === 'rawplus', onHandlerError: fail,
  });
  await session.mount();
  unmount = () => session.unmount();
} else {
  const s = target.endsWith('0') ? 0 : 60;
  const session = createLowLevelSession(mnt, counted<LlOps>(tree.llOps({ attrS: s, entryS: s })), {
    fsname: 'pfs:bench', subtype: 'pfs', defaultPermissions: true, autoUnmount: true, bigWrites: true, maxWriteBytes: 131072,
    reader: target.startsWith('llpoll') ? 'poll' : 'thread', onHandlerError: fail,
  });
  await session.mount();
  unmount = () => session.unmount();
}
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'cpu') {
    const u = process.cpuUsage();
    const ll = target.startsWith('ll') ? lowLevelStats() : { wakeups: 0, messages: 0 };
    process.send!({ cpuUs: u.user + u.system, sysUs: u.system, requests, wakeups: ll.wakeups, messages: ll.messages });
  } else if (m.cmd === 'unmount') {
    void unmount().finally(() => process.exit(0));
  }
});
// The bench went away: unmount and go.
process.on('disconnect', () => void unmount().finally(() => process.exit(0)));
process.send!({ ready: true });

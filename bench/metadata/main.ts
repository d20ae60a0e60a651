/**
 * bench/metadata: create / stat / readdir / unlink operations per second and p50/p99 latency
 * against a real proxyfsd process over loopback RPC, with 1 and 8 concurrent clients.
 * Usage: node dist/bench/metadata/main.js [--files N]   (make bench)
 */
import { createRpcClient, type RpcClient } from '../../src/common/rpc/index.js';
import { O_RDWR, ROOT_INO, type Cred } from '../../src/common/protocol/index.js';
import { startProxyfsd, quietLog } from '../../test/support/proxyfsd.js';

const root: Cred = { uid: 0, gid: 0, groups: [] };
const filesArg = process.argv.indexOf('--files');
const FILES_PER_RUN = filesArg > 0 ? Number(process.argv[filesArg + 1]) : 8000;

interface Row { op: string; clients: number; ops: number; seconds: number; p50: number; p99: number }

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

async function phase(op: string, clients: RpcClient[], perClient: number, fn: (c: RpcClient, ci: number, i: number) => Promise<unknown>): Promise<Row> {
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(clients.map(async (c, ci) => {
    for (let i = 0; i < perClient; i++) {
      const s = performance.now();
      await fn(c, ci, i);
      lat.push(performance.now() - s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { op, clients: clients.length, ops: lat.length, seconds, p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
}

async function runWith(port: number, volume: string, nClients: number): Promise<Row[]> {
  const clients = Array.from({ length: nClients }, () => createRpcClient({ host: '127.0.0.1', port, deadlineMs: 60000, keepAliveMs: 30000, reconnectDelayMs: 50, reconnectDelayCapMs: 1000, maxFrameBytes: 16 << 20, log: quietLog }));
  const mounts = await Promise.all(clients.map((c) => c.call('Mount', { volume }) as Promise<{ mountId: string }>));
  const dirs = await Promise.all(clients.map((c, ci) => c.call('Mkdir', { mountId: mounts[ci]!.mountId, cred: root, parent: ROOT_INO, name: `c${nClients}-${ci}`, mode: 0o755, umask: 0 }) as Promise<{ ino: number }>));
  const per = Math.floor(FILES_PER_RUN / nClients);
  const inos: number[][] = clients.map(() => []);
  const rows: Row[] = [];
  rows.push(await phase('create', clients, per, async (c, ci, i) => {
    const a = await c.call('Create', { mountId: mounts[ci]!.mountId, cred: root, parent: dirs[ci]!.ino, name: `file-${i}`, mode: 0o644, umask: 0, flags: O_RDWR }) as { ino: number };
    inos[ci]!.push(a.ino);
  }));
  await Promise.all(clients.map((c, ci) => Promise.all(inos[ci]!.map((ino) => c.call('Release', { mountId: mounts[ci]!.mountId, cred: root, ino })))));
  rows.push(await phase('stat', clients, per, (c, ci, i) => c.call('GetAttr', { mountId: mounts[ci]!.mountId, cred: root, ino: inos[ci]![i]! })));
  rows.push(await phase('lookup', clients, per, (c, ci, i) => c.call('Lookup', { mountId: mounts[ci]!.mountId, cred: root, parent: dirs[ci]!.ino, name: `file-${i}` })));
  const pages = Math.ceil(per / 100);
  rows.push(await phase('readdir(100)', clients, pages * 4, (c, ci, i) => c.call('ReadDir', { mountId: mounts[ci]!.mountId, cred: root, ino: dirs[ci]!.ino, cookie: (i % pages) * 100, maxEntries: 100, plus: true })));
  rows.push(await phase('unlink', clients, per, (c, ci, i) => c.call('Unlink', { mountId: mounts[ci]!.mountId, cred: root, parent: dirs[ci]!.ino, name: `file-${i}` })));
  await Promise.all(clients.map((c) => c.close(1000)));
  return rows;
}

async function main(): Promise<void> {
  const srv = await startProxyfsd({ extraConf: '' });
  try {
    const rows = [...await runWith(srv.port, srv.volume, 1), ...await runWith(srv.port, srv.volume, 8)];
    console.log(`bench/metadata: proxyfsd over loopback RPC, ${FILES_PER_RUN} files per run, SQLite WAL synchronous=FULL`);
    console.log('op            clients      ops     ops/s   p50 ms   p99 ms');
    for (const r of rows) {
      console.log(`${r.op.padEnd(13)} ${String(r.clients).padStart(7)} ${String(r.ops).padStart(8)} ${(r.ops / r.seconds).toFixed(0).padStart(9)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}`);
    }
  } finally {
    await srv.stop();
    await srv.cleanup();
  }
}

await main();

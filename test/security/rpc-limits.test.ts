/**
 * Issue 17, bounded resources, attacked through a real proxyfsd by an allowed local user
 * (uid 65534 in AllowedUIDs): a flood of connections, and slow clients each holding most of a
 * big unfinished frame. The server bounds each attack and logs it, and a legitimate client
 * (root) is answered all along; its slowest answer during the attack is printed.
 * The frame-level bounds (JSON nesting, the big-frame budget, the reply cache's bytes, not
 * reading from a peer that does not read) are in src/common/rpc/limits.test.ts.
 *
 * Reproduce: make build && node --test dist/test/security/rpc-limits.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_INO, type Cred } from '../../src/common/protocol/index.js';

const ROOT_CRED: Cred = { uid: 0, gid: 0, groups: [] };
import { call, rpcClient } from '../support/rpc-agent.js';
import { rawFlood } from '../support/raw-rpc.js';
import { startProxyfsd } from '../support/proxyfsd.js';

const NOBODY = 65534;

/** The slowest of `n` GetAttr calls of a mount, one after another, in ms. */
async function slowestOf(n: number, fn: () => Promise<unknown>): Promise<number> {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    worst = Math.max(worst, performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  return worst;
}

test('a flood of 1 100 connections from one local user is capped per peer; the agent is served throughout', { timeout: 120_000 }, async (t) => {
  const srv = await startProxyfsd({ extraConf: `[RPCServer]\nAllowedUIDs: ${NOBODY}\n` });
  const a = rpcClient(srv.port);
  try {
    const { mountId } = await call(a, 'Mount', { volume: srv.volume });
    const flood = rawFlood(srv.port, { uid: NOBODY, connections: 1100, holdSeconds: 3 });
    const opened = await flood.opened;
    const worstMs = await slowestOf(20, () => call(a, 'GetAttr', { mountId, cred: ROOT_CRED, ino: ROOT_INO }));
    const { alive } = await flood.done;
    t.diagnostic(`flood: ${opened.opened} connections opened (${opened.failed} failed), ${alive} still served after 3 s; slowest GetAttr of the agent meanwhile ${worstMs.toFixed(1)} ms`);
    assert.ok(alive <= 64, `${alive} connections of one peer kept (MaxConnectionsPerPeer 64)`);
    assert.ok(worstMs < 1000, `the agent waited ${worstMs} ms`);
    const lines = srv.stderr().split('\n').filter((l) => l.includes('MaxConnectionsPerPeer'));
    assert.ok(lines.length >= 1 && lines.length <= 3, `rate-limited log lines: ${lines.length}`);
  } finally {
    await a.close(0);
    await srv.stop();
    await srv.cleanup();
  }
});

test('slow clients holding big unfinished frames are dropped at the frame deadline; the agent is served throughout', { timeout: 120_000 }, async (t) => {
  const srv = await startProxyfsd({ extraConf: `[RPCServer]\nAllowedUIDs: ${NOBODY}\nFrameDeadline: 2s\n` });
  const a = rpcClient(srv.port);
  try {
    const { mountId } = await call(a, 'Mount', { volume: srv.volume });
    const flood = rawFlood(srv.port, { uid: NOBODY, connections: 8, holdSeconds: 4, partialBytes: 15 << 20 });
    await flood.opened;
    const worstMs = await slowestOf(20, () => call(a, 'GetAttr', { mountId, cred: ROOT_CRED, ino: ROOT_INO }));
    const { alive } = await flood.done;
    t.diagnostic(`8 slow clients with 15 MiB frames: ${alive} still connected after 4 s; slowest GetAttr meanwhile ${worstMs.toFixed(1)} ms`);
    assert.equal(alive, 0, 'every slow client was dropped');
    assert.ok(worstMs < 1000, `the agent waited ${worstMs} ms`);
    assert.match(srv.stderr(), /not completed within 2000 ms/);
  } finally {
    await a.close(0);
    await srv.stop();
    await srv.cleanup();
  }
});

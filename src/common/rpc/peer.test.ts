import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { identifyPeer, isLoopback, parseSocketTable } from './peer.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:7E64 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:A2B0 0100007F:7E64 01 00000000:00000000 00:00000000 00000000 65534        0 2 1 0 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:A2B1 00000000000000000000000001000000:7E64 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 20 4 30 10 -1
   1: 0000000000000000FFFF00000100007F:A2B2 0000000000000000FFFF00000100007F:7E64 01 00000000:00000000 00:00000000 00000000  1001        0 4 1 0 20 4 30 10 -1
`;

test('parseSocketTable reads IPv4, IPv6 and IPv4-mapped rows', () => {
  assert.deepEqual(parseSocketTable(TCP), [
    { local: '127.0.0.1:32356', remote: '0.0.0.0:0', uid: 0 },
    { local: '127.0.0.1:41648', remote: '127.0.0.1:32356', uid: 65534 },
  ]);
  assert.deepEqual(parseSocketTable(TCP6), [
    { local: '0:0:0:0:0:0:0:1:41649', remote: '0:0:0:0:0:0:0:1:32356', uid: 1000 },
    { local: '127.0.0.1:41650', remote: '127.0.0.1:32356', uid: 1001 },
  ]);
});

test('isLoopback', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
  for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', undefined]) assert.ok(!isLoopback(a), String(a));
});

function fakeSocket(remoteAddress: string, remotePort: number, localAddress: string, localPort: number): Socket {
  return { remoteAddress, remotePort, localAddress, localPort } as Socket;
}

test('identifyPeer finds the uid owning the peer socket in either table; other hosts are not identified', async () => {
  const tables = async (name: 'tcp' | 'tcp6') => (name === 'tcp' ? TCP : TCP6);
  assert.deepEqual(await identifyPeer(fakeSocket('127.0.0.1', 41648, '127.0.0.1', 32356), tables), { key: 'uid:65534', uid: 65534, address: '127.0.0.1:41648' });
  assert.equal((await identifyPeer(fakeSocket('::1', 41649, '::1', 32356), tables)).key, 'uid:1000');
  assert.equal((await identifyPeer(fakeSocket('::ffff:127.0.0.1', 41650, '::ffff:127.0.0.1', 32356), tables)).key, 'uid:1001');
  assert.equal((await identifyPeer(fakeSocket('127.0.0.1', 9, '127.0.0.1', 32356), tables)).key, 'remote', 'no row: not identified');
  assert.equal((await identifyPeer(fakeSocket('10.1.1.1', 41648, '10.1.1.2', 32356), tables)).key, 'remote');
});

for (const host of ['127.0.0.1', '::1']) {
  test(`identifyPeer of a real loopback connection over ${host} gives this process's uid`, async (t) => {
    const server = createServer();
    try {
      await new Promise<void>((r, j) => { server.once('error', j); server.listen(0, host, r); });
    } catch {
      t.skip(`${host} is not available here`);
      return;
    }
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const client = connect((server.address() as { port: number }).port, host);
    try {
      const peer = await identifyPeer(await accepted);
      assert.equal(peer.uid, process.geteuid!());
    } finally {
      client.destroy();
      server.close();
    }
  });
}

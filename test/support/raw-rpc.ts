/**
 * Test support: an RPC client of a few dozen lines, as an attacker would write one, run as any
 * uid (a python3 child process whose source is passed inline, so it needs to read no file of
 * the repo). It speaks the framing of docs/RPC.md: HELLO with a chosen clientId, then the given
 * calls one by one; it answers PINGs. The result says what the server did.
 */
import { spawn } from 'node:child_process';

export interface RawCall {
  method: string;
  params: unknown;
}

export interface RawResult {
  /** The server's REFUSED error, when it refused the connection. */
  refused?: { code: string; message: string };
  /** Whether the connection was closed before HELLO_OK or REFUSED came. */
  closed?: boolean;
  /** One reply per call made ({result} or {error}), until the connection closed. */
  replies: ({ result: unknown } | { error: { code: string; message: string } })[];
}

const SOURCE = String.raw`
import json, socket, struct, sys
spec = json.loads(sys.argv[1])
def frame(t, body):
    b = json.dumps(body).encode()
    return struct.pack('>HBBI', 0x5046, 1, t, len(b)) + b
def recvn(s, n):
    out = b''
    while len(out) < n:
        c = s.recv(n - len(out))
        if not c: raise EOFError
        out += c
    return out
def read(s):
    while True:
        magic, ver, t, n = struct.unpack('>HBBI', recvn(s, 8))
        body = json.loads(recvn(s, n))
        if t == 6: s.sendall(frame(7, {})); continue
        if t == 7: continue
        return t, body
out = {'replies': []}
s = socket.create_connection((spec['host'], spec['port']), timeout=20)
try:
    s.sendall(frame(1, {'clientId': spec['clientId'], 'version': 1}))
    t, body = read(s)
    if t == 8:
        out['refused'] = body['error']
    else:
        for i, c in enumerate(spec['calls']):
            s.sendall(frame(3, {'id': i + 1, 'ack': i, 'method': c['method'], 'params': c['params']}))
            t, body = read(s)
            out['replies'].append({k: v for k, v in body.items() if k != 'id'})
except (EOFError, ConnectionResetError):
    out['closed'] = True
print(json.dumps(out))
`;

/** Runs the raw client as uid (and gid) against 127.0.0.1:port. */
export function rawRpc(port: number, opts: { uid?: number; clientId: string; calls?: RawCall[] }): Promise<RawResult> {
  const spec = JSON.stringify({ host: '127.0.0.1', port, clientId: opts.clientId, calls: opts.calls ?? [] });
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', SOURCE, spec], {
      cwd: '/', stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`raw rpc client exited ${code}: ${err}`));
      resolve(JSON.parse(out) as RawResult);
    });
  });
}

/**
 * Test support: an RPC client of a few dozen lines, as an attacker would write one, run as any
 * uid (a python3 child process whose source is passed inline, so it needs to read no file of
 * the repo). It speaks the framing of docs/RPC.md: HELLO with a chosen clientId, then the given
 * calls one by one; it answers PINGs. The result says what the server did. A param value
 * "$MOUNT" stands for the mountId of the latest successful Mount reply.
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
  /** With tls: the TLS error that closed it, if one did. */
  tlsError?: string;
  /** One reply per call made ({result} or {error}), until the connection closed. */
  replies: ({ result: unknown } | { error: { code: string; message: string } })[];
}

const SOURCE = String.raw`
import json, socket, ssl, struct, sys
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
    if spec.get('tls'):
        ctx = ssl.create_default_context(cafile=spec['tls']['ca'])
        if spec['tls'].get('cert'): ctx.load_cert_chain(spec['tls']['cert'], spec['tls']['key'])
        s = ctx.wrap_socket(s, server_hostname=spec['host'])
    s.sendall(frame(1, {'clientId': spec['clientId'], 'version': 1}))
    t, body = read(s)
    if t == 8:
        out['refused'] = body['error']
    else:
        mount = None
        for i, c in enumerate(spec['calls']):
            params = json.loads(json.dumps(c['params']).replace('"$MOUNT"', json.dumps(mount)))
            s.sendall(frame(3, {'id': i + 1, 'ack': i, 'method': c['method'], 'params': params}))
            t, body = read(s)
            if isinstance(body.get('result'), dict) and 'mountId' in body['result']: mount = body['result']['mountId']
            out['replies'].append({k: v for k, v in body.items() if k != 'id'})
except (EOFError, ConnectionResetError):
    out['closed'] = True
except ssl.SSLError as e:
    out['closed'] = True
    out['tlsError'] = str(e)
print(json.dumps(out))
`;

/**
 * Runs the raw client as uid (and gid) against 127.0.0.1:port; with tls, over TLS verifying the
 * server against tls.ca, presenting tls.cert and tls.key when given (files uid can read).
 */
export function rawRpc(port: number, opts: { uid?: number; clientId: string; calls?: RawCall[]; tls?: { ca: string; cert?: string; key?: string } }): Promise<RawResult> {
  const spec = JSON.stringify({ host: '127.0.0.1', port, clientId: opts.clientId, calls: opts.calls ?? [], tls: opts.tls });
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

const FLOOD = String.raw`
import json, socket, struct, sys, time, resource
spec = json.loads(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
def frame(t, body):
    b = json.dumps(body).encode()
    return struct.pack('>HBBI', 0x5046, 1, t, len(b)) + b
socks, failed = [], 0
for i in range(spec['connections']):
    try:
        s = socket.create_connection((spec['host'], spec['port']), timeout=5)
        s.sendall(frame(1, {'clientId': 'flood-%d' % i, 'version': 1}))
        if spec.get('partialBytes'):
            hdr = struct.pack('>HBBI', 0x5046, 1, 3, spec['partialBytes'])
            s.sendall(hdr + b'{' * min(spec['partialBytes'] - 1, 1 << 20))
        socks.append(s)
    except OSError:
        failed += 1
print(json.dumps({'opened': len(socks), 'failed': failed}), flush=True)
time.sleep(spec['holdSeconds'])
alive = 0
for s in socks:
    s.setblocking(False)
    try:
        while s.recv(65536) != b'':
            pass  # what the server sent before it closed, or is still sending
    except BlockingIOError:
        alive += 1  # open, nothing more to read
    except OSError:
        pass  # reset: closed
print(json.dumps({'alive': alive}), flush=True)
`;

/**
 * Opens `connections` connections as uid, each saying HELLO (and, with partialBytes, the header
 * of a frame that long and up to 1 MiB of it, never finished), holds them holdSeconds, and
 * reports how many the server had closed by then.
 */
export function rawFlood(port: number, opts: { uid: number; connections: number; holdSeconds: number; partialBytes?: number }): { opened: Promise<{ opened: number; failed: number }>; done: Promise<{ alive: number }> } {
  const spec = JSON.stringify({ host: '127.0.0.1', port, connections: opts.connections, holdSeconds: opts.holdSeconds, partialBytes: opts.partialBytes ?? 0 });
  const child = spawn('python3', ['-c', FLOOD, spec], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.uid });
  let out = '';
  let err = '';
  let resolveOpened!: (v: { opened: number; failed: number }) => void;
  const opened = new Promise<{ opened: number; failed: number }>((r) => { resolveOpened = r; });
  child.stdout.on('data', (d) => {
    out += d;
    const first = out.split('\n')[0];
    if (out.includes('\n') && first) resolveOpened(JSON.parse(first) as { opened: number; failed: number });
  });
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise<{ alive: number }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`flood exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { alive: number });
    });
  });
  return { opened, done };
}

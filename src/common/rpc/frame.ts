/**
 * Frame codec. A frame is an 8-byte header, magic u16 BE 0x5046 ('PF'), version u8, type u8,
 * body length u32 BE, followed by that many bytes of UTF-8 JSON. FrameDecoder turns a byte
 * stream cut anywhere into validated frames; it never throws on input, it reports the first
 * protocol error and then refuses everything after it (the connection is to be closed).
 */
import { PfsError, type WireError } from '../errors/index.js';
import type { WireReply } from './types.js';

export const FRAME_MAGIC = 0x5046;
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 8;
/** The version carried in HELLO bodies (the application protocol, not the framing). */
export const PROTOCOL_VERSION = 1;

export const FrameType = {
  hello: 1,
  'hello-ok': 2,
  request: 3,
  reply: 4,
  upcall: 5,
  ping: 6,
  pong: 7,
  refused: 8,
} as const;
export type FrameKind = keyof typeof FrameType;

const kindOfType = new Map<number, FrameKind>(
  Object.entries(FrameType).map(([kind, type]) => [type, kind as FrameKind]),
);

export type Frame =
  | { kind: 'hello'; clientId: string; version: number }
  | { kind: 'hello-ok'; serverId: string }
  | { kind: 'request'; id: number; ack: number; method: string; params: unknown }
  | { kind: 'reply'; id: number; reply: WireReply }
  | { kind: 'upcall'; method: string; params: unknown }
  | { kind: 'ping' }
  | { kind: 'pong' }
  /** Server -> client instead of HELLO_OK: this peer may not be served (docs/SECURITY.md); the connection closes. */
  | { kind: 'refused'; error: WireError };

export interface DecodeResult {
  frames: Frame[];
  /** Set when the stream is invalid; frames before the fault are still returned. */
  error?: PfsError;
}

const CLIENT_ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isValidClientId(id: unknown): id is string {
  return typeof id === 'string' && CLIENT_ID_RE.test(id);
}

/** Builds a frame from an already serialised body. */
export function encodeRawFrame(type: number, body: string | Buffer): Buffer {
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes.length);
  out.writeUInt16BE(FRAME_MAGIC, 0);
  out.writeUInt8(FRAME_VERSION, 2);
  out.writeUInt8(type, 3);
  out.writeUInt32BE(bodyBytes.length, 4);
  bodyBytes.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** Serialises a frame. Throws (TypeError from JSON.stringify) on values JSON cannot carry. */
export function encodeFrame(frame: Frame): Buffer {
  return encodeRawFrame(FrameType[frame.kind], JSON.stringify(frameBody(frame)));
}

function frameBody(frame: Frame): object {
  switch (frame.kind) {
    case 'hello': return { clientId: frame.clientId, version: frame.version };
    case 'hello-ok': return { serverId: frame.serverId };
    case 'request':
      return { id: frame.id, ack: frame.ack, method: frame.method, params: frame.params ?? null };
    case 'reply':
      return 'error' in frame.reply
        ? { id: frame.id, error: { code: frame.reply.error.code, message: frame.reply.error.message } }
        : { id: frame.id, result: frame.reply.result ?? null };
    case 'upcall': return { method: frame.method, params: frame.params ?? null };
    case 'ping':
    case 'pong': return {};
    case 'refused': return { error: { code: frame.error.code, message: frame.error.message } };
  }
}

/** Request body with params already serialised, so resends do not stringify params again. */
export function encodeRequestFrame(id: number, ack: number, method: string, paramsJson: string): Buffer {
  const body = `{"id":${id},"ack":${ack},"method":${JSON.stringify(method)},"params":${paramsJson}}`;
  return encodeRawFrame(FrameType.request, body);
}

/** Deepest nesting of arrays and objects a frame body may have: pfs's own bodies nest 5 deep. */
export const MAX_JSON_DEPTH = 32;

/** Streaming decoder; one per connection. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: { kind: FrameKind; length: number } | undefined;
  private failure: PfsError | undefined;

  constructor(private readonly maxFrameBytes: number) {}

  /** Part of a frame has arrived and the rest has not. */
  get midFrame(): boolean {
    return this.header !== undefined || this.buffered > 0;
  }

  /** Body length of the frame being received (its header arrived), else 0. */
  get pendingBodyBytes(): number {
    return this.header?.length ?? 0;
  }

  push(chunk: Buffer): DecodeResult {
    const frames: Frame[] = [];
    if (this.failure) return { frames, error: this.failure };
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.header === undefined) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const fault = this.readHeader(this.take(FRAME_HEADER_BYTES));
        if (fault) return { frames, error: this.fail(fault) };
      }
      const header = this.header!;
      if (this.buffered < header.length) break;
      this.header = undefined;
      const parsed = parseBody(header.kind, this.take(header.length));
      if (typeof parsed === 'string') return { frames, error: this.fail(parsed) };
      frames.push(parsed);
    }
    return { frames };
  }

  private readHeader(bytes: Buffer): string | undefined {
    const magic = bytes.readUInt16BE(0);
    if (magic !== FRAME_MAGIC) return `bad magic 0x${magic.toString(16)}`;
    const version = bytes.readUInt8(2);
    if (version !== FRAME_VERSION) return `unsupported frame version ${version}`;
    const type = bytes.readUInt8(3);
    const kind = kindOfType.get(type);
    if (kind === undefined) return `unknown frame type ${type}`;
    const length = bytes.readUInt32BE(4);
    if (length > this.maxFrameBytes) return `frame body of ${length} bytes exceeds maxFrameBytes ${this.maxFrameBytes}`;
    this.header = { kind, length };
    return undefined;
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered -= n;
    return all.subarray(0, n);
  }

  private fail(reason: string): PfsError {
    this.failure = new PfsError('PFS_ERR_RPC_PROTOCOL', reason);
    this.chunks = [];
    this.buffered = 0;
    return this.failure;
  }
}

/** Whether the JSON text nests arrays and objects deeper than max (strings skipped; no validation). */
export function nestingExceeds(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** One-shot decode of a complete byte string (handy for tests). */
export function decodeFrames(bytes: Buffer, maxFrameBytes: number): DecodeResult {
  return new FrameDecoder(maxFrameBytes).push(bytes);
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 1;
}

function isWireError(v: unknown): v is WireError {
  return isObj(v) && typeof v.code === 'string' && typeof v.message === 'string';
}

/** Parses and checks a body; returns the frame or the reason it is invalid. */
function parseBody(kind: FrameKind, bytes: Buffer): Frame | string {
  // Checked before parsing: a deeply nested body costs JSON.parse seconds of the event loop.
  if (nestingExceeds(bytes, MAX_JSON_DEPTH)) return `${kind} body nests deeper than ${MAX_JSON_DEPTH}`;
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    return `invalid JSON in ${kind} frame`;
  }
  if (!isObj(body)) return `${kind} body is not an object`;
  switch (kind) {
    case 'hello':
      if (!isValidClientId(body.clientId)) return 'hello: bad clientId';
      if (!Number.isSafeInteger(body.version)) return 'hello: bad version';
      return { kind, clientId: body.clientId, version: body.version as number };
    case 'hello-ok':
      if (typeof body.serverId !== 'string') return 'hello-ok: bad serverId';
      return { kind, serverId: body.serverId };
    case 'request':
      if (!isId(body.id)) return 'request: bad id';
      if (!Number.isSafeInteger(body.ack) || (body.ack as number) < 0) return 'request: bad ack';
      if (typeof body.method !== 'string') return 'request: bad method';
      return { kind, id: body.id, ack: body.ack as number, method: body.method, params: body.params ?? null };
    case 'reply':
      if (!isId(body.id)) return 'reply: bad id';
      if ('error' in body) {
        if (!isWireError(body.error)) return 'reply: bad error';
        return { kind, id: body.id, reply: { error: { code: body.error.code, message: body.error.message } } };
      }
      if (!('result' in body)) return 'reply: neither result nor error';
      return { kind, id: body.id, reply: { result: body.result } };
    case 'upcall':
      if (typeof body.method !== 'string') return 'upcall: bad method';
      return { kind, method: body.method, params: body.params ?? null };
    case 'ping':
    case 'pong':
      return { kind };
    case 'refused':
      if (!isWireError(body.error)) return 'refused: bad error';
      return { kind, error: { code: body.error.code.slice(0, 64), message: body.error.message.slice(0, 1024) } };
  }
}

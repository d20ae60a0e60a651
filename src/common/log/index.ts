/**
 * Structured logging for both processes: pino, JSON lines, written asynchronously (sonic-boom
 * with sync: false) so logging never blocks the FUSE event loop.
 *
 * Destinations: a log file opened for append, stderr, both (pino.multistream) or neither
 * (level 'silent'). Level 'trace' when tracing, else 'info'. Values under common secret field
 * names are replaced by '[REDACTED]' at any depth up to three levels; client and mount IDs (bearer
 * names of sessions) are cut to their first 8 characters (shortId). The file is created 0600. reopen() reopens the file
 * (SIGHUP after log rotation); close() flushes and closes it (stderr is flushed, never closed).
 * rate-limit.ts bounds the lines one kind of event can cause (refused peers, plug-in output).
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { PfsError } from '../errors/index.js';

export { LogRateLimiter, rateLimitedLog, type RateLimitedLog, type RateLimitOptions } from './rate-limit.js';

/** The logging surface the rest of the code needs (pino's Logger satisfies it). */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface LoggerOptions {
  /** Logged as `name` on every line: the program, or the agent's volume. */
  name: string;
  /** Log file path, opened for append; absent or '' means no file. */
  filePath?: string;
  toConsole: boolean;
  trace: boolean;
}

export interface LogHandle {
  logger: pino.Logger;
  /** Reopens the log file at the same path (after rotation). No-op without a file. */
  reopen(): void;
  /** Flushes pending lines and closes the file. */
  close(): Promise<void>;
}

/**
 * Field names whose values never reach a log. Plain `key` is deliberately absent: object-store
 * keys (object names) are logged everywhere and are not secret.
 */
export const SECRET_FIELDS = [
  'authToken', 'AuthToken', 'token', 'Token', 'secret', 'Secret', 'password', 'Password',
  'PlugInEnvValue', 'SecretAccessKey', 'secretAccessKey', 'AuthKey', 'authKey', 'accessKey',
  'secretKey', 'privateKey', 'authorization', 'Authorization', 'x-auth-token', 'X-Auth-Token',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const field of SECRET_FIELDS) {
    const f = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
    const dot = f.startsWith('[') ? '' : '.';
    paths.push(f, `*${dot}${f}`, `*.*${dot}${f}`);
  }
  return paths;
}

type Boom = ReturnType<typeof pino.destination>;

function endStream(dest: Boom): Promise<void> {
  return new Promise((resolve) => {
    dest.once('close', () => resolve());
    dest.once('error', () => resolve());
    dest.end();
  });
}

function flushStream(dest: Boom): Promise<void> {
  return new Promise((resolve) => dest.flush(() => resolve()));
}

/** The first 8 characters of an ID: enough to tell sessions apart in a log, too few to use one. */
export function shortId(id: unknown): unknown {
  return typeof id === 'string' && id.length > 8 ? `${id.slice(0, 8)}…` : id;
}

/** Opens the log file once synchronously so that a bad LogFilePath is a config error at start-up. */
function openLogFile(filePath: string): Boom {
  try {
    mkdirSync(path.dirname(filePath), { recursive: true });
    closeSync(openSync(filePath, 'a', 0o600));
  } catch (err) {
    const problem = `cannot open log file ${JSON.stringify(filePath)}: ${(err as Error).message}`;
    throw new PfsError('PFS_ERR_CONFIG', problem, { cause: err });
  }
  const dest = pino.destination({ dest: filePath, append: true, sync: false });
  // A later write error (disk full, file removed) must not crash the process.
  dest.on('error', (err: Error) => process.stderr.write(`log file ${filePath}: ${err.message}\n`));
  return dest;
}

/** Throws PfsError('PFS_ERR_CONFIG') when the log file cannot be opened. */
export function createLogger(opts: LoggerOptions): LogHandle {
  const file = opts.filePath ? openLogFile(opts.filePath) : undefined;
  const console = opts.toConsole ? pino.destination({ dest: 2, sync: false }) : undefined;
  const streams = [file, console].filter((s): s is Boom => s !== undefined);
  const level = streams.length === 0 ? 'silent' : opts.trace ? 'trace' : 'info';
  const options: pino.LoggerOptions = {
    name: opts.name,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths(), censor: '[REDACTED]' },
    serializers: { clientId: shortId, mountId: shortId },
  };
  const logger = streams.length <= 1
    ? pino(options, streams[0] ?? { write: () => undefined })
    : pino(options, pino.multistream(streams.map((stream) => ({ stream, level: level as pino.Level }))));

  let closed: Promise<void> | undefined;
  return {
    logger,
    reopen() {
      if (file && !closed) file.reopen();
    },
    close() {
      closed ??= (async () => {
        logger.level = 'silent'; // lines logged after close are dropped, not written to a closed file
        if (file) await endStream(file);
        if (console) await flushStream(console);
      })();
      return closed;
    },
  };
}

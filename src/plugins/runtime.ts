/**
 * What every shipped auth plug-in does the same way (docs/PLUGINS.md):
 * - reads its JSON configuration from the environment variable named by argv[1];
 * - answers once at start and once per byte read from stdin, one answer at a time, each a
 *   single line of JSON on stdout;
 * - exits 0 when stdin closes, 1 when it cannot produce credentials, 2 on a configuration error,
 *   with one line on stderr that never contains a secret;
 * - makes HTTP requests with a timeout and a few retries for transient failures.
 */

export const EXIT_AUTH_FAILED = 1;
export const EXIT_CONFIG = 2;

/** A failure the plug-in reports on stderr before exiting with `exitCode`. */
export class PluginFailure extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_AUTH_FAILED) {
    super(message);
  }
}

/** The configuration object from the environment variable named by argv[1]. */
export function readConfig(): Record<string, unknown> {
  const envName = process.argv[2];
  if (!envName) throw new PluginFailure('usage: PLUGIN ENVNAME (the environment variable holding the JSON configuration)', EXIT_CONFIG);
  const text = process.env[envName];
  if (text === undefined || text === '') throw new PluginFailure(`environment variable ${envName} is not set`, EXIT_CONFIG);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PluginFailure(`environment variable ${envName} does not hold valid JSON`, EXIT_CONFIG);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new PluginFailure(`environment variable ${envName} must hold a JSON object`, EXIT_CONFIG);
  }
  return value as Record<string, unknown>;
}

/** A string field of the configuration; names the field, never echoes a value. */
export function field(conf: Record<string, unknown>, name: string, fallback?: string): string {
  const v = conf[name];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new PluginFailure(`configuration field "${name}" is missing`, EXIT_CONFIG);
  }
  if (typeof v !== 'string' || v === '') throw new PluginFailure(`configuration field "${name}" must be a non-empty string`, EXIT_CONFIG);
  return v;
}

export function optionalField(conf: Record<string, unknown>, name: string): string | undefined {
  return conf[name] === undefined || conf[name] === null ? undefined : field(conf, name);
}

/**
 * Runs the plug-in: `answer` at start and after every byte on stdin, in order. Never returns;
 * the process exits 0 at end of stdin or with the failure's code.
 */
export function serve(name: string, answer: () => Promise<object>): void {
  const fail = (err: unknown): never => {
    const failure = err instanceof PluginFailure ? err : new PluginFailure(`unexpected error: ${(err as Error)?.message ?? String(err)}`);
    process.stderr.write(`${name}: ${failure.message}\n`, () => process.exit(failure.exitCode));
    return undefined as never;
  };
  let queue = Promise.resolve();
  const next = () => {
    queue = queue.then(async () => {
      const obj = await answer();
      await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(obj)}\n`, () => resolve()));
    }).catch(fail);
  };
  next();
  process.stdin.on('data', (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i++) next();
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
}

export interface FetchOptions {
  timeoutMs?: number;
  attempts?: number;
}

/**
 * fetch with a timeout per attempt and retries (250 ms, 1 s, ...) for network errors, timeouts
 * and 5xx answers. Other statuses are returned as they are. `what` names the request in errors.
 */
export async function fetchRetrying(url: string, init: RequestInit, what: string, opts: FetchOptions = {}): Promise<Response> {
  const attempts = opts.attempts ?? 3;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let problem = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, 250 * 4 ** (attempt - 2)));
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
      if (res.status < 500) return res;
      problem = `answered ${res.status} ${res.statusText}`;
      await res.body?.cancel();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      problem = e.name === 'TimeoutError' ? `did not answer within ${timeoutMs} ms` : `failed (${e.cause?.code ?? e.cause?.message ?? e.message})`;
    }
  }
  throw new PluginFailure(`${what} ${problem} (${attempts} attempts)`);
}

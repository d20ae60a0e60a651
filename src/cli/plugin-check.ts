/**
 * pfs plugin check PATH ENVNAME: runs an auth plug-in through one life as pfsagentd would
 * (start, first answer, two renewals, end of stdin) and prints each step, or exactly what went
 * wrong. The environment variable is taken from the caller's environment. Secrets are never
 * printed: tokens and keys appear as their length, and stderr is redacted.
 * Drives PluginProcess directly rather than startAuthPlugin, so that a fault is reported as it
 * happens instead of being retried.
 */
import { PluginProcess, Redactor, secretsOf, type Credentials, type PluginFault } from '../common/auth/index.js';

export interface PluginCheckOptions {
  path: string;
  envName: string;
  /** Per answer; default 30 s, as in pfsagentd. */
  answerTimeoutMs?: number;
  out(line: string): void;
}

const hidden = (s: string | undefined) => (s === undefined ? 'none' : `<${s.length} chars, redacted>`);

function describe(c: Credentials): string {
  if (c.kind === 'swift') return `kind=swift storageURL=${c.storageUrl} token=${hidden(c.authToken)}`;
  return [
    'kind=s3', `accessKeyId=${hidden(c.accessKeyId)}`, `secretAccessKey=${hidden(c.secretAccessKey)}`,
    `sessionToken=${hidden(c.sessionToken)}`, `expiration=${c.expiration?.toISOString() ?? 'none'}`,
    `endpoint=${c.endpoint ?? 'none'}`, `region=${c.region ?? 'none'}`, `bucket=${c.bucket ?? 'none'}`,
  ].join(' ');
}

const changed = (a: Credentials, b: Credentials) => secretsOf(a).join('\0') !== secretsOf(b).join('\0');

/** Returns the exit code: 0 when every step worked, 1 otherwise. */
export async function checkPlugin(opts: PluginCheckOptions): Promise<number> {
  const { out } = opts;
  const answerTimeoutMs = opts.answerTimeoutMs ?? 30_000;
  const envValue = process.env[opts.envName];
  let redactor = new Redactor();
  redactor.add(envValue);
  out(`checking auth plug-in ${opts.path} ${opts.envName} (answer timeout ${answerTimeoutMs} ms)`);
  out(envValue === undefined
    ? `warning: environment variable ${opts.envName} is not set here; the plug-in gets none`
    : `environment variable ${opts.envName}: set, ${envValue.length} chars`);

  const answers: Credentials[] = [];
  let fault: PluginFault | undefined;
  let wake: (() => void) | undefined;
  const seen: Credentials[] = [];
  const proc = new PluginProcess({
    path: opts.path,
    envName: opts.envName,
    answerTimeoutMs,
    redact: (text) => redactor.redact(text),
    onAnswer: (c) => {
      seen.push(c);
      redactor = new Redactor();
      redactor.add(envValue, ...seen.flatMap(secretsOf));
      answers.push(c);
      wake?.();
    },
    onFault: (f) => {
      fault = f;
      wake?.();
    },
    onStderr: (excerpt) => out(`  plug-in stderr: ${excerpt}`),
  });
  const next = async (): Promise<Credentials> => {
    while (answers.length === 0 && !fault) await new Promise<void>((resolve) => (wake = resolve));
    if (answers.length > 0) return answers.shift()!;
    throw fault!;
  };
  const failed = async (step: string, err: unknown): Promise<number> => {
    const problem = (err as PluginFault).problem ?? (err as Error).message;
    out(`FAILED at ${step}: the plug-in ${problem}`);
    await proc.close();
    return 1;
  };

  let t0 = Date.now();
  await new Promise((resolve) => setImmediate(resolve));
  if (proc.pid !== undefined) out(`started: pid ${proc.pid}`);
  let current: Credentials;
  try {
    current = await next();
  } catch (err) {
    return failed('start', err);
  }
  out(`first answer after ${Date.now() - t0} ms: ${describe(current)}`);
  if (current.kind === 's3' && current.expiration && current.expiration.getTime() <= Date.now()) {
    out('warning: the Expiration is in the past; pfsagentd would treat the keys as valid for 12 h');
  }
  for (const n of [1, 2]) {
    t0 = Date.now();
    if (!proc.requestRenewal()) return failed(`renewal ${n}`, fault ?? new Error('closed its stdin'));
    let renewed: Credentials;
    try {
      renewed = await next();
    } catch (err) {
      return failed(`renewal ${n}`, err);
    }
    out(`renewal ${n} ok after ${Date.now() - t0} ms (token changed: ${changed(current, renewed) ? 'yes' : 'no'})`);
    current = renewed;
  }
  // Unasked answers arrive as soon as they are printed; give them a moment to show.
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (answers.length > 0) out(`warning: ${answers.length} answer(s) nobody asked for`);
  if (fault) return failed('the end of renewal 2', fault);

  const exit = await proc.close();
  if (exit.signal) {
    out(`FAILED at shutdown: stdin closed, but the plug-in did not exit; killed with ${exit.signal} after ${exit.afterMs} ms`);
    return 1;
  }
  if (exit.code !== 0) {
    out(`FAILED at shutdown: stdin closed → exited with code ${exit.code} within ${exit.afterMs} ms (expected 0)`);
    return 1;
  }
  out(`stdin closed → exited with code 0 within ${exit.afterMs} ms`);
  out('plug-in OK');
  return 0;
}

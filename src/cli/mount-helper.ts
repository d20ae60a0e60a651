/**
 * mount.pfs: the mount(8) helper, so that `mount -t pfs VOLUME DIR -o conf=FILE` and fstab lines
 * (`VOLUME DIR pfs conf=FILE,_netdev 0 0`) mount a volume. mount(8) runs it as
 *   mount.pfs VOLUME DIR [-s] [-f] [-n] [-v] [-o OPTIONS]
 * It checks the config (errors name the file, line and key), starts pfsagentd detached (its own
 * session; stdout and stderr written to RUNDIR/VOLUME.out, mode 0600), waits until the agent
 * reports the mount or exits, and exits 0 (mounted), 1 (usage, bad option or config) or 32 (the
 * mount failed; the agent's own words follow). `umount DIR` ends the session; the agent then
 * writes back what it holds and exits (main.ts). README.md, "With mount(8) and /etc/fstab".
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../common/config/index.js';
import { agentSchema } from '../agent/config-schema.js';

const EXIT_USAGE = 1;
const EXIT_FAILURE = 32;
const MOUNTED_LINE = 'pfsagentd: mounted ';

/** Options mount(8) passes that mean nothing to a FUSE daemon (or only to mount(8) itself). */
const IGNORED = new Set(['defaults', 'rw', 'auto', 'noauto', 'nofail', '_netdev', 'nouser', 'noatime', 'relatime', 'async']);

class UsageError extends Error {}

export interface MountRequest {
  volume: string;
  mountPoint: string;
  conf: string;
  fake: boolean;
  verbose: boolean;
  /** Seconds to wait for the agent (option timeout=, default 120). */
  timeoutS: number;
}

/** Parses mount(8)'s helper arguments; unknown options are errors unless -s (sloppy) was given. */
export function parseMountArgs(argv: string[], warn: (msg: string) => void = () => undefined): MountRequest {
  const positional: string[] = [];
  const options: string[] = [];
  let sloppy = false;
  let fake = false;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-o') {
      const value = argv[++i];
      if (value === undefined) throw new UsageError('-o needs a value');
      options.push(...value.split(',').filter((o) => o !== ''));
    } else if (arg.startsWith('-o') && arg.length > 2) options.push(...arg.slice(2).split(',').filter((o) => o !== ''));
    else if (arg === '-s') sloppy = true;
    else if (arg === '-f') fake = true;
    else if (arg === '-n') { /* no /etc/mtab to write */ }
    else if (arg === '-v') verbose = true;
    else if (arg.startsWith('-t')) { if (arg === '-t') i++; }
    else if (arg.startsWith('-')) throw new UsageError(`unknown flag ${arg}`);
    else positional.push(arg);
  }
  if (positional.length !== 2) throw new UsageError('expected VOLUME and DIR');
  const volume = positional[0]!.replace(/^pfs:/, '');
  if (!/^[A-Za-z0-9._-]+$/.test(volume)) throw new UsageError(`bad volume name ${JSON.stringify(positional[0])}`);
  let conf = `/etc/pfs/${volume}.conf`;
  let timeoutS = 120;
  for (const o of options) {
    const eq = o.indexOf('=');
    const name = eq < 0 ? o : o.slice(0, eq);
    const value = eq < 0 ? undefined : o.slice(eq + 1);
    if (name === 'conf' && value) conf = value;
    else if (name === 'timeout' && value && /^[1-9]\d{0,4}$/.test(value)) timeoutS = Number(value);
    else if (IGNORED.has(o) || name.startsWith('x-') || name === 'comment') continue;
    else if (o === 'ro') throw new UsageError('read-only mounts are not supported: pfsagentd mounts read-write (leave out ro)');
    else if (sloppy) warn(`option ${o} ignored (-s)`);
    else throw new UsageError(`option ${o} is not supported (known: conf=FILE, timeout=SECONDS; ignored: ${[...IGNORED].join(', ')}, x-*, comment=)`);
  }
  return { volume, mountPoint: resolve(positional[1]!), conf: resolve(conf), fake, verbose, timeoutS };
}

/** The agent's start command: this build's pfsagentd main with the mount point set from the command line. */
function agentCommand(req: MountRequest): string[] {
  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'agent', 'main.js');
  return ['--enable-source-maps', main, req.conf, `Agent.FUSEMountPointPath=${req.mountPoint}`];
}

async function mountVolume(req: MountRequest): Promise<number> {
  // Config errors now, in mount's terminal, with the file, line and key.
  const config = loadConfig(agentSchema, req.conf, [`Agent.FUSEMountPointPath=${req.mountPoint}`], { privateSecrets: true });
  const named = config.sections.Agent!.FUSEVolumeName as string;
  if (named !== req.volume) throw new UsageError(`${req.conf}: [Agent] FUSEVolumeName is ${named}, not ${req.volume}: mount the volume the config names`);
  if (!existsSync(req.mountPoint) || !statSync(req.mountPoint).isDirectory()) throw new UsageError(`mount point ${req.mountPoint} is not a directory`);
  if (req.fake) return 0;
  const runDir = process.env.PFS_MOUNT_RUNDIR ?? '/run/pfs';
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const outPath = join(runDir, `${req.volume}.out`);
  const out = openSync(outPath, 'w', 0o600);
  const child = spawn(process.execPath, agentCommand(req), { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  if (req.verbose) process.stderr.write(`mount.pfs: started pfsagentd (pid ${child.pid}), output in ${outPath}\n`);
  const exited = new Promise<number>((ok) => child.on('exit', (code, signal) => ok(code ?? (signal ? 128 : 1))));
  const deadline = Date.now() + req.timeoutS * 1000;
  const read = () => { try { return readFileSync(outPath, 'utf8'); } catch { return ''; } };
  for (;;) {
    const code = await Promise.race([exited, new Promise<null>((ok) => setTimeout(() => ok(null), 100))]);
    if (read().includes(MOUNTED_LINE)) {
      child.unref();
      return 0;
    }
    if (code !== null) {
      process.stderr.write(`mount.pfs: pfsagentd exited (code ${code}) without mounting ${req.volume} at ${req.mountPoint}:\n${tail(read())}`);
      return EXIT_FAILURE;
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      process.stderr.write(`mount.pfs: pfsagentd did not mount ${req.volume} within ${req.timeoutS} s (stopped it); its output:\n${tail(read())}`);
      return EXIT_FAILURE;
    }
  }
}

/** The last lines of the agent's output (bounded). */
function tail(text: string): string {
  const lines = text.trimEnd().split('\n').slice(-20).join('\n');
  return `${lines.slice(-4000)}\n`;
}

/** mount.pfs's whole run: the exit code for mount(8). */
export async function runMountHelper(argv: string[]): Promise<number> {
  try {
    const req = parseMountArgs(argv, (msg) => process.stderr.write(`mount.pfs: ${msg}\n`));
    return await mountVolume(req);
  } catch (err) {
    process.stderr.write(`mount.pfs: ${(err as Error).message}\n`);
    if (err instanceof UsageError) process.stderr.write('usage: mount.pfs VOLUME DIR [-s] [-f] [-n] [-v] [-o conf=FILE[,timeout=SECONDS][,_netdev,...]]\n');
    return EXIT_USAGE;
  }
}

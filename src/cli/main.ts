/**
 * pfs: admin commands.
 *   pfs format CONF VOLUME [--force | --if-needed] [--root-owner UID:GID] [--root-mode OCTAL] [Section.Key=Value ...]
 *   pfs fsck CONF VOLUME [--verify-checksums] [Section.Key=Value ...]
 *   pfs plugin check PATH ENVNAME [--timeout-ms N]
 *   pfs stats URL [--count N] [--interval SECONDS]   (stats.ts: a live view of an agent)
 *   pfs ca init|issue-server|issue-agent ...          (ca.ts: the volume's CA for mutual TLS)
 * Exit codes: 0 success (fsck: no problems), 1 failure (fsck: problems found), 2 usage or config error.
 */
import { loadConfig } from '../common/config/index.js';
import { errorCode, PfsError } from '../common/errors/index.js';
import { systemClock } from '../common/clock/index.js';
import { volumeServerSchema } from '../volume/config-schema.js';
import { volumeSettingsFromConfig } from '../volume/server/index.js';
import { createLogger } from '../common/log/index.js';
import { formatVolume } from '../volume/admin/format.js';
import { fsckVolume } from '../volume/admin/fsck.js';
import { checkPlugin } from './plugin-check.js';
import { runStats } from './stats.js';
import { runCa } from './ca.js';

const USAGE = `usage:
  pfs format CONF VOLUME [--force | --if-needed] [--root-owner UID:GID] [--root-mode OCTAL] [Section.Key=Value ...]
  pfs fsck CONF VOLUME [--verify-checksums] [Section.Key=Value ...]
  pfs plugin check PATH ENVNAME [--timeout-ms N]
  pfs stats URL [--count N] [--interval SECONDS]
  pfs ca init --dir DIR [--days N]
  pfs ca issue-server --dir DIR --host NAME_OR_IP [--host ...] --out PREFIX [--days N]
  pfs ca issue-agent --dir DIR --name AGENT --volume NAME [--volume ...] --out PREFIX [--days N]
`;

class UsageError extends Error {}

function parse(args: string[]) {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  const overrides: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2);
      if (k === 'root-owner' || k === 'root-mode' || k === 'timeout-ms') flags.set(k, v ?? args[++i] ?? '');
      else flags.set(k!, true);
    } else if (/^[^=]+\.[^=.]+=/.test(a)) overrides.push(a);
    else positional.push(a);
  }
  return { flags, positional, overrides };
}

function volumeFrom(confPath: string, name: string | undefined, overrides: string[]) {
  if (!name) throw new UsageError('missing VOLUME');
  const config = loadConfig(volumeServerSchema, confPath, overrides, { privateSecrets: true });
  const settings = volumeSettingsFromConfig(config).find((v) => v.name === name);
  if (!settings) throw new PfsError('PFS_ERR_UNKNOWN_VOLUME', `${confPath}: no [Volume:${name}] section`);
  return settings;
}

async function main(argv: string[]): Promise<number> {
  // `pfs format` creates the database and the object directory: private, as the daemons keep them.
  process.umask(0o077);
  const [command, ...rest] = argv;
  if (command === 'stats') return runStats(rest);
  if (command === 'ca') return runCa(rest);
  const { flags, positional, overrides } = parse(rest);
  const known = command === 'format' ? ['force', 'if-needed', 'root-owner', 'root-mode'] : command === 'fsck' ? ['verify-checksums'] : command === 'plugin' ? ['timeout-ms'] : [];
  for (const f of flags.keys()) if (!known.includes(f)) throw new UsageError(`unknown option --${f}`);
  const [conf, volume] = positional;
  if (!conf) throw new UsageError(command ? `missing CONF` : 'missing command');
  const clock = systemClock();
  switch (command) {
    case 'format': {
      const settings = volumeFrom(conf, volume, overrides);
      const [uid, gid] = String(flags.get('root-owner') ?? '0:0').split(':').map(Number);
      const mode = parseInt(String(flags.get('root-mode') ?? '755'), 8);
      if (!Number.isInteger(uid) || !Number.isInteger(gid) || !Number.isInteger(mode)) throw new UsageError('bad --root-owner or --root-mode');
      const outcome = await formatVolume(settings, { force: flags.has('force'), ifNeeded: flags.has('if-needed'), root: { uid: uid!, gid: gid!, mode: mode & 0o7777 }, clock, log: cliLog() });
      process.stdout.write(outcome === 'formatted' ? `pfs: volume ${settings.name} formatted\n` : `pfs: volume ${settings.name} already formatted; left as it is\n`);
      return 0;
    }
    case 'fsck': {
      const settings = volumeFrom(conf, volume, overrides);
      const report = await fsckVolume(settings, { verifyChecksums: flags.has('verify-checksums'), clock, log: cliLog() });
      for (const p of report.problems) process.stdout.write(`${p}\n`);
      process.stdout.write(`pfs fsck: volume ${report.volume}: ${report.problems.length} problem(s), ${report.missingObjects} missing object(s), ${report.leakedObjects} leaked object(s)` +
        `${report.unstoredBytes > 0 ? `; ${report.unstoredBytes} byte(s) of files were never stored (failed write-backs: they read as EIO until rewritten)` : ''}\n`);
      return report.problems.length === 0 ? 0 : 1;
    }
    case 'plugin': {
      const [sub, pluginPath, envName, extra] = positional;
      if (sub !== 'check' || !pluginPath || !envName || extra !== undefined) throw new UsageError('expected: plugin check PATH ENVNAME');
      const timeoutMs = flags.has('timeout-ms') ? Number(flags.get('timeout-ms')) : undefined;
      if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError('bad --timeout-ms');
      return checkPlugin({ path: pluginPath, envName, ...(timeoutMs !== undefined && { answerTimeoutMs: timeoutMs }), out: (line) => process.stdout.write(`${line}\n`) });
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`pfs: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`pfs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(errorCode(err) === 'PFS_ERR_CONFIG' ? 2 : 1);
  },
);

/** Object-store retries and plug-in trouble go to stderr as JSON lines. */
function cliLog() {
  return createLogger({ name: 'pfs', toConsole: true, trace: false }).logger;
}

/**
 * proxyfsd: the volume server.  Usage: proxyfsd CONF [Section.Key=Value ...]
 * Composition root: reads config, builds the logger and the server, handles signals.
 * Exit codes: 0 after a clean SIGTERM/SIGINT shutdown, 2 for a bad config or usage, 1 for any
 * other fatal error (unformatted volume, port in use, metadata commit failure).
 */
import { loadConfig } from '../common/config/index.js';
import { createLogger } from '../common/log/index.js';
import { errorCode } from '../common/errors/index.js';
import { systemClock } from '../common/clock/index.js';
import { volumeServerSchema } from './config-schema.js';
import { startVolumeServer, volumeSettingsFromConfig, rpcServerSettingsFromConfig, leaseSettingsFromConfig } from './server/index.js';
import { createVolumeMetrics } from '../common/metrics/index.js';
import { versionInfo } from '../common/http/index.js';
import { startAdminServer, type AdminServerHandle } from './http/index.js';

async function main(argv: string[]): Promise<number> {
  const [file, ...overrides] = argv;
  if (!file || file === '-h' || file === '--help') {
    process.stderr.write('usage: proxyfsd CONF [Section.Key=Value ...]\n');
    return 2;
  }
  // Everything this daemon writes (database, WAL, objects, logs) is private (docs/SECURITY.md §5).
  process.umask(0o077);
  const config = loadConfig(volumeServerSchema, file, overrides, { privateSecrets: true });
  const logging = config.sections.Logging ?? {};
  const { logger, reopen, close: closeLog } = createLogger({
    name: 'proxyfsd',
    filePath: (logging.LogFilePath as string) || undefined,
    toConsole: (logging.LogToConsole as boolean) ?? true,
    trace: (logging.TraceEnabled as boolean) ?? false,
  });
  const clock = systemClock();
  const rpc = rpcServerSettingsFromConfig(config);
  const leases = leaseSettingsFromConfig(config);
  const metrics = createVolumeMetrics();
  const server = await startVolumeServer({ volumes: volumeSettingsFromConfig(config), rpc, leases, clock, log: logger, observer: metrics.dispatch, storeMetrics: { observer: metrics.objectStore, onRetry: (op, backend) => metrics.onRetry(op, backend) } });
  metrics.attach({
    gc: () => [...server.volumes.values()].map((v) => ({ volume: v.name, stats: v.gc.stats() })),
    mounts: () => server.mounts.list().filter((m) => !m.evicted),
    connectedClients: () => server.rpc.connectedClients().length,
  });
  let stopping = false;
  const httpConf = config.sections.HTTPServer;
  let admin: AdminServerHandle | undefined;
  try {
    admin = await startAdminServer({
      host: (httpConf?.IPAddr as string | undefined) ?? '127.0.0.1', port: (httpConf?.TCPPort as number | undefined) ?? 0,
      log: logger, metrics, server, version: versionInfo('proxyfsd'), config, schema: volumeServerSchema, serving: () => !stopping,
    });
  } catch (err) {
    await server.close();
    metrics.close();
    await closeLog();
    throw err;
  }
  logger.info({ volumes: [...server.volumes.keys()], address: `${rpc.host}:${server.port}` }, 'proxyfsd serving');
  process.stdout.write(`proxyfsd: serving ${[...server.volumes.keys()].join(', ')} on ${rpc.host}:${server.port}\n`);

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'proxyfsd shutting down');
      (admin?.close() ?? Promise.resolve()).then(() => server.close()).finally(() => metrics.close()).then(
        () => closeLog().then(() => resolve(0)),
        (err) => { logger.error({ err: (err as Error).stack }, 'shutdown failed'); void closeLog().then(() => resolve(1)); },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => reopen());
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    const code = errorCode(err);
    process.stderr.write(`proxyfsd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(code === 'PFS_ERR_CONFIG' ? 2 : 1);
  },
);

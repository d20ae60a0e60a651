/**
 * A fastify instance with pfs's HTTP conventions: JSON errors in fastify's own shape
 * ({statusCode, error, message}), 405 with an Allow header for a known path with another
 * method, 404 for an unknown path, trailing slashes ignored, no request logging above debug.
 */
import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../rpc/index.js';

export type Handler = (req: FastifyRequest, reply: FastifyReply) => unknown;

export interface HttpApp {
  readonly app: FastifyInstance;
  /** Registers a route (GET also answers HEAD) and remembers its path for 405 answers. */
  route(method: 'GET' | 'POST', path: string, handler: Handler): void;
}

/** The body of every error answer. */
export function errorBody(statusCode: number, message: string): { statusCode: number; error: string; message: string } {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

const trimPath = (url: string): string => {
  const path = url.split('?', 1)[0]!;
  return path.length > 1 ? path.replace(/\/+$/, '') || '/' : path;
};

export function createHttpApp(opts: { log: Logger }): HttpApp {
  const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true } });
  const allowed = new Map<string, Set<string>>();

  app.setNotFoundHandler((req, reply) => {
    const methods = allowed.get(trimPath(req.url));
    if (methods) {
      const allow = [...methods].sort().join(', ');
      return reply.code(405).header('allow', allow).send(errorBody(405, `${req.method} ${trimPath(req.url)}: allowed ${allow}`));
    }
    return reply.code(404).send(errorBody(404, `no such path: ${trimPath(req.url)}`));
  });

  app.setErrorHandler((err: { statusCode?: number; message?: string }, req, reply) => {
    const code = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (code >= 500) opts.log.error({ method: req.method, url: trimPath(req.url), err: err.message }, 'http request failed');
    return reply.code(code).send(errorBody(code, err.message ?? 'internal error'));
  });

  app.addHook('onResponse', (req, reply, done) => {
    opts.log.debug({ method: req.method, url: trimPath(req.url), statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http');
    done();
  });

  return {
    app,
    route(method, path, handler) {
      app.route({ method, url: path, handler });
      const set = allowed.get(path) ?? new Set<string>();
      set.add(method);
      if (method === 'GET') set.add('HEAD');
      allowed.set(path, set);
    },
  };
}

/** `?compact`, `?compact=1|true|yes` → packed JSON; absent, `0` or `false` → pretty (tab-indented, as the reference). */
export function wantsCompact(req: FastifyRequest): boolean {
  const q = req.query as Record<string, string | string[] | undefined>;
  const raw = q.compact;
  if (raw === undefined) return false;
  const v = String(Array.isArray(raw) ? raw.at(-1) : raw).toLowerCase();
  return v !== '0' && v !== 'false' && v !== 'no';
}

/** Sends `body` as JSON, pretty unless the request asked for ?compact. */
export function sendJson(req: FastifyRequest, reply: FastifyReply, body: unknown, statusCode = 200): FastifyReply {
  const text = wantsCompact(req) ? JSON.stringify(body) : JSON.stringify(body, null, '\t');
  return reply.code(statusCode).type('application/json; charset=utf-8').send(`${text}\n`);
}

/** Listens; a failure (address in use, not local) names the address and the config keys that set it. */
export async function listenHttp(app: FastifyInstance, host: string, port: number, keys: string): Promise<{ host: string; port: number }> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new Error(`HTTP server cannot listen on ${host}:${port} (${keys}): ${(err as Error).message}`, { cause: err });
  }
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') return { host, port };
  return { host: addr.address, port: addr.port };
}

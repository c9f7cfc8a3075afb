/**
 * The agent's HTTP API (routes in src/api/protocol.ts), on node:http. Every route but
 * `/healthz` needs `Authorization: Bearer <token>`. Bound to the agent's address only.
 *
 *   GET    /healthz                      200 (no auth)
 *   GET    /v1/info                      AgentInfo
 *   GET    /v1/vms                       { vms: AgentVm[] }
 *   GET    /v1/vms/:id                   AgentVm            (additive: not in the protocol table)
 *   PUT    /v1/vms/:id                   AgentVmSpec -> AgentVm (ensure)
 *   POST   /v1/vms/:id/start|stop|cont|kill|powerdown -> AgentVm
 *   DELETE /v1/vms/:id                   204
 *   GET    /v1/vms/:id/stats             UsageSample[]      (the VM's samples of the last pass)
 */
import http from 'node:http';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { agentVmSpecSchema, type AgentInfo } from '../api/protocol.js';
import { UsageError } from '../core/errors.js';
import { VmSpecInvalidError } from '../hypervisor/errors.js';
import { bearerMatches } from '../api/auth.js';
import { errorResponse, HttpError } from './http-errors.js';
import type { AgentLogger } from './log.js';
import type { Sampler } from './sampler.js';
import { VM_OPS, type VmManager, type VmOp } from './vm-manager.js';

/** What the API serves from. */
export interface AgentApiOptions {
  manager: VmManager;
  sampler: Sampler;
  info: () => AgentInfo;
  /** The bearer token (compared in constant time, never logged). */
  token: string;
  log: AgentLogger;
  /**
   * More routes (replication, shadows), tried in order after the built-in ones miss. Each
   * returns null for a path it does not own. Auth is checked before they run.
   */
  routes?: readonly AgentRoutes[];
}

/** A group of agent routes in its own module: null when the path is not one of its own. */
export type AgentRoutes = (method: string, path: string, req: http.IncomingMessage, query: URLSearchParams) => Promise<{ status: number; body: unknown } | null>;

/** A listening agent API. */
export interface AgentApi {
  /** The bound port. */
  readonly port: number;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;
const ID = '([a-z0-9][a-z0-9-]{0,62})';
const VM_ROUTE = new RegExp(`^/v1/vms/${ID}$`);
const VM_OP_ROUTE = new RegExp(`^/v1/vms/${ID}/(start|stop|cont|kill|powerdown|stats)$`);

/** Starts the API on `host:port` (port 0: any). */
export async function startAgentApi(o: AgentApiOptions, host: string, port: number): Promise<AgentApi> {
  const server = http.createServer((req, res) => void handle(o, req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    // Port taken, or an address this host does not have: a configuration problem.
    server.once('error', (e) => reject(new UsageError(`agent API cannot listen on ${host}:${port}: ${e.message}`)));
    server.listen({ host, port, exclusive: true }, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(o: AgentApiOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const t0 = performance.now();
  const method = req.method ?? 'GET';
  const [path, qs] = (req.url ?? '/').split('?', 2) as [string, string | undefined];
  let status = 500;
  try {
    const r = await route(o, method, path, req, new URLSearchParams(qs ?? ''));
    status = r.status;
    send(res, r.status, r.body);
  } catch (e) {
    const { status: s, body } = errorResponse(e);
    status = s;
    send(res, s, body);
  } finally {
    o.log.debug({ method, path, status, ms: Math.round((performance.now() - t0) * 10) / 10 }, 'api request');
  }
}

async function route(o: AgentApiOptions, method: string, path: string, req: http.IncomingMessage, query: URLSearchParams): Promise<{ status: number; body: unknown }> {
  if (path === '/healthz') {
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'GET');
    return { status: 200, body: { ok: true } };
  }
  if (!bearerMatches(req.headers.authorization, o.token)) throw new HttpError(401, 'UNAUTHORIZED', 'missing or wrong bearer token');

  if (path === '/v1/info') return only(method, 'GET', () => ({ status: 200, body: o.info() }));
  if (path === '/v1/vms') return only(method, 'GET', async () => ({ status: 200, body: { vms: await o.manager.list() } }));

  for (const extra of o.routes ?? []) {
    const r = await extra(method, path, req, query);
    if (r) return r;
  }

  let m = VM_ROUTE.exec(path);
  if (m) {
    const id = m[1];
    if (method === 'GET') return { status: 200, body: await o.manager.observe(id) };
    if (method === 'PUT') return { status: 200, body: await o.manager.ensure(parseSpec(await readJson(req), id)) };
    if (method === 'DELETE') {
      await o.manager.delete(id);
      return { status: 204, body: null };
    }
    throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'GET, PUT or DELETE');
  }
  m = VM_OP_ROUTE.exec(path);
  if (m) {
    const [, id, op] = m;
    if (op === 'stats') {
      return only(method, 'GET', async () => {
        await o.manager.observe(id); // VM_NOT_FOUND for an unknown id
        return { status: 200, body: o.sampler.latestSamples(id) };
      });
    }
    if (!(VM_OPS as readonly string[]).includes(op)) throw new HttpError(404, 'NOT_FOUND', `no operation ${op}`);
    return only(method, 'POST', async () => ({ status: 200, body: await o.manager.op(id, op as VmOp) }));
  }
  throw new HttpError(404, 'NOT_FOUND', `no route ${method} ${path}`);
}

async function only(method: string, want: string, fn: () => Promise<{ status: number; body: unknown }> | { status: number; body: unknown }) {
  if (method !== want) throw new HttpError(405, 'METHOD_NOT_ALLOWED', want);
  return fn();
}

/** The body as an AgentVmSpec; the id comes from the path (a differing body id is refused). */
function parseSpec(body: unknown, id: string) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'BAD_REQUEST', 'body must be a JSON object (AgentVmSpec)');
  const b = body as Record<string, unknown>;
  if (b.id !== undefined && b.id !== id) throw new HttpError(400, 'BAD_REQUEST', `body id ${JSON.stringify(b.id)} differs from the path's ${JSON.stringify(id)}`);
  const r = agentVmSpecSchema.safeParse({ ...b, id });
  if (!r.success) throw new VmSpecInvalidError(r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })), id);
  return r.data;
}

/** The request body as JSON (`{}` when empty); 400/413 HttpErrors otherwise. */
export function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'PAYLOAD_TOO_LARGE', `body over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text.trim()) return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new HttpError(400, 'BAD_REQUEST', 'body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  if (status === 204 || body === null) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

/**
 * The server's REST API (routes in src/api/protocol.ts). Handlers validate with the protocol's
 * zod schemas, read and write through the Store, and leave side effects on agents to the
 * reconciler. Errors are thrown as typed errors and rendered in one place (http-errors.ts).
 *
 * Additive routes (not in the protocol table): `GET /v1/events?after=&vm=&kind=&limit=`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import {
  agentRegistrationSchema,
  heartbeatSchema,
  sampleBatchSchema,
  vmCreateSchema,
  type AgentRecord,
  type StatusReport,
  type VmRecord,
} from '../api/protocol.js';
import type { Clock } from '../core/clock.js';
import { ConflictError, NotFoundError } from '../store/errors.js';
import type { AgentRow, ObservedVm, Store, VmRow } from '../store/store.js';
import type { AgentApi } from './agent-client.js';
import { bearerMatches } from '../api/auth.js';
import { UnauthorizedError } from './errors.js';
import { parseWith, readJson, sendJson } from './http.js';
import { errorResponse } from './http-errors.js';
import { hostLoads, placeVm, type PlacementOptions } from './placement.js';
import type { Profiler } from './profiler.js';
import type { Reconciler } from './reconciler.js';
import { Router, type Route } from './router.js';
import type { ShadowReconciler } from '../shadow/reconciler.js';
import type { FailoverController } from '../failover/controller.js';
import { shadowRoutes, statusVms } from './shadow-routes.js';

/** Logging the API does (pino satisfies it). The token and headers are never fields. */
export interface ApiLogger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

/** What the handlers work with. */
export interface ApiContext {
  store: Store;
  clock: Clock;
  token: string;
  log: ApiLogger;
  reconciler: Reconciler;
  profiler: Profiler;
  agents: AgentApi;
  placement: PlacementOptions;
  leaseMs: number;
  heartbeatMs: number;
  maxBodyBytes: number;
  version: string;
  startedAt: number;
  /** The server's base URL (known once it listens). */
  url: () => string;
  /** Asks the reconciler loop for a pass soon. */
  kickReconciler: () => void;
  /** The shadow manager (absent in servers built without one, e.g. some tests). */
  shadows?: ShadowReconciler;
  /** Asks the shadow loop for a pass soon. */
  kickShadows?: () => void;
  /** The failover controller (absent without a policy). */
  failover?: FailoverController;
}

/** A request as handlers see it. */
export interface Request {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  body: () => Promise<unknown>;
}

/** A handler's reply. */
export interface Reply {
  status: number;
  body?: unknown;
}

/** A route handler. */
export type Handler = (r: Request) => Promise<Reply>;

const num = z.coerce.number().refine(Number.isFinite, { message: 'expected a number' });
const samplesQuery = z.strictObject({
  metric: z.string().min(1).optional(),
  from: num.optional(),
  to: num.optional(),
  limit: z.coerce.number().int().positive().max(1_000_000).optional(),
});
const eventsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  vm: z.string().min(1).optional(),
  kind: z.string().min(1).optional(),
  limit: z.coerce.number().int().positive().max(100_000).optional(),
});

/** The protocol's AgentRecord of a stored agent at `now`. */
export function agentRecord(a: AgentRow, now: number): AgentRecord {
  return {
    name: a.name,
    apiUrl: a.apiUrl,
    address: a.address,
    labels: { ...a.labels },
    capacity: { ...a.capacity },
    leaseExpiresAt: a.leaseExpiresAt,
    alive: now < a.leaseExpiresAt,
  };
}

/** The protocol's VmRecord of a stored VM. */
export function vmRecord(v: VmRow): VmRecord {
  const s = v.status;
  return {
    id: v.id,
    role: v.role,
    spec: { id: v.id, host: v.spec.host, vcpus: v.spec.vcpus, memoryMiB: v.spec.memoryMiB, labels: { ...v.spec.labels }, protect: Boolean(v.spec.protect) },
    status: {
      state: s.state,
      host: s.host,
      pid: s.pid,
      endpoint: s.endpoint,
      observedAt: s.observedAt,
      lastError: s.lastError ? { ...s.lastError } : null,
    },
  };
}

function observedFrom(vms: readonly { id: string; state: string; pid: number | null; endpoint?: string | null }[]): ObservedVm[] {
  return vms.map((v) => ({ id: v.id, state: v.state, pid: v.pid, endpoint: v.endpoint ?? null, lastError: null }));
}

function sameObserved(a: readonly ObservedVm[], b: readonly ObservedVm[]): boolean {
  return a.length === b.length && a.every((v, i) => v.id === b[i].id && v.state === b[i].state && v.pid === b[i].pid);
}

/** The routes, bound to `ctx`. */
export function apiRoutes(ctx: ApiContext): Route<Handler>[] {
  const { store, clock } = ctx;
  const leaseReply = () => ({ leaseSeconds: ctx.leaseMs / 1000, heartbeatSeconds: ctx.heartbeatMs / 1000 });

  return [
    { method: 'GET', path: '/healthz', auth: false, handler: async () => ({ status: 200, body: { ok: true } }) },

    {
      method: 'POST',
      path: '/v1/agents/register',
      auth: true,
      handler: async (r) => {
        const reg = parseWith(agentRegistrationSchema, await r.body(), 'registration');
        const now = clock.now();
        await store.transaction((tx) => {
          const fresh = !tx.getAgent(reg.name);
          tx.putAgent(reg, { now, leaseExpiresAt: now + ctx.leaseMs, observed: observedFrom(reg.vms) });
          tx.appendEvent({ t: now, kind: 'agent.registered', data: { host: reg.name, apiUrl: reg.apiUrl, vms: reg.vms.length, fresh } });
        });
        ctx.log.info({ host: reg.name, apiUrl: reg.apiUrl, vms: reg.vms.length }, 'agent registered');
        ctx.kickReconciler();
        return { status: 200, body: leaseReply() };
      },
    },

    {
      method: 'POST',
      path: '/v1/agents/:name/heartbeat',
      auth: true,
      handler: async (r) => {
        const hb = parseWith(heartbeatSchema, await r.body(), 'heartbeat');
        const now = clock.now();
        const observed = observedFrom(hb.vms);
        // 404 (NOT_FOUND) for an unknown agent: it registers again.
        const changed = await store.transaction((tx) => {
          const before = tx.getAgent(r.params.name);
          if (!before) throw new NotFoundError('agent', r.params.name, { host: r.params.name });
          const wasDead = now >= before.leaseExpiresAt;
          tx.renewLease(r.params.name, { now, leaseExpiresAt: now + ctx.leaseMs, observed });
          return wasDead || !sameObserved(before.observed, observed);
        });
        if (changed) ctx.kickReconciler();
        return { status: 200, body: { leaseSeconds: ctx.leaseMs / 1000 } };
      },
    },

    {
      method: 'POST',
      path: '/v1/samples',
      auth: true,
      handler: async (r) => {
        const batch = parseWith(sampleBatchSchema, await r.body(), 'sample batch');
        const accepted = await store.transaction((tx) => {
          // A VM that failed over runs as another instance id on its agent: its samples are the VM's.
          const byInstance = new Map(tx.listVms().flatMap((v) => (v.spec.instance ? [[v.spec.instance, v.id] as const] : [])));
          const samples = byInstance.size ? batch.samples.map((x) => (byInstance.has(x.vmId) ? { ...x, vmId: byInstance.get(x.vmId)! } : x)) : batch.samples;
          return tx.insertSamples(samples);
        });
        return { status: 200, body: { accepted } };
      },
    },

    {
      method: 'GET',
      path: '/v1/agents',
      auth: true,
      handler: async () => {
        const now = clock.now();
        const agents = await store.read((x) => x.listAgents());
        return { status: 200, body: { agents: agents.map((a) => agentRecord(a, now)) } };
      },
    },

    {
      method: 'GET',
      path: '/v1/vms',
      auth: true,
      handler: async () => ({ status: 200, body: { vms: (await store.read((x) => x.listVms())).map(vmRecord) } }),
    },

    {
      method: 'POST',
      path: '/v1/vms',
      auth: true,
      handler: async (r) => {
        const req = parseWith(vmCreateSchema, await r.body(), 'VM');
        const now = clock.now();
        // Placement and the record in one transaction: two creations cannot both take the last room.
        const { vm, created } = await store.transaction((tx) => {
          const existing = tx.getVm(req.id);
          if (existing) {
            const same =
              existing.spec.vcpus === req.vcpus &&
              Boolean(existing.spec.protect) === req.protect &&
              existing.spec.memoryMiB === req.memoryMiB &&
              JSON.stringify(existing.spec.labels) === JSON.stringify(req.labels) &&
              (req.host === undefined || req.host === existing.spec.host);
            if (!same) throw new ConflictError(`VM ${req.id} exists with another spec`, { vmId: req.id });
            return { vm: existing, created: false };
          }
          const host = placeVm(req, hostLoads(tx.listAgents(), tx.listVms(), now, tx.listShadows()), ctx.placement);
          const spec = { vcpus: req.vcpus, memoryMiB: req.memoryMiB, host, labels: req.labels, ...(req.protect ? { protect: true } : {}) };
          const row = tx.createVm({
            id: req.id,
            role: 'primary',
            spec,
            createdAt: now,
            status: { state: 'pending', host, pid: null, endpoint: null, observedAt: null, lastError: null },
          });
          tx.appendEvent({ t: now, kind: 'vm.created', vmId: req.id, data: { host, vcpus: req.vcpus, memoryMiB: req.memoryMiB } });
          return { vm: row, created: true };
        });
        if (created) ctx.log.info({ vmId: vm.id, host: vm.spec.host }, 'vm placed');
        // The ensure happens now, so the reply says how it went; failures are the VM's status.
        await ctx.reconciler.ensure(vm.id);
        await ctx.reconciler.rebuild();
        const after = await store.read((x) => x.getVm(vm.id));
        return { status: created ? 201 : 200, body: vmRecord(after ?? vm) };
      },
    },

    {
      method: 'GET',
      path: '/v1/vms/:id',
      auth: true,
      handler: async (r) => {
        const vm = await store.read((x) => x.getVm(r.params.id));
        if (!vm) throw new NotFoundError('vm', r.params.id, { vmId: r.params.id });
        return { status: 200, body: vmRecord(vm) };
      },
    },

    {
      method: 'DELETE',
      path: '/v1/vms/:id',
      auth: true,
      handler: async (r) => {
        const id = r.params.id;
        const found = await store.read((x) => {
          const vm = x.getVm(id);
          return vm ? { vm, agent: x.getAgent(vm.spec.host) } : undefined;
        });
        if (!found) throw new NotFoundError('vm', id, { vmId: id });
        const now = clock.now();
        const hostAlive = found.agent !== undefined && now < found.agent.leaseExpiresAt;
        // A live host must confirm (an agent error keeps the record: retry the delete); a lost
        // host cannot, and the record goes anyway (its agent fences itself).
        if (hostAlive) await ctx.agents.deleteVm(found.agent!, id);
        await store.transaction((tx) => {
          tx.deleteVm(id);
          tx.appendEvent({ t: now, kind: 'vm.deleted', vmId: id, data: { host: found.vm.spec.host, hostAlive } });
        });
        ctx.reconciler.forget(id);
        ctx.log.info({ vmId: id, host: found.vm.spec.host, hostAlive }, 'vm deleted');
        return { status: 204 };
      },
    },

    {
      method: 'GET',
      path: '/v1/vms/:id/samples',
      auth: true,
      handler: async (r) => {
        const q = parseWith(samplesQuery, Object.fromEntries(r.query), 'query', ['query']);
        const samples = await store.read((x) => x.querySamples({ vmId: r.params.id, ...q }));
        return { status: 200, body: { samples } };
      },
    },

    {
      method: 'GET',
      path: '/v1/vms/:id/forecasts',
      auth: true,
      handler: async (r) => {
        const rows = await store.read((x) => x.getForecasts(r.params.id));
        const last = ctx.profiler.last;
        // Additive: when each was computed, and what the last pass skipped for this VM.
        return {
          status: 200,
          body: {
            forecasts: rows.map((f) => f.forecast),
            computedAt: Object.fromEntries(rows.map((f) => [f.metric, f.computedAt])),
            skipped: (last?.skipped ?? []).filter((s) => s.vmId === r.params.id).map(({ metric, code, reason }) => ({ metric, code, reason })),
          },
        };
      },
    },

    {
      // Additive: run a profiler pass now (after importing history) and return its report.
      method: 'POST',
      path: '/v1/profile',
      auth: true,
      handler: async () => {
        const report = await ctx.profiler.pass();
        ctx.kickShadows?.();
        return { status: 200, body: report };
      },
    },

    {
      method: 'GET',
      path: '/v1/events',
      auth: true,
      handler: async (r) => {
        const q = parseWith(eventsQuery, Object.fromEntries(r.query), 'query', ['query']);
        const events = await store.read((x) => x.listEvents({ afterSeq: q.after, vmId: q.vm, kind: q.kind, limit: q.limit }));
        return { status: 200, body: { events } };
      },
    },

    {
      method: 'GET',
      path: '/v1/status',
      auth: true,
      handler: async () => {
        const now = clock.now();
        const [agents, vms, shadows] = await store.read((x) => [x.listAgents(), x.listVms(), x.listShadows()] as const);
        const report: StatusReport = {
          server: { url: ctx.url(), version: ctx.version, startedAt: ctx.startedAt },
          agents: agents.map((a) => agentRecord(a, now)),
          vms: statusVms(vms, shadows),
        };
        return { status: 200, body: report };
      },
    },

    ...shadowRoutes(ctx),
  ];
}

/** The request listener: auth, routing, body, handler, errors; one debug log line per request. */
export function createRequestHandler(ctx: ApiContext): (req: IncomingMessage, res: ServerResponse) => void {
  const router = new Router(apiRoutes(ctx));
  return (req, res) => {
    const t0 = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    let route = url.pathname;
    void (async () => {
      try {
        const m = router.match(req.method ?? 'GET', url.pathname);
        route = m.route.path;
        if (m.route.auth && !bearerMatches(req.headers.authorization, ctx.token)) throw new UnauthorizedError();
        let body: Promise<unknown> | undefined;
        const reply = await m.route.handler({ req, params: m.params, query: url.searchParams, body: () => (body ??= readJson(req, ctx.maxBodyBytes)) });
        sendJson(res, reply.status, reply.body);
      } catch (e) {
        const { status, body, internal } = errorResponse(e);
        if (internal) ctx.log.error({ method: req.method, route, err: e instanceof Error ? e.stack : String(e) }, 'request failed');
        const headers: Record<string, string> = status === 401 ? { 'www-authenticate': 'Bearer' } : {};
        // Do not read the rest of a refused upload.
        if (status === 401 || status === 413) headers.connection = 'close';
        if (!res.headersSent) sendJson(res, status, body, headers);
        else res.destroy();
      } finally {
        ctx.log.debug({ method: req.method, route, status: res.statusCode, ms: Math.round((performance.now() - t0) * 100) / 100 }, 'request');
      }
    })();
  };
}

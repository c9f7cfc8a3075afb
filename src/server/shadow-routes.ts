/**
 * The shadow manager's routes (issue 4), added to the server API (src/server/api.ts):
 *
 *   GET  /v1/shadows                      -> { shadows: ShadowView[] }
 *   GET  /v1/shadows/:id                  -> ShadowView
 *   POST /v1/shadows/:id/verify           -> VerifyResult     (checksums of both sides now)
 *   POST /v1/shadows/:id/rehearse         -> RehearsalResult  (the warm-up now)
 *   POST /v1/shadows/:id/resync           -> ReplicationStatus (a new full copy)
 *   GET  /v1/vms/:id/shadows              -> { shadows: ShadowView[] }
 *   GET  /v1/vms/:id/explain              -> Explanation      (the numbers behind the decision)
 *   POST /v1/vms/:id/protect  {protect}   -> VmRecord         (keep a shadow whatever the risk)
 *   GET  /v1/alerts?all=&vm=&limit=       -> { alerts: AlertRow[] }
 *   POST /v1/vms/:id/failover {dryRun?}   -> ManualFailoverResult (issue 5: a failover now)
 *   GET  /v1/failovers?vm=&running=&limit= -> { failovers: FailoverRow[] }
 *
 * A ShadowView is the stored record without the guest admin token.
 */
import { z } from 'zod';
import type { StatusReport } from '../api/protocol.js';
import type { ShadowRow, VmRow } from '../store/store.js';
import { NotFoundError } from '../store/errors.js';
import type { ApiContext, Handler } from './api.js';
import { vmRecord } from './api.js';
import { parseWith } from './http.js';
import type { Route } from './router.js';
import { UmbraError } from '../core/errors.js';

/** A shadow as the API shows it: the stored record without the guest admin token. */
export type ShadowView = ShadowRow;

/** The record without the guest admin token (a secret: never sent or logged). */
export function shadowView(s: ShadowRow): ShadowView {
  const { adminToken: _secret, ...status } = s.status;
  return { ...s, status: status as ShadowRow['status'] };
}

/** The StatusReport's VM list: primaries (with their active shadow's sync state) and shadows. */
export function statusVms(vms: readonly VmRow[], shadows: readonly ShadowRow[]): StatusReport['vms'] {
  const active = shadows.filter((s) => s.phase === 'active');
  const syncOf = (vmId: string): string | null => {
    const mine = active.filter((s) => s.vmId === vmId).sort((a, b) => b.createdAt - a.createdAt);
    // The best state among its shadows (a refresh runs two at once).
    return mine.find((s) => s.status.sync === 'synchronized')?.status.sync ?? mine[0]?.status.sync ?? null;
  };
  const out: StatusReport['vms'] = vms.map((v) => ({
    id: v.id,
    role: v.role,
    host: v.spec.host,
    pid: v.status.pid,
    state: v.status.state,
    endpoint: v.status.endpoint,
    sync: v.role === 'primary' ? syncOf(v.id) : null,
  }));
  for (const s of shadows) {
    out.push({
      id: s.id,
      role: 'shadow',
      host: s.host,
      pid: s.status.vm?.pid ?? null,
      state: s.phase === 'retiring' ? 'retiring' : (s.status.vm?.state ?? 'provisioning'),
      endpoint: s.status.vm?.endpoint ?? null,
      sync: s.status.sync,
      shadowOf: s.vmId,
      flavor: s.flavor,
      mode: s.mode,
      ready: s.status.vm?.ready === true,
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

const alertsQuery = z.strictObject({
  all: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').optional(),
  vm: z.string().min(1).optional(),
  limit: z.coerce.number().int().positive().max(10_000).optional(),
});
const protectBody = z.strictObject({ protect: z.boolean() });
const failoverBody = z.strictObject({ dryRun: z.boolean().default(false) });
const failoversQuery = z.strictObject({
  vm: z.string().min(1).optional(),
  running: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').optional(),
  limit: z.coerce.number().int().positive().max(10_000).optional(),
});

/** The server has no shadow manager (built without one). */
class ShadowsDisabledError extends UmbraError {
  constructor() {
    super('SHADOWS_DISABLED', 'this server runs without a shadow manager and failover controller (start it with a policy)');
    this.name = 'ShadowsDisabledError';
  }
}

/** The routes, bound to `ctx`. */
export function shadowRoutes(ctx: ApiContext): Route<Handler>[] {
  const { store, clock } = ctx;
  const manager = () => {
    if (!ctx.shadows) throw new ShadowsDisabledError();
    return ctx.shadows;
  };
  const getShadow = async (id: string) => {
    const s = await store.read((x) => x.getShadow(id));
    if (!s) throw new NotFoundError('shadow', id, { shadowId: id });
    return s;
  };
  const requireVm = async (id: string) => {
    const vm = await store.read((x) => x.getVm(id));
    if (!vm) throw new NotFoundError('vm', id, { vmId: id });
    return vm;
  };
  return [
    { method: 'GET', path: '/v1/shadows', auth: true, handler: async () => ({ status: 200, body: { shadows: (await store.read((x) => x.listShadows())).map(shadowView) } }) },
    { method: 'GET', path: '/v1/shadows/:id', auth: true, handler: async (r) => ({ status: 200, body: shadowView(await getShadow(r.params.id)) }) },
    { method: 'POST', path: '/v1/shadows/:id/verify', auth: true, handler: async (r) => ({ status: 200, body: await manager().verify((await getShadow(r.params.id)).id) }) },
    { method: 'POST', path: '/v1/shadows/:id/rehearse', auth: true, handler: async (r) => ({ status: 200, body: await manager().rehearse((await getShadow(r.params.id)).id) }) },
    { method: 'POST', path: '/v1/shadows/:id/resync', auth: true, handler: async (r) => ({ status: 200, body: await manager().resync((await getShadow(r.params.id)).id) }) },
    {
      method: 'GET',
      path: '/v1/vms/:id/shadows',
      auth: true,
      handler: async (r) => {
        await requireVm(r.params.id);
        return { status: 200, body: { shadows: (await store.read((x) => x.listShadows(r.params.id))).map(shadowView) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/vms/:id/explain',
      auth: true,
      handler: async (r) => {
        await requireVm(r.params.id);
        return { status: 200, body: await manager().explain(r.params.id) };
      },
    },
    {
      method: 'POST',
      path: '/v1/vms/:id/protect',
      auth: true,
      handler: async (r) => {
        const { protect } = parseWith(protectBody, await r.body(), 'protect request');
        const now = clock.now();
        const vm = await store.transaction((tx) => {
          const cur = tx.getVm(r.params.id);
          if (!cur) throw new NotFoundError('vm', r.params.id, { vmId: r.params.id });
          if (Boolean(cur.spec.protect) === protect) return cur;
          const { protect: _old, ...rest } = cur.spec;
          const next = tx.updateVmSpec(cur.id, { ...rest, labels: { ...rest.labels }, ...(protect ? { protect: true } : {}) });
          tx.appendEvent({ t: now, kind: 'vm.protect', vmId: cur.id, data: { protect } });
          return next;
        });
        ctx.kickShadows?.();
        return { status: 200, body: vmRecord(vm) };
      },
    },
    {
      method: 'POST',
      path: '/v1/vms/:id/failover',
      auth: true,
      handler: async (r) => {
        const { dryRun } = parseWith(failoverBody, await r.body(), 'failover request');
        await requireVm(r.params.id);
        if (!ctx.failover) throw new ShadowsDisabledError();
        return { status: 200, body: await ctx.failover.failover(r.params.id, { dryRun }) };
      },
    },
    {
      method: 'GET',
      path: '/v1/failovers',
      auth: true,
      handler: async (r) => {
        const q = parseWith(failoversQuery, Object.fromEntries(r.query), 'query', ['query']);
        return { status: 200, body: { failovers: await store.read((x) => x.listFailovers({ vmId: q.vm, running: q.running, limit: q.limit })) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/alerts',
      auth: true,
      handler: async (r) => {
        const q = parseWith(alertsQuery, Object.fromEntries(r.query), 'query', ['query']);
        return { status: 200, body: { alerts: await store.read((x) => x.listAlerts({ all: q.all, vmId: q.vm, limit: q.limit })) } };
      },
    },
  ];
}

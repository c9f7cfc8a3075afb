/**
 * The retire route (src/api/shadow-protocol.ts), mounted through the agent API's `routes`:
 *
 *   POST /v1/vms/:id/retire   RetireRequest -> RetireResult
 *
 * for a VM of the VM manager and for a promoted shadow of the shadow manager (retire.ts).
 */
import { retireRequestSchema, type RetireResult } from '../api/shadow-protocol.js';
import { readJson, type AgentRoutes } from './api.js';
import { HttpError } from './http-errors.js';
import type { RetireOptions, RetireOutcome } from './retire.js';

/** Who retires what: a promoted shadow's manager, else the VM manager. */
export interface RetireTargets {
  vms: { retire(id: string, opts: RetireOptions): Promise<RetireOutcome> };
  shadows: { ids(): string[]; retire(id: string, opts: RetireOptions): Promise<RetireOutcome> };
}

const ROUTE = /^\/v1\/vms\/([a-z0-9][a-z0-9-]{0,62})\/retire$/;

/**
 * The retire route. An id the shadow manager records is its (a promoted shadow is retired; a
 * standby shadow is refused: DELETE /v1/shadows/:id removes it); any other goes to the VM manager
 * (`VM_NOT_FOUND`, 404, for an id neither knows).
 */
export function retireRoutes(t: RetireTargets): AgentRoutes {
  return async (method, path, req) => {
    const m = ROUTE.exec(path);
    if (!m) return null;
    if (method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'POST');
    const parsed = retireRequestSchema.safeParse((await readJson(req)) ?? {});
    if (!parsed.success) throw new HttpError(400, 'BAD_REQUEST', `invalid retire request: ${parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    const id = m[1];
    const out = t.shadows.ids().includes(id) ? await t.shadows.retire(id, parsed.data) : await t.vms.retire(id, parsed.data);
    const body: RetireResult = { vmId: id, ...out };
    return { status: 200, body };
  };
}

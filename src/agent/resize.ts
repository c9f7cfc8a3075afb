/**
 * Growing a running VM (POST /v1/vms/:id/resize, src/api/shadow-protocol.ts): vCPUs hot-added
 * one at a time up to the request, memory as ONE DIMM of a multiple of {@link DIMM_STEP_MIB}
 * (the guest kernel onlines memory in 128 MiB blocks; one DIMM per call keeps the few DIMM
 * slots for later calls), all within the VM's maxima. Nothing is ever removed: a smaller
 * request leaves that resource as it is. The lab guest onlines what is plugged by itself
 * (`umbra-lab --hotplug`, `memhp_default_state=online`). CPU hot-add needs single-threaded TCG,
 * which QEMU VMs with room for more vCPUs get (hypervisor/qemu/args.ts accelArg).
 *
 * Used for agent VMs and promoted shadows alike: the agent tells where a VM's maxima are.
 */
import type { Clock } from '../core/clock.js';
import { UmbraError } from '../core/errors.js';
import { KeyedMutex } from '../core/keyed-mutex.js';
import { resizeRequestSchema, type ResizeRequest, type ResizeResult } from '../api/shadow-protocol.js';
import type { HypervisorDriver } from '../hypervisor/driver.js';
import { VmInvalidStateError } from '../hypervisor/errors.js';
import { readJson, type AgentRoutes } from './api.js';
import { HttpError } from './http-errors.js';
import { type AgentLogger } from './log.js';

/** DIMM sizes are multiples of this (the x86 guest's memory block size). */
export const DIMM_STEP_MIB = 128;

/** How far a VM may grow. */
export interface VmLimits {
  maxVcpus: number;
  maxMemoryMiB: number;
}

/** One invalid field of a resize request. */
export interface ResizeIssue {
  path: string;
  message: string;
}

/** A resize request beyond the VM's maxima (or malformed); `context.issues` lists every problem. */
export class ResizeRequestInvalidError extends UmbraError {
  constructor(vmId: string, issues: readonly ResizeIssue[]) {
    super('REQUEST_INVALID', `invalid resize request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { vmId, issues, path: issues[0]?.path });
    this.name = 'ResizeRequestInvalidError';
  }
}

/** What to plug: vCPUs to add and the size of the one DIMM to add (0: none). */
export interface ResizePlan {
  vcpus: number;
  dimmMiB: number;
}

/**
 * The hot-adds taking a VM from `now` to at least `want` within `limits`, or the request's
 * problems. The DIMM is the need rounded up to {@link DIMM_STEP_MIB}, and must fit under the
 * maximum. Pure.
 */
export function planResize(now: { vcpus: number; memoryMiB: number }, want: ResizeRequest, limits: VmLimits): { plan: ResizePlan } | { issues: ResizeIssue[] } {
  const issues: ResizeIssue[] = [];
  if (want.vcpus > limits.maxVcpus) issues.push({ path: 'vcpus', message: `at most the VM's maxVcpus (${limits.maxVcpus})` });
  if (want.memoryMiB > limits.maxMemoryMiB) issues.push({ path: 'memoryMiB', message: `at most the VM's maxMemoryMiB (${limits.maxMemoryMiB})` });
  const need = want.memoryMiB - now.memoryMiB;
  let dimmMiB = need > 0 ? Math.ceil(need / DIMM_STEP_MIB) * DIMM_STEP_MIB : 0;
  if (issues.length === 0 && dimmMiB > 0 && now.memoryMiB + dimmMiB > limits.maxMemoryMiB) {
    issues.push({ path: 'memoryMiB', message: `memory grows in DIMMs of ${DIMM_STEP_MIB} MiB multiples: ${now.memoryMiB} + ${dimmMiB} MiB would pass maxMemoryMiB (${limits.maxMemoryMiB})` });
    dimmMiB = 0;
  }
  if (issues.length) return { issues };
  return { plan: { vcpus: Math.max(0, want.vcpus - now.vcpus), dimmMiB } };
}

/** Options of {@link Resizer}. */
export interface ResizerOptions {
  driver: HypervisorDriver;
  clock: Clock;
  log: AgentLogger;
  /** The VM's maxima; throws for a VM the agent does not run (VM_NOT_FOUND) or must not grow (VM_INVALID_STATE). */
  limitsOf: (vmId: string) => VmLimits;
}

/** Grows VMs; one resize at a time per VM. See the module comment. */
export class Resizer {
  private readonly lock = new KeyedMutex();

  constructor(private readonly o: ResizerOptions) {}

  /** Hot-adds up to `req` (see {@link planResize}); answers what is plugged after. */
  resize(vmId: string, req: ResizeRequest): Promise<ResizeResult> {
    return this.lock.run(vmId, async () => {
      const { driver, clock, log } = this.o;
      const limits = this.o.limitsOf(vmId);
      const t0 = clock.now();
      const st = await driver.status(vmId);
      if ((st.state !== 'running' && st.state !== 'paused') || st.vcpus === null || st.memoryMiB === null) {
        throw new VmInvalidStateError(vmId, 'resize', st.state, 'a running or paused VM');
      }
      const p = planResize({ vcpus: st.vcpus, memoryMiB: st.memoryMiB }, req, limits);
      if ('issues' in p) throw new ResizeRequestInvalidError(vmId, p.issues);
      let vcpus = st.vcpus;
      let memoryMiB = st.memoryMiB;
      for (let i = 0; i < p.plan.vcpus; i++) ({ vcpus, memoryMiB } = await driver.hotAddVcpu(vmId));
      if (p.plan.dimmMiB > 0) ({ vcpus, memoryMiB } = await driver.hotAddMemory(vmId, p.plan.dimmMiB));
      const result: ResizeResult = { vcpus, memoryMiB, added: { vcpus: vcpus - st.vcpus, memoryMiB: memoryMiB - st.memoryMiB }, ms: clock.now() - t0 };
      if (result.added.vcpus || result.added.memoryMiB) log.info({ vmId, ...result.added, vcpus, memoryMiB, ms: result.ms }, 'VM resized');
      return result;
    });
  }
}

/** The body as a ResizeRequest; every invalid field listed. */
export function parseResizeRequest(body: unknown, vmId: string): ResizeRequest {
  const r = resizeRequestSchema.safeParse(body ?? {});
  if (r.success) return r.data;
  throw new ResizeRequestInvalidError(vmId, r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
}

const RESIZE = /^\/v1\/vms\/([a-z0-9][a-z0-9-]{0,62})\/resize$/;

/** `POST /v1/vms/:id/resize` over a {@link Resizer}. */
export function resizeRoutes(r: Resizer): AgentRoutes {
  return async (method, path, req) => {
    const m = RESIZE.exec(path);
    if (!m) return null;
    if (method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'POST');
    return { status: 200, body: await r.resize(m[1], parseResizeRequest(await readJson(req), m[1])) };
  };
}

/**
 * Placement of a new VM: on a live host with room for it, the least loaded one. Pure.
 *
 * Load of a host = the larger of its vCPU and memory shares once the VM is added, against its
 * capacity times the overcommit ratio; the smallest wins, ties go to the host with fewer VMs,
 * then by name (deterministic). Room counts the specs of every VM placed on the host, whatever
 * its state: a stopped VM keeps its reservation.
 */
import type { AgentRow, ShadowRow, VmRow } from '../store/store.js';
import { NotFoundError } from '../store/errors.js';
import { NoCapacityError } from './errors.js';

/** How much a host may be overcommitted: allocation ≤ capacity × ratio. */
export interface PlacementOptions {
  /** vCPUs per physical core (default 4: guests rarely all burn CPU at once). */
  cpuOvercommit: number;
  /** Memory ratio (default 1: no memory overcommit). */
  memoryOvercommit: number;
}

export const DEFAULT_PLACEMENT: Readonly<PlacementOptions> = Object.freeze({ cpuOvercommit: 4, memoryOvercommit: 1 });

/** A host as placement sees it. */
export interface HostLoad {
  name: string;
  alive: boolean;
  capacity: { cores: number; memoryMiB: number };
  used: { vcpus: number; memoryMiB: number; vms: number };
}

/** Every agent with the sum of the specs placed on it (and the shadows reserved on it); `alive` at `now` (epoch ms). */
export function hostLoads(agents: readonly AgentRow[], vms: readonly VmRow[], now: number, shadows: readonly Pick<ShadowRow, 'host' | 'size'>[] = []): HostLoad[] {
  return agents.map((a) => {
    const mine = vms.filter((v) => v.spec.host === a.name);
    // Shadows reserve what they were sized to (their host keeps that room for a promotion).
    const reserved = shadows.filter((s) => s.host === a.name);
    return {
      name: a.name,
      alive: now < a.leaseExpiresAt,
      capacity: { cores: a.capacity.cores, memoryMiB: a.capacity.memoryMiB },
      used: {
        vcpus: mine.reduce((s, v) => s + v.spec.vcpus, 0) + reserved.reduce((s, r) => s + r.size.vcpus, 0),
        memoryMiB: mine.reduce((s, v) => s + v.spec.memoryMiB, 0) + reserved.reduce((s, r) => s + r.size.memoryMiB, 0),
        vms: mine.length + reserved.length,
      },
    };
  });
}

/** The load of `h` with `req` added (≤ 1 means it fits). */
function loadWith(h: HostLoad, req: { vcpus: number; memoryMiB: number }, o: PlacementOptions): number {
  const cpu = (h.used.vcpus + req.vcpus) / (h.capacity.cores * o.cpuOvercommit);
  const mem = (h.used.memoryMiB + req.memoryMiB) / (h.capacity.memoryMiB * o.memoryOvercommit);
  return Math.max(cpu, mem);
}

function free(h: HostLoad, o: PlacementOptions): string {
  const cpu = h.capacity.cores * o.cpuOvercommit - h.used.vcpus;
  const mem = h.capacity.memoryMiB * o.memoryOvercommit - h.used.memoryMiB;
  return `${h.name}: ${cpu} vCPU, ${mem} MiB free`;
}

/**
 * The host for a VM of `req.vcpus` and `req.memoryMiB`; `req.host` asks for one host.
 * @throws NotFoundError for an unknown requested host; NoCapacityError when the requested host
 *   is not alive or full, when no host is alive, or when no live host has room
 */
export function placeVm(req: { vcpus: number; memoryMiB: number; host?: string }, hosts: readonly HostLoad[], o: PlacementOptions = DEFAULT_PLACEMENT): string {
  const ask = { vcpus: req.vcpus, memoryMiB: req.memoryMiB };
  if (req.host !== undefined) {
    const h = hosts.find((x) => x.name === req.host);
    if (!h) throw new NotFoundError('host', req.host);
    if (!h.alive) throw new NoCapacityError(`host ${h.name} is not alive (its lease expired)`, { host: h.name });
    if (loadWith(h, ask, o) > 1) throw new NoCapacityError(`host ${h.name} has no room for ${ask.vcpus} vCPU and ${ask.memoryMiB} MiB (${free(h, o)})`, { host: h.name });
    return h.name;
  }
  const live = hosts.filter((h) => h.alive);
  if (!live.length) throw new NoCapacityError('no live host: no agent holds a lease', { hosts: hosts.length });
  const fits = live
    .map((h) => ({ h, load: loadWith(h, ask, o) }))
    .filter((x) => x.load <= 1)
    .sort((a, b) => a.load - b.load || a.h.used.vms - b.h.used.vms || (a.h.name < b.h.name ? -1 : 1));
  if (!fits.length) {
    throw new NoCapacityError(`no live host has room for ${ask.vcpus} vCPU and ${ask.memoryMiB} MiB (${live.map((h) => free(h, o)).join('; ')})`, {
      vcpus: ask.vcpus,
      memoryMiB: ask.memoryMiB,
    });
  }
  return fits[0].h.name;
}

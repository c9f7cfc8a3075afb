/**
 * From a ShadowSpec (what the server asks for) to what the agent runs: the block target, the
 * shadow VM, and the throwaway VM of a rehearsal. Pure.
 */
import type { ShadowSpec, ShadowStatus } from '../../api/shadow-protocol.js';
import { guestKernelArgs } from '../../guest/kernel-args.js';
import type { VmSpecInput } from '../../hypervisor/spec.js';
import type { TargetSpec } from '../../storage/driver.js';
import { DATA_DISK_ID, machineShape, serviceNetwork } from '../vm-spec.js';

/**
 * How long the shadow VM's NBD client waits for a restarted target before failing a request,
 * seconds. The agent restarts a dead target within ~1 s; without a delay the first request
 * after a restart fails (QEMU then reconnects for the next one), e.g. a promotion's mount.
 */
export const NBD_RECONNECT_DELAY_S = 15;

/** Where the agent placed a shadow. */
export interface ShadowPlacement {
  /** The agent's address: the export and the service forward are bound there. */
  address: string;
  servicePort: number;
  exportPort: number;
  exportName: string;
}

/** The block target of a shadow: `diskBytes` exactly, exported at `address:exportPort/exportName`. */
export function toTargetSpec(spec: ShadowSpec, at: ShadowPlacement): TargetSpec {
  return { id: spec.id, sizeBytes: spec.diskBytes, host: at.address, port: at.exportPort, exportName: at.exportName };
}

/**
 * The shadow VM: the lab guest with the target attached over NBD as its data disk (`vda`, id
 * `data` like the primary's), its service forwarded from `address:servicePort`, the primary's
 * vCPU/memory shape and a PCIe root port (as a primary has).
 * - `warm`: booted with `umbra.data=none`: the service runs in standby and never mounts the
 *   disk until `POST /admin/promote?dev=vda` with `adminToken`;
 * - `migrate`: a paused `-incoming defer` QEMU of the same shape (it mounts `vda` if it is ever
 *   cold-booted instead of receiving a migration).
 */
export function toShadowVmSpec(spec: ShadowSpec, at: ShadowPlacement): VmSpecInput {
  const warm = spec.flavor === 'warm';
  return {
    id: spec.id,
    ...machineShape(spec),
    boot: { kind: 'kernel', kernel: spec.kernel, initrd: spec.initrd, append: guestKernelArgs({ dataDevice: warm ? 'none' : 'vda', adminToken: spec.adminToken }) },
    disks: [{ kind: 'nbd', id: DATA_DISK_ID, host: at.address, port: at.exportPort, export: at.exportName, reconnectDelaySeconds: NBD_RECONNECT_DELAY_S }],
    network: serviceNetwork(at.address, at.servicePort),
    devices: [{ kind: 'pcie-root-port', id: 'rp1', chassis: 1, slot: 1 }],
    incoming: !warm,
  };
}

/**
 * The VM a cold promotion boots: the shadow VM's shape, placement and disk (the target's
 * export, which keeps serving it), booted normally (`umbra.data=vda`: it mounts the disk,
 * replaying the journal) and not incoming. The same VM id as the shadow.
 */
export function toPromotedVmSpec(spec: ShadowSpec, at: ShadowPlacement): VmSpecInput {
  const vm = toShadowVmSpec({ ...spec, flavor: 'migrate' }, at);
  return { ...vm, incoming: false };
}

/** The id of a shadow's `n`th rehearsal VM: `<shadowId>-r<n>` (the shadow id cut to fit 63 characters). */
export function rehearsalVmId(shadowId: string, n: number): string {
  const suffix = `-r${n}`;
  return `${shadowId.slice(0, 63 - suffix.length)}${suffix}`;
}

/** The name of a shadow's `n`th point-in-time export. */
export function rehearsalPitName(n: number): string {
  return `r${n}`;
}

/**
 * A rehearsal's throwaway VM: the lab guest booted normally (`umbra.data=vda`: it mounts the
 * disk, replaying the journal if needed) from a read-only point-in-time export, with a
 * throwaway overlay for its writes (`snapshot`), base vCPUs and memory, its own service port.
 */
export function toRehearsalVmSpec(spec: ShadowSpec, o: { vmId: string; address: string; servicePort: number; pit: { host: string; port: number; export: string } }): VmSpecInput {
  return {
    id: o.vmId,
    vcpus: { base: spec.vcpus },
    memory: { baseMiB: spec.memoryMiB },
    boot: { kind: 'kernel', kernel: spec.kernel, initrd: spec.initrd, append: guestKernelArgs({ dataDevice: 'vda' }) },
    disks: [{ kind: 'nbd', id: DATA_DISK_ID, host: o.pit.host, port: o.pit.port, export: o.pit.export, snapshot: true }],
    network: serviceNetwork(o.address, o.servicePort),
  };
}

/**
 * True when a re-sent spec asks for the same shadow as the recorded one. A request naming the
 * ports the agent picked for an "any port" record asks for the same shadow.
 */
export function sameShadowSpec(recorded: { spec: ShadowSpec; servicePort: number; exportPort: number }, requested: ShadowSpec): boolean {
  const norm = (s: ShadowSpec) => ({ ...s, servicePort: s.servicePort || recorded.servicePort, exportPort: s.exportPort || recorded.exportPort });
  return canonicalJson(norm(recorded.spec)) === canonicalJson(norm(requested));
}

/** The reported target state: `restarted` once after a restart (the next read), then `running`. */
export function targetStateOf(running: boolean, restartedPending: boolean): ShadowStatus['targetState'] {
  if (!running) return 'stopped';
  return restartedPending ? 'restarted' : 'running';
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

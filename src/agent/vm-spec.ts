/**
 * From the protocol's AgentVmSpec (what the server asks for) to the driver's VmSpec (what QEMU
 * runs), and the checks the agent adds. Pure.
 */
import type { AgentVmSpec } from '../api/protocol.js';
import { guestKernelArgs } from '../guest/kernel-args.js';
import { VmSpecInvalidError, type SpecIssue } from '../hypervisor/errors.js';
import { parseVmSpec, type VmSpecInput } from '../hypervisor/spec.js';

/** The guest service's port (the lab guest serves on 80). */
export const GUEST_SERVICE_PORT = 80;
/** The data disk's id inside the VM (node name, device id, serial). */
export const DATA_DISK_ID = 'data';
/** DIMM slots when memory may grow. */
export const MEMORY_SLOTS = 4;
/** The smallest data disk (what the guest formats in reasonable time; `createDataDisk`'s floor). */
export const MIN_DATA_DISK_MIB = 16;

/** Where the agent placed a VM. */
export interface Placement {
  /** Host address the service port is forwarded on. */
  address: string;
  /** Host port forwarded to the guest service. */
  servicePort: number;
  /** Data disk image path. */
  dataDisk: string;
}

/**
 * The driver spec: direct kernel boot of the lab guest, one qcow2 data disk (`vda` in the
 * guest), user-mode networking with `hostfwd=tcp:<address>:<servicePort>-:80`, a PCIe root
 * port for a later disk hot-plug, and room to hot-add vCPUs and memory up to the maxima.
 */
export function toVmSpec(spec: AgentVmSpec, at: Placement): VmSpecInput {
  return {
    id: spec.id,
    ...machineShape(spec),
    boot: { kind: 'kernel', kernel: spec.kernel, initrd: spec.initrd, append: spec.append ?? guestKernelArgs() },
    disks: [{ kind: 'file', id: DATA_DISK_ID, path: at.dataDisk, format: 'qcow2' }],
    network: serviceNetwork(at.address, at.servicePort),
    devices: [{ kind: 'pcie-root-port', id: 'rp1', chassis: 1, slot: 1 }],
  };
}

/**
 * The vCPU and memory part of a VM spec: room to hot-add vCPUs up to `maxVcpus` and DIMMs up
 * to `maxMemoryMiB`. A shadow gets the same shape as its primary (live migration needs it).
 */
export function machineShape(s: { vcpus: number; maxVcpus: number; memoryMiB: number; maxMemoryMiB: number }): Pick<VmSpecInput, 'vcpus' | 'memory'> {
  return {
    vcpus: { base: s.vcpus, max: s.maxVcpus },
    memory: s.maxMemoryMiB > s.memoryMiB ? { baseMiB: s.memoryMiB, slots: MEMORY_SLOTS, maxMiB: s.maxMemoryMiB } : { baseMiB: s.memoryMiB },
  };
}

/** User-mode networking with the guest service forwarded from `address:servicePort`. */
export function serviceNetwork(address: string, servicePort: number): NonNullable<VmSpecInput['network']> {
  return { kind: 'user', forwards: [{ hostAddr: address, hostPort: servicePort, guestPort: GUEST_SERVICE_PORT }] };
}

/**
 * Validates what the driver would reject and what the agent needs on top, reporting every
 * invalid field (with AgentVmSpec paths) in one VM_SPEC_INVALID.
 */
export function checkAgentSpec(spec: AgentVmSpec, at: Placement): void {
  const issues: SpecIssue[] = [];
  if (spec.dataDiskMiB < MIN_DATA_DISK_MIB) issues.push({ path: 'dataDiskMiB', message: `must be at least ${MIN_DATA_DISK_MIB}` });
  if (spec.maxVcpus < spec.vcpus) issues.push({ path: 'maxVcpus', message: `must be at least vcpus (${spec.vcpus})` });
  if (spec.maxMemoryMiB < spec.memoryMiB) issues.push({ path: 'maxMemoryMiB', message: `must be at least memoryMiB (${spec.memoryMiB})` });
  if (issues.length === 0) {
    try {
      parseVmSpec(toVmSpec(spec, at));
    } catch (e) {
      if (e instanceof VmSpecInvalidError) issues.push(...e.issues);
      else throw e;
    }
  }
  if (issues.length) throw new VmSpecInvalidError(issues, spec.id);
}

/**
 * True when a re-sent spec asks for the same VM as the recorded one. A request that names the
 * port the agent picked for an "any port" record asks for the same VM.
 */
export function sameAgentSpec(recorded: AgentVmSpec, recordedPort: number, requested: AgentVmSpec): boolean {
  const norm = (s: AgentVmSpec) => ({ ...s, servicePort: s.servicePort || recordedPort });
  return canonicalJson(norm(recorded)) === canonicalJson(norm(requested));
}

/** JSON with sorted keys and undefined fields left out (equal objects give equal text). */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The guest service URL for a host address and port (`[v6]` bracketed). */
export function endpointUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

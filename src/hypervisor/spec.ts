/**
 * The VM spec: what a VM should be (desired state), as one zod schema that yields the type,
 * the defaults and the validation. Drivers accept {@link VmSpecInput} and work on the
 * normalized {@link VmSpec}.
 */
import { z } from 'zod';
import { VmSpecInvalidError, type SpecIssue } from './errors.js';

/** VM ids name run dirs and QEMU objects: lowercase letters, digits and dashes. */
const vmId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, 1-63 characters, not starting with a dash');
/** QEMU node-names and device ids: a letter first, then letters, digits and dashes, at most 31. */
const nodeName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a letter, then lowercase letters, digits and dashes, at most 31 characters');
const port = z.number().int().min(1).max(65535);
const host = z.string().min(1);

/** A data disk backed by a local image file. */
const fileDisk = z.object({
  kind: z.literal('file'),
  /** Node name and device id inside the VM (also the name block jobs and exports refer to). */
  id: nodeName,
  path: z.string().min(1),
  format: z.enum(['raw', 'qcow2']).default('raw'),
  readOnly: z.boolean().default(false),
  /** Writes go to a throwaway overlay (rehearsal boots): the image is never modified. */
  snapshot: z.boolean().default(false),
  /**
   * Let other writers use the disk while the guest device holds it (`share-rw=on`): needed to
   * export it writable over NBD from a VM that is not an incoming migration target.
   */
  shareRw: z.boolean().default(false),
});

/** A data disk read from (and written to) an NBD export, e.g. a warm shadow's pre-attached disk. */
const nbdDisk = z.object({
  kind: z.literal('nbd'),
  id: nodeName,
  host,
  port,
  export: z.string().min(1),
  readOnly: z.boolean().default(false),
  /**
   * Writes go to a throwaway overlay (rehearsal boots from a read-only point-in-time export):
   * the export is only read, the guest still sees a writable disk.
   */
  snapshot: z.boolean().default(false),
  /**
   * After a lost connection (the export's process restarted), requests wait this long for the
   * client to reconnect instead of failing at once (QEMU `reconnect-delay`). Absent: QEMU's
   * default (0: the first request after a loss fails, the next ones reconnect).
   */
  reconnectDelaySeconds: z.number().int().min(1).max(3600).optional(),
});

/** A data disk: a local file or an NBD export. */
export const diskSchema = z.discriminatedUnion('kind', [fileDisk, nbdDisk]);

/** How the guest boots: a direct kernel (+initrd), a bootable disk image, or nothing (firmware only). */
const bootSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('kernel'), kernel: z.string().min(1), initrd: z.string().min(1).optional(), append: z.string().default('') }),
  z.object({ kind: z.literal('disk'), path: z.string().min(1), format: z.enum(['raw', 'qcow2']).default('qcow2') }),
  /** No boot source: the firmware runs and finds nothing. QMP works; the guest ignores ACPI. */
  z.object({ kind: z.literal('none') }),
]);

/** A host port forwarded to a guest TCP port (user-mode networking `hostfwd`). */
const forwardSchema = z.object({
  hostAddr: z.string().default('127.0.0.1'),
  hostPort: port,
  guestPort: port,
});

/** Extra devices; a PCIe root port gives q35 a slot to hot-plug a disk into. */
const deviceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('pcie-root-port'), id: nodeName, chassis: z.number().int().min(1).max(255), slot: z.number().int().min(0).max(31) }),
]);

/** The VM spec schema (input may omit defaulted fields). */
export const vmSpecSchema = z
  .object({
    id: vmId,
    /** Human-readable name (QEMU `-name`); defaults to the id. */
    name: z.string().min(1).max(63).optional(),
    /** vCPUs at boot, and the most that can be hot-added up to (`-smp base,maxcpus=max`). */
    vcpus: z.object({ base: z.number().int().min(1).max(64), max: z.number().int().min(1).max(64).optional() }),
    /** Memory at boot; with `slots > 0`, DIMMs can be hot-added up to `maxMiB`. */
    memory: z.object({
      baseMiB: z.number().int().min(16),
      slots: z.number().int().min(0).max(16).default(0),
      maxMiB: z.number().int().min(16).optional(),
    }),
    boot: bootSchema,
    disks: z.array(diskSchema).default([]),
    /** User-mode networking with host forwards; absent means no NIC. */
    network: z.object({ kind: z.literal('user'), forwards: z.array(forwardSchema).default([]) }).optional(),
    devices: z.array(deviceSchema).default([]),
    /** Start as a paused migration target (`-S -incoming defer`); `migrateIncoming` then gives the URI. */
    incoming: z.boolean().default(false),
    /** A guest reboot (or panic with `panic=-1`) ends the process instead of resetting. */
    noReboot: z.boolean().default(true),
  })
  .superRefine((s, ctx) => {
    const max = s.vcpus.max ?? s.vcpus.base;
    if (max < s.vcpus.base) ctx.addIssue({ code: 'custom', path: ['vcpus', 'max'], message: `must be at least vcpus.base (${s.vcpus.base})` });
    if (s.memory.slots > 0) {
      if (s.memory.maxMiB === undefined) ctx.addIssue({ code: 'custom', path: ['memory', 'maxMiB'], message: 'required when memory.slots > 0' });
      else if (s.memory.maxMiB <= s.memory.baseMiB)
        ctx.addIssue({ code: 'custom', path: ['memory', 'maxMiB'], message: `must be above memory.baseMiB (${s.memory.baseMiB})` });
    } else if (s.memory.maxMiB !== undefined && s.memory.maxMiB !== s.memory.baseMiB) {
      ctx.addIssue({ code: 'custom', path: ['memory', 'slots'], message: 'must be above 0 when memory.maxMiB differs from memory.baseMiB' });
    }
    const seen = new Set<string>();
    const ids: [string, (string | number)[]][] = [
      ...s.disks.map((d, i): [string, (string | number)[]] => [d.id, ['disks', i, 'id']]),
      ...s.devices.map((d, i): [string, (string | number)[]] => [d.id, ['devices', i, 'id']]),
    ];
    for (const [id, path] of ids) {
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path, message: `duplicate id ${JSON.stringify(id)}` });
      seen.add(id);
    }
    const fwd = new Set<string>();
    s.network?.forwards.forEach((f, i) => {
      const k = `${f.hostAddr}:${f.hostPort}`;
      if (fwd.has(k)) ctx.addIssue({ code: 'custom', path: ['network', 'forwards', i, 'hostPort'], message: `duplicate host forward ${k}` });
      fwd.add(k);
    });
  });

/** A VM spec as callers write it (defaults may be omitted). */
export type VmSpecInput = z.input<typeof vmSpecSchema>;
/** A normalized VM spec (every default filled in). */
export type VmSpec = z.output<typeof vmSpecSchema>;
/** A data disk of a VM. */
export type DiskSpec = z.output<typeof diskSchema>;
/** A data disk as callers write it. */
export type DiskSpecInput = z.input<typeof diskSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${String(seg)}` : String(seg);
  return out;
}

/** Validates and normalizes a spec; throws {@link VmSpecInvalidError} listing every invalid field. */
export function parseVmSpec(input: unknown): VmSpec {
  const r = vmSpecSchema.safeParse(input);
  if (r.success) return r.data;
  const issues: SpecIssue[] = r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
  const id = typeof input === 'object' && input !== null && typeof (input as { id?: unknown }).id === 'string' ? (input as { id: string }).id : undefined;
  throw new VmSpecInvalidError(issues, id);
}

/** Validates one disk (for hot-plug). */
export function parseDiskSpec(input: unknown, vmId?: string): DiskSpec {
  const r = diskSchema.safeParse(input);
  if (r.success) return r.data;
  throw new VmSpecInvalidError(
    r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    vmId,
  );
}

/** The most vCPUs the VM can have (base when no max is given). */
export function maxVcpus(spec: VmSpec): number {
  return spec.vcpus.max ?? spec.vcpus.base;
}

/** The device id of the NIC of a spec's `network` (QEMU `-device virtio-net-pci,id=...`). */
export const NIC_DEVICE_ID = 'net0-dev';

/** The device ids of the VM's NICs (what `setLink` acts on): one with `network`, none without. */
export function nicIds(spec: VmSpec): string[] {
  return spec.network ? [NIC_DEVICE_ID] : [];
}

/** True when two normalized specs describe the same VM (create is idempotent for equal specs). */
export function sameSpec(a: VmSpec, b: VmSpec): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

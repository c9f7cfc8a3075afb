/**
 * Helpers for the agent's unit tests (imported by tests only): a simulated host with the lab
 * guest's files, a fake server, and stepping a manual clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ManualClock } from '../core/clock.js';
import { agentVmSpecSchema, type AgentRegistration, type AgentVmSpec, type Heartbeat, type RegisterReply, type SampleBatch } from '../api/protocol.js';
import { SimWorld } from '../hypervisor/sim/world.js';
import type { SimHypervisorDriver } from '../hypervisor/sim/sim-driver.js';
import { simDisks } from './disks.js';
import { silentLogger } from './log.js';
import { sequentialPorts } from './ports.js';
import { RecordStore } from './records.js';
import { ServerRequestError, type ServerClient } from './server-client.js';
import { VmManager, type VmManagerOptions } from './vm-manager.js';

export const KERNEL = '/img/vmlinux';
export const INITRD = '/img/initrd.gz';

/** A simulated one-host world (h1, 10.0.0.1) holding the guest image files. */
export function simWorld(): SimWorld {
  const w = SimWorld.oneHost();
  w.addFile(KERNEL, 10);
  w.addFile(INITRD, 2);
  return w;
}

/** A normalized AgentVmSpec for the simulated guest. */
export function vmSpec(id: string, extra: Partial<AgentVmSpec> = {}): AgentVmSpec {
  return agentVmSpecSchema.parse({ id, kernel: KERNEL, initrd: INITRD, ...extra });
}

/** A temp run dir, removed by the returned function. */
export function tempRunDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'uma-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A VM manager on a simulated host. */
export function simManager(world: SimWorld, driver: SimHypervisorDriver, runDir: string, extra: Partial<VmManagerOptions> = {}): VmManager {
  return new VmManager({
    driver,
    clock: world.clock,
    log: silentLogger,
    records: new RecordStore(runDir),
    disks: simDisks(world),
    ports: sequentialPorts(20000, () => new Set(world.forwards.keys())),
    address: '10.0.0.1',
    runDir,
    fenced: () => false,
    ...extra,
  });
}

/** An in-memory server: `up` false makes every call fail as an unreachable server would. */
export class FakeServer implements ServerClient {
  up = true;
  /** Heartbeats hang forever (a server that accepts connections but never answers). */
  hang = false;
  /** The next heartbeat gets a 404 (the server forgot the agent). */
  forgetOnce = false;
  registrations: AgentRegistration[] = [];
  heartbeats: { at: number; hb: Heartbeat }[] = [];
  batches: SampleBatch[] = [];
  reply: RegisterReply = { leaseSeconds: 10, heartbeatSeconds: 2 };

  constructor(private readonly now: () => number) {}

  private check(route: string): void {
    if (!this.up) throw new ServerRequestError(route, null, 'no answer (connection refused)');
  }

  async register(reg: AgentRegistration): Promise<RegisterReply> {
    this.check('POST /v1/agents/register');
    this.registrations.push(reg);
    return this.reply;
  }

  async heartbeat(_name: string, hb: Heartbeat): Promise<{ leaseSeconds: number }> {
    if (this.hang) return new Promise(() => undefined);
    this.check('POST /v1/agents/:name/heartbeat');
    if (this.forgetOnce) {
      this.forgetOnce = false;
      throw new ServerRequestError('POST /v1/agents/:name/heartbeat', 404, 'HTTP 404: unknown agent');
    }
    this.heartbeats.push({ at: this.now(), hb });
    return { leaseSeconds: this.reply.leaseSeconds };
  }

  async postSamples(batch: SampleBatch): Promise<{ accepted: number }> {
    this.check('POST /v1/samples');
    this.batches.push(batch);
    return { accepted: batch.samples.length };
  }

  get samples() {
    return this.batches.flatMap((b) => b.samples);
  }
}

/** Lets pending promise chains and immediates run. */
export async function settle(rounds = 8): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Advances a manual clock by `ms` in `step`s, letting the loops run between steps. */
export async function advance(clock: ManualClock, ms: number, step = 100): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await settle();
  }
}

/** A logger that keeps every line (tests check what is, and is not, logged). */
export function recordingLogger(): { log: import('./log.js').AgentLogger; lines: { level: string; fields: object; msg: string }[] } {
  const lines: { level: string; fields: object; msg: string }[] = [];
  const at = (level: string) => (fields: object, msg: string) => void lines.push({ level, fields, msg });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

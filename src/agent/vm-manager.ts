/**
 * The VMs of this host: ensure (create + start, idempotent), start/stop/cont/kill/powerdown,
 * delete, retire (the graceful end of an old primary: retire.ts), re-adoption after an agent
 * restart, and supervision. Supervision records how a process ended (`crashed` or `exited`) and
 * never restarts it: the failover controller decides.
 *
 * Operations on one VM run one at a time (a re-sent ensure waits for the first and finds the
 * VM running). Status is observed from the driver on every call; the records (records.ts)
 * hold only what cannot be observed: the requested spec, the chosen port and disk, and the
 * last exit and error.
 */
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { isUmbraError } from '../core/errors.js';
import type { AgentVm, AgentVmSpec } from '../api/protocol.js';
import type { HypervisorDriver } from '../hypervisor/driver.js';
import { isHypervisorError, VmExistsError, VmInvalidStateError, VmStartFailedError } from '../hypervisor/errors.js';
import { LIVE_STATES, type VmEvent } from '../hypervisor/types.js';
import type { DiskProvisioner } from './disks.js';
import type { FenceTarget } from './fence.js';
import { errText, type AgentLogger } from './log.js';
import type { PortPicker } from './ports.js';
import type { AgentVmRecord, RecordStore } from './records.js';
import { KeyedMutex } from '../core/keyed-mutex.js';
import { checkAgentSpec, endpointUrl, sameAgentSpec, toVmSpec, type Placement } from './vm-spec.js';
import { retireProcess, type RetireOptions, type RetireOutcome } from './retire.js';

/** The per-VM operations of the agent API. */
export type VmOp = 'start' | 'stop' | 'cont' | 'kill' | 'powerdown';
export const VM_OPS: readonly VmOp[] = ['start', 'stop', 'cont', 'kill', 'powerdown'];

/** A VM whose hypervisor has not answered for this long is reported `unknown` (the failover criteria's `hung`). */
export const HUNG_AFTER_MS = 5000;

/** How many ports to try when the chosen one was taken between the pick and QEMU's bind. */
const PORT_ATTEMPTS = 3;

/**
 * How a process end is reported. `exited` when it was planned: the agent was asked to end it
 * (kill, powerdown, delete) or the guest powered itself off (`guest-shutdown`); `crashed`
 * otherwise (guest panic or reset under -no-reboot, killed by someone else, QEMU died, or the
 * process vanished while the agent was down). Pure.
 */
export function classifyExit(reason: string, planned: boolean): 'exited' | 'crashed' {
  return planned || reason === 'guest-shutdown' ? 'exited' : 'crashed';
}

/** The `lastError` of an AgentVm for an error (QEMU's stderr tail included when there is one). */
export function toLastError(e: unknown): NonNullable<AgentVm['lastError']> {
  const code = isUmbraError(e) ? e.code : 'INTERNAL';
  return { code, message: errText(e), ...(e instanceof VmStartFailedError ? { stderrTail: e.stderrTail } : {}) };
}

/** Options of {@link VmManager}. */
export interface VmManagerOptions {
  driver: HypervisorDriver;
  clock: Clock;
  log: AgentLogger;
  records: RecordStore;
  disks: DiskProvisioner;
  ports: PortPicker;
  /** Host address service ports are forwarded on. */
  address: string;
  /** Data disks go under `<runDir>/disks/`. */
  runDir: string;
  /** True while the agent's lease is lost: nothing may make vCPUs run. */
  fenced: () => boolean;
  /** Called when a VM's state changed on its own (its process ended). */
  onChange?: (vmId: string) => void;
  /**
   * Called before the agent ends a VM's process on purpose (kill, powerdown, delete, retire): the
   * replication must not start a new copy for it (its shadow may have been promoted).
   */
  onEndOnPurpose?: (vmId: string, op: 'kill' | 'powerdown' | 'delete' | 'retire') => void;
  /** How long powerdown waits for the guest (ms, default 30000). */
  powerdownTimeoutMs?: number;
}

/** See the module comment. */
export class VmManager {
  private readonly lock = new KeyedMutex();
  /** VMs the driver knows (from adoption and ensure) that may have no record. */
  private readonly driverIds = new Set<string>();
  /** Each VM's last answered observation, clock ms (summaries of a VM whose monitor is slow or hung). */
  private readonly lastSeen = new Map<string, { state: string; pid: number | null; at: number }>();
  private readonly unsubscribe: () => void;

  constructor(private readonly o: VmManagerOptions) {
    this.unsubscribe = o.driver.subscribe((ev) => this.onExit(ev), { types: ['EXITED'] });
  }

  /** Stops listening to the driver (the VMs keep running). */
  close(): void {
    this.unsubscribe();
  }

  /**
   * Re-attaches to every VM a previous agent left on this host (driver.adopt from the run
   * dirs): running ones keep their process and pid. Never starts anything.
   */
  async adoptAll(): Promise<AgentVm[]> {
    for (const v of await this.o.driver.list()) {
      this.driverIds.add(v.id);
      if (v.pid === null) continue;
      try {
        const st = await this.o.driver.adopt(v.id);
        this.o.log.info({ vmId: v.id, pid: st.pid, state: st.state }, 'adopted VM');
      } catch (e) {
        this.o.log.warn({ vmId: v.id, err: errText(e) }, 'adopting a VM failed');
      }
    }
    return this.list();
  }

  /** Every VM id this agent knows (records and driver), sorted. */
  ids(): string[] {
    return [...new Set([...this.o.records.ids(), ...this.driverIds])].sort();
  }

  /** The observed AgentVm of every VM. */
  list(): Promise<AgentVm[]> {
    return Promise.all(this.ids().map((id) => this.observe(id)));
  }

  /**
   * `{ id, state, pid }` of every VM (registration and heartbeat). A VM whose hypervisor does
   * not answer within `deadlineMs` (a QEMU stuck in I/O to a lost replication target) is
   * reported with its last answer, and `unknown` (with its last known pid) once it has not answered
   * for {@link HUNG_AFTER_MS}: lease renewal never waits on a hypervisor, or a hung monitor would
   * make a healthy host fence itself.
   */
  async summaries(deadlineMs = 1000): Promise<{ id: string; state: string; pid: number | null }[]> {
    const all = await Promise.all(
      this.ids().map(async (id) => {
        const timedOut = Symbol('timeout');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<typeof timedOut>((resolve) => {
          // Wall time on purpose: a deadline for an I/O wait, not domain time.
          timer = setTimeout(() => resolve(timedOut), deadlineMs);
        });
        const seen = this.observe(id).then(
          (v) => v,
          () => null,
        );
        try {
          const v = await Promise.race([seen, late]);
          if (v === timedOut) {
            // A monitor that misses one deadline under load is not a hung VM: the last answer
            // stands until the VM has not answered for HUNG_AFTER_MS.
            const last = this.lastSeen.get(id);
            if (last && this.o.clock.now() - last.at < HUNG_AFTER_MS) return { id, state: last.state, pid: last.pid };
            return { id, state: 'unknown', pid: last?.pid ?? null };
          }
          if (!v) return null; // gone meanwhile
          this.lastSeen.set(id, { state: v.state, pid: v.pid, at: this.o.clock.now() });
          return { id, state: v.state, pid: v.pid };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return all.filter((v): v is NonNullable<typeof v> => v !== null);
  }

  /** What fencing acts on: every VM with its labels. */
  fenceTargets(): FenceTarget[] {
    return this.ids().map((id) => ({ id, labels: this.o.records.get(id)?.spec.labels ?? {} }));
  }

  /** Where to probe a VM's service, or null for a VM without a record (not made by an agent). */
  probeTarget(id: string): { url: string } | null {
    const r = this.o.records.get(id);
    return r ? { url: endpointUrl(this.o.address, r.servicePort) + r.spec.probePath } : null;
  }

  /** One VM as observed now. `VM_NOT_FOUND` for an unknown id. */
  async observe(id: string): Promise<AgentVm> {
    const rec = this.o.records.get(id);
    const base = {
      id,
      endpoint: rec ? endpointUrl(this.o.address, rec.servicePort) : null,
      startedAt: rec?.startedAt ?? null,
      lastError: rec?.lastError ?? null,
    };
    try {
      const st = await this.o.driver.status(id);
      if (st.state === 'exited') {
        // No exit recorded before the status call: read again (that call may have seen the exit
        // and recorded it); a process the agent is ending on purpose (kill, powerdown, delete,
        // retire) ended as planned. No exit seen at all (the agent was down when it happened):
        // it was not planned.
        const now = this.o.records.get(id);
        return { ...base, state: rec?.lastExit?.state ?? now?.lastExit?.state ?? (now?.expectExitPid != null ? 'exited' : 'crashed'), pid: null };
      }
      return { ...base, state: st.state, pid: st.pid };
    } catch (e) {
      if (isHypervisorError(e, 'VM_NOT_FOUND')) {
        if (rec) return { ...base, state: 'defined', pid: null };
        this.driverIds.delete(id);
        throw e;
      }
      // A live process whose monitor does not answer (or similar): say so, do not guess.
      return { ...base, state: 'unknown', pid: null, lastError: toLastError(e) };
    }
  }

  /**
   * Ensures the VM exists and has a process: records it (picking a free host port when the
   * spec says 0), creates its data disk, defines it in the driver and starts it unless a
   * process lives. Idempotent: the same spec again returns the same VM (same pid); a
   * different spec for the id is `VM_EXISTS`. A failed start records `lastError` (with QEMU's
   * stderr tail) and throws the driver's `VM_START_FAILED`.
   */
  ensure(spec: AgentVmSpec): Promise<AgentVm> {
    return this.lock.run(spec.id, async () => {
      const { records, disks, ports, address, runDir, clock } = this.o;
      let rec = records.get(spec.id);
      if (rec && !sameAgentSpec(rec.spec, rec.servicePort, spec)) throw new VmExistsError(spec.id);
      if (!rec) {
        const dataDisk = join(runDir, 'disks', `${spec.id}.qcow2`);
        // Validate with a placeholder port before choosing one or writing anything.
        checkAgentSpec(spec, { address, servicePort: spec.servicePort || 1, dataDisk });
        const servicePort = spec.servicePort || (await ports.pick(address, this.portsInUse()));
        rec = { spec, servicePort, dataDisk, createdAt: clock.now(), startedAt: null, lastExit: null, lastError: null, expectExitPid: null };
        records.put(rec);
        this.o.log.info({ vmId: spec.id, servicePort, dataDisk }, 'VM recorded');
      }
      await disks.ensure(rec.dataDisk, rec.spec.dataDiskMiB);
      await this.o.driver.create(toVmSpec(rec.spec, this.placement(rec)));
      this.driverIds.add(spec.id);
      const st = await this.o.driver.status(spec.id);
      if (!LIVE_STATES.has(st.state)) await this.startProcess(spec.id, 'ensure');
      return this.observe(spec.id);
    });
  }

  /** Runs one operation on a VM and returns it as observed after. */
  op(id: string, op: VmOp): Promise<AgentVm> {
    return this.lock.run(id, async () => {
      const { driver } = this.o;
      switch (op) {
        case 'start': {
          const st = await driver.status(id);
          if (!LIVE_STATES.has(st.state)) {
            if (!this.o.records.get(id)) throw new VmInvalidStateError(id, 'start', st.state, 'a VM created through the agent (PUT /v1/vms/:id)');
            await this.startProcess(id, 'start');
          }
          break;
        }
        case 'stop':
          await driver.stop(id);
          break;
        case 'cont': {
          this.guardLease(id, 'cont');
          // The source of a completed live migration must never run again: the guest runs elsewhere.
          const st = await driver.status(id);
          if (st.state === 'postmigrate') throw new VmInvalidStateError(id, 'cont', st.state, 'a VM that was not migrated away (kill it)');
          await driver.cont(id);
          break;
        }
        case 'kill':
          this.o.onEndOnPurpose?.(id, 'kill');
          await this.endProcess(id, () => driver.kill(id));
          break;
        case 'powerdown':
          this.o.onEndOnPurpose?.(id, 'powerdown');
          await this.endProcess(id, () => driver.powerdown(id, { timeoutMs: this.o.powerdownTimeoutMs ?? 30000 }));
          break;
      }
      return this.observe(id);
    });
  }

  /** Kills the VM's process (if any) and removes its run dir, data disk and record. */
  delete(id: string): Promise<void> {
    return this.lock.run(id, async () => {
      const rec = this.o.records.get(id);
      if (!rec && !this.driverIds.has(id)) {
        // Maybe a run dir this agent has not listed yet.
        await this.o.driver.status(id);
      }
      try {
        this.o.onEndOnPurpose?.(id, 'delete');
        await this.endProcess(id, () => this.o.driver.kill(id));
        await this.o.driver.remove(id);
      } catch (e) {
        if (!isHypervisorError(e, 'VM_NOT_FOUND')) throw e;
      }
      await this.forget(id, rec);
      this.o.log.info({ vmId: id }, 'VM deleted');
    });
  }

  /**
   * The graceful end of an old primary after a failover (retire.ts): isolated, powered off by
   * ACPI within `timeoutMs` or killed, then removed as {@link delete} removes it. The exit is
   * planned (`exited`, never `crashed`). `VM_NOT_FOUND` for an unknown id.
   */
  retire(id: string, opts: RetireOptions): Promise<RetireOutcome> {
    return this.lock.run(id, async () => {
      const rec = this.o.records.get(id);
      if (!rec && !this.driverIds.has(id)) await this.o.driver.status(id); // VM_NOT_FOUND, or a run dir not listed yet
      let out: RetireOutcome = { how: 'gone', ms: 0, timedOut: false, reason: 'unknown to the hypervisor' };
      try {
        this.o.onEndOnPurpose?.(id, 'retire');
        await this.endProcess(id, async () => {
          out = await retireProcess(this.o.driver, id, { ...opts, clock: this.o.clock, log: this.o.log, fenced: this.o.fenced() });
        });
        await this.o.driver.kill(id); // no-op unless the guest came back meanwhile
        await this.o.driver.remove(id);
      } catch (e) {
        if (!isHypervisorError(e, 'VM_NOT_FOUND')) throw e;
      }
      await this.forget(id, rec);
      this.o.log.info({ vmId: id, how: out.how, ms: out.ms, reason: out.reason }, 'VM retired');
      return out;
    });
  }

  // --- internals ---

  /** Removes what the agent keeps of a VM whose process is gone: data disk, record. */
  private async forget(id: string, rec: AgentVmRecord | undefined): Promise<void> {
    if (rec) await this.o.disks.remove(rec.dataDisk);
    this.o.records.remove(id);
    this.driverIds.delete(id);
  }

  private placement(rec: AgentVmRecord): Placement {
    return { address: this.o.address, servicePort: rec.servicePort, dataDisk: rec.dataDisk };
  }

  private portsInUse(): Set<number> {
    return new Set(this.o.records.all().map((r) => r.servicePort));
  }

  /** Starting vCPUs needs a live lease: a fenced host must not run a VM a shadow may have replaced. */
  private guardLease(id: string, op: string): void {
    if (this.o.fenced()) throw new VmInvalidStateError(id, op, 'fenced', 'a live lease with the server (the agent fenced this host)');
  }

  /** Starts the recorded VM's process; moves to a new port when the picked one was taken meanwhile. */
  private async startProcess(id: string, op: string): Promise<void> {
    this.guardLease(id, op);
    const { driver, records, ports, address, clock, log } = this.o;
    for (let attempt = 1; ; attempt++) {
      const rec = records.get(id)!;
      try {
        await driver.create(toVmSpec(rec.spec, this.placement(rec)));
        const st = await driver.start(id);
        records.update(id, (r) => {
          r.startedAt = clock.now();
          r.lastExit = null;
          r.lastError = null;
          r.expectExitPid = null;
        });
        log.info({ vmId: id, pid: st.pid, servicePort: rec.servicePort }, 'VM started');
        return;
      } catch (e) {
        records.update(id, (r) => {
          r.lastError = toLastError(e);
          // A process that never came up did not crash: it is reported `exited`, with the error.
          r.lastExit = { state: 'exited', reason: 'start-failed', pid: null, atMs: clock.now() };
        });
        const portTaken = e instanceof VmStartFailedError && rec.spec.servicePort === 0 && !(await ports.isFree(address, rec.servicePort));
        if (portTaken && attempt < PORT_ATTEMPTS) {
          const servicePort = await ports.pick(address, this.portsInUse());
          log.warn({ vmId: id, taken: rec.servicePort, servicePort }, 'service port was taken: trying another');
          await driver.remove(id);
          records.update(id, (r) => (r.servicePort = servicePort));
          continue;
        }
        log.error({ vmId: id, err: errText(e) }, 'VM failed to start');
        throw e;
      }
    }
  }

  /** Runs `end` with the VM's current process marked as ended on purpose. */
  private async endProcess(id: string, end: () => Promise<unknown>): Promise<void> {
    // The pid whose exit is planned. A hung monitor (SIGSTOPped QEMU) must not stop the kill
    // that ends it: after a short wait the last known pid is used.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 1000)));
    const st = await Promise.race([this.o.driver.status(id), late]).finally(() => clearTimeout(timer));
    const pid = st ? st.pid : (this.lastSeen.get(id)?.pid ?? null);
    if (pid !== null) this.o.records.update(id, (r) => (r.expectExitPid = pid));
    await end();
  }

  /** Supervision: a process ended. Record how; never restart it. */
  private onExit(ev: VmEvent): void {
    const pid = typeof ev.data.pid === 'number' ? ev.data.pid : null;
    const reason = typeof ev.data.reason === 'string' ? ev.data.reason : 'unknown';
    const rec = this.o.records.get(ev.vmId);
    // The exit of a process whose start already failed (QEMU's event may come after the start's
    // error): the start failure stands (a successful start clears it).
    if (rec?.lastExit?.reason === 'start-failed') {
      this.o.log.info({ vmId: ev.vmId, pid, reason }, 'VM process that failed to start ended');
      return;
    }
    const planned = rec !== undefined && pid !== null && rec.expectExitPid === pid;
    const state = classifyExit(reason, planned);
    this.o.records.update(ev.vmId, (r) => {
      r.lastExit = { state, reason, pid, atMs: ev.atMs };
      r.expectExitPid = null;
    });
    const fields = { vmId: ev.vmId, pid, reason, state };
    if (state === 'crashed') this.o.log.error(fields, 'VM process ended unexpectedly');
    else this.o.log.info(fields, 'VM process ended');
    this.o.onChange?.(ev.vmId);
  }
}


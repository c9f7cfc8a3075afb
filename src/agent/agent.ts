/**
 * The host agent: one per host. Wires the VM manager (ensure/ops/supervision/re-adoption), the
 * lease with the server (register, heartbeat, fencing), the sampler, and the HTTP API.
 *
 * Lifecycle: `Agent.start` re-adopts the VMs a previous agent left in the run dir, opens the
 * API, tries to register once, then runs the lease loops and the sampler until `stop`.
 * Stopping (SIGTERM) ends the loops, posts what is buffered (briefly), closes the API and the
 * driver's connections, and LEAVES THE VMs RUNNING: the next agent re-adopts them.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import type { AgentInfo } from '../api/protocol.js';
import type { HypervisorDriver } from '../hypervisor/driver.js';
import type { DriverInfo } from '../hypervisor/types.js';
import { startAgentApi, type AgentApi } from './api.js';
import { qemuImgDisks, type DiskProvisioner } from './disks.js';
import { fenceVms, SHADOW_LABEL, type FenceReport, type FenceTarget } from './fence.js';
import { LeaseKeeper, type LeasePersistence } from './lease.js';
import { errText, silentLogger, type AgentLogger } from './log.js';
import { METRICS } from './metrics.js';
import { osPortPicker, type PortPicker } from './ports.js';
import type { ProbeResult } from './probe.js';
import { RecordStore } from './records.js';
import { SampleBuffer } from './sample-buffer.js';
import { Sampler } from './sampler.js';
import { HttpServerClient, type ServerClient } from './server-client.js';
import { pause } from './timing.js';
import { endpointUrl } from './vm-spec.js';
import { HUNG_AFTER_MS, VmManager } from './vm-manager.js';
import { ReplicationManager } from './replication/manager.js';
import { LiveMigrator, migrationRoutes } from './replication/migrate.js';
import { replicationRoutes } from './replication/routes.js';
import { Resizer, resizeRoutes, type VmLimits } from './resize.js';
import { VmInvalidStateError, VmNotFoundError } from '../hypervisor/errors.js';
import { defaultTargets, ShadowManager, shadowRoutes } from './shadows/index.js';
import { retireRoutes } from './retire-routes.js';
import type { BlockTargetDriver } from '../storage/driver.js';

/** The agent's configuration (the CLI resolves it from flags). */
export interface AgentConfig {
  /** Host name, unique in the cluster. */
  name: string;
  /** The server's base URL. */
  serverUrl: string;
  /** Bearer token: sent to the server and required on the agent's API. */
  token: string;
  /** Host address: VMs' service ports are forwarded on it. */
  address: string;
  /** Where the API listens (default: `address`, port 7070). */
  listenHost?: string;
  listenPort?: number;
  /** The run dir (VM run dirs, data disks, agent records). */
  runDir: string;
  /** Sampling interval, ms (default 10000). */
  intervalMs?: number;
  /** Lease assumed until the server's first reply, ms (default 15000). */
  leaseMs?: number;
  /** Probe timeout, ms (default 2000). */
  probeTimeoutMs?: number;
  labels?: Record<string, string>;
  /** Host capacity to announce (default: this machine's cores and memory). */
  capacity?: { cores: number; memoryMiB: number };
  /** Samples buffered while the server is unreachable (default 50 000). */
  bufferCapacity?: number;
  /** Server request timeout, ms (default 5000). */
  requestTimeoutMs?: number;
}

/** What the agent runs on; only `driver` is required. */
export interface AgentDeps {
  driver: HypervisorDriver;
  clock?: Clock;
  log?: AgentLogger;
  client?: ServerClient;
  disks?: DiskProvisioner;
  ports?: PortPicker;
  random?: () => number;
  cpuUsageUs?: () => number;
  probe?: (url: string, signal: AbortSignal) => Promise<ProbeResult>;
  /** Shadow targets (default: qemu-storage-daemon beside QEMU, simulated beside the simulated driver). */
  targets?: BlockTargetDriver;
}

/** Default API port. */
export const DEFAULT_AGENT_PORT = 7070;

/** See the module comment. */
export class Agent {
  private readonly abort = new AbortController();
  private loops: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The last fencing's report (tests, info). */
  lastFence: FenceReport | null = null;
  /** Primary-side shadow replication (src/agent/replication/). */
  replication!: ReplicationManager;
  /** Shadow-side targets and shadow VMs (src/agent/shadows/). */
  shadows!: ShadowManager;
  /** Live migrations out of this host (src/agent/replication/migrate.ts). */
  migrator!: LiveMigrator;
  /** VM growth by hot-add (src/agent/resize.ts). */
  resizer!: Resizer;

  private constructor(
    readonly config: AgentConfig,
    readonly driver: HypervisorDriver,
    readonly manager: VmManager,
    readonly sampler: Sampler,
    readonly lease: LeaseKeeper,
    private readonly api: AgentApi,
    readonly apiUrl: string,
    private readonly driverInfo: DriverInfo,
    private readonly clock: Clock,
    private readonly log: AgentLogger,
    readonly startedAt: number,
  ) {}

  /** Starts an agent (see the module comment). */
  static async start(cfg: AgentConfig, deps: AgentDeps): Promise<Agent> {
    const clock = deps.clock ?? systemClock;
    const log = deps.log ?? silentLogger;
    const { driver } = deps;
    const startedAt = clock.now();
    const records = new RecordStore(cfg.runDir);
    const capacity = cfg.capacity ?? { cores: cpus().length, memoryMiB: Math.floor(totalmem() / (1024 * 1024)) };
    const client = deps.client ?? new HttpServerClient({ baseUrl: cfg.serverUrl, token: cfg.token, clock, timeoutMs: cfg.requestTimeoutMs });
    const driverInfo = await driver.info();

    let lease: LeaseKeeper | null = null;
    let replication: ReplicationManager | null = null;
    const manager = new VmManager({
      driver,
      clock,
      log,
      records,
      disks: deps.disks ?? qemuImgDisks,
      ports: deps.ports ?? osPortPicker,
      address: cfg.address,
      runDir: cfg.runDir,
      fenced: () => lease?.state.fenced ?? false,
      onChange: () => lease?.poke(),
      // Its shadow may be promoted onto the target: no new copy may overwrite it.
      onEndOnPurpose: (vmId, op) => replication?.hold(vmId, `the VM was ended on purpose (${op} through the API)`),
    });
    const adopted = await manager.adoptAll();
    log.info({ vms: adopted.length, running: adopted.filter((v) => v.pid !== null).length }, 'VMs adopted from the run dir');
    let shadowsRef: ShadowManager | null = null;
    replication = new ReplicationManager({
      driver,
      clock,
      log,
      records,
      runDir: cfg.runDir,
      fenced: () => lease?.state.fenced ?? false,
      // A promoted shadow is a primary: it gets a shadow of its own.
      otherVms: { has: (id) => shadowsRef?.limitsOf(id)?.promoted ?? false, digest: (id, chunk) => shadowsRef!.digest(id, chunk) },
    });
    replication.start();
    const shadows = new ShadowManager({
      driver,
      targets: deps.targets ?? defaultTargets(driver, cfg.runDir, clock),
      clock,
      log,
      runDir: cfg.runDir,
      address: cfg.address,
      ports: deps.ports ?? osPortPicker,
      fenced: () => lease?.state.fenced ?? false,
      onEndOnPurpose: (id, op) => replication?.hold(id, `the VM was ended on purpose (${op} through the API)`),
    });
    shadowsRef = shadows;
    await shadows.start();
    const migrator = new LiveMigrator({ driver, clock, log, replication, fenced: () => lease?.state.fenced ?? false });
    const resizer = new Resizer({ driver, clock, log, limitsOf: (vmId) => vmLimits(vmId, records, shadows) });

    const buffer = new SampleBuffer(cfg.bufferCapacity);
    const sampler = new Sampler({
      agent: cfg.name,
      driver,
      // The VM manager's VMs and the promoted shadows (primaries after a failover) are sampled and probed.
      source: {
        ids: () => [...new Set([...manager.ids(), ...shadows.promotedIds()])].sort(),
        probeTarget: (id: string) => manager.probeTarget(id) ?? shadows.probeTarget(id),
      },
      clock,
      log,
      buffer,
      client,
      intervalMs: cfg.intervalMs ?? 10_000,
      probeTimeoutMs: cfg.probeTimeoutMs,
      probe: deps.probe,
      cpuUsageUs: deps.cpuUsageUs,
    });

    let self: Agent | null = null;
    const listenHost = cfg.listenHost ?? cfg.address;
    let api: AgentApi;
    try {
      const routes = [replicationRoutes(replication), migrationRoutes(migrator), resizeRoutes(resizer), shadowRoutes(shadows), retireRoutes({ vms: manager, shadows })];
      api = await startAgentApi({ manager, sampler, info: () => self!.info(), token: cfg.token, log, routes }, listenHost, cfg.listenPort ?? DEFAULT_AGENT_PORT);
    } catch (e) {
      // Port taken or address not on this host: detach (the VMs keep running) and report.
      await replication.close();
      await shadows.close();
      sampler.close();
      manager.close();
      throw e;
    }
    const apiUrl = endpointUrl(listenHost, api.port);

    /**
     * What the server is told this host runs: the VM manager's VMs and the promoted shadows
     * (primaries after a failover), with their service endpoints. The shadow part answers from
     * the agent's records and the driver, within a deadline like the VM part.
     */
    const promotedSeen = new Map<string, { state: string; pid: number | null; endpoint: string | null; at: number }>();
    const reportedVms = async () => {
      const vms: { id: string; state: string; pid: number | null; endpoint?: string | null }[] = await manager.summaries();
      const promoted = new Set(shadows.promotedIds());
      if (promoted.size) {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), 1000)));
        const listed = await Promise.race([shadows.list(), late])
          .catch(() => null)
          .finally(() => clearTimeout(timer));
        const now = clock.now();
        const retiring = new Set(shadows.retiringIds());
        for (const id of promoted) {
          const s = listed?.find((x) => x.id === id);
          let entry: { id: string; state: string; pid: number | null; endpoint: string | null };
          if (s) {
            // A promoted shadow is a primary whose end nobody asked for (its release kills it and
            // drops it from this list): an exited one crashed (a guest panic ends QEMU under -no-reboot).
            // Unless it is being retired: that end was asked for.
            const exited = retiring.has(id) ? 'exited' : 'crashed';
            entry = { id, state: s.vm.state === 'exited' ? exited : s.vm.state, pid: s.vm.pid, endpoint: s.vm.endpoint };
            promotedSeen.set(id, { ...entry, at: now });
          } else {
            // No answer in time (a hung monitor): the last one stands, then `unknown`, as for the VM manager's VMs.
            const last = promotedSeen.get(id);
            if (!last) continue;
            entry = { id, state: now - last.at < HUNG_AFTER_MS ? last.state : 'unknown', pid: last.pid, endpoint: last.endpoint };
          }
          const i = vms.findIndex((v) => v.id === id);
          if (i >= 0) vms[i] = entry;
          else vms.push(entry);
        }
      }
      return vms;
    };

    lease = new LeaseKeeper({
      name: cfg.name,
      clock,
      client,
      log,
      leaseMs: cfg.leaseMs ?? 15_000,
      random: deps.random,
      persistence: leaseFile(cfg.runDir),
      registration: async () => ({ name: cfg.name, apiUrl, address: cfg.address, labels: cfg.labels ?? {}, capacity, vms: await reportedVms() }),
      heartbeat: async () => ({ vms: await reportedVms() }),
      fence: async () => {
        const report = await fenceVms(driver, fenceTargets(manager.fenceTargets(), shadows), { clock, log });
        for (const id of report.killed) replication?.hold(id, 'the VM was killed by fencing');
        if (self) self.lastFence = report;
        log.error({ ...report }, 'host fenced');
        return report;
      },
    });

    self = new Agent(cfg, driver, manager, sampler, lease, api, apiUrl, driverInfo, clock, log, startedAt);
    self.replication = replication;
    self.migrator = migrator;
    self.resizer = resizer;
    self.shadows = shadows;
    log.info({ name: cfg.name, apiUrl, address: cfg.address, runDir: cfg.runDir, driver: driverInfo.kind, accel: driverInfo.accel }, 'agent listening');
    // One registration attempt before the watchdog runs: a restarted agent whose server is
    // up renews at once instead of fencing on an old persisted lease.
    await lease.renewOnce(self.abort.signal);
    self.loops = Promise.all([lease.run(self.abort.signal), sampler.run(self.abort.signal)]).then(() => undefined);
    return self;
  }

  /** What `GET /v1/info` serves. */
  info(): AgentInfo {
    const l = this.lease.state;
    return {
      name: this.config.name,
      apiUrl: this.apiUrl,
      address: this.config.address,
      labels: this.config.labels ?? {},
      capacity: this.config.capacity ?? { cores: cpus().length, memoryMiB: Math.floor(totalmem() / (1024 * 1024)) },
      driver: { kind: this.driverInfo.kind, simulated: this.driverInfo.simulated, accel: this.driverInfo.accel, version: this.driverInfo.version },
      startedAt: this.startedAt,
      lease: {
        registered: l.registered,
        leaseSeconds: l.leaseMs / 1000,
        heartbeatSeconds: l.heartbeatMs / 1000,
        lastRenewedAt: l.lastRenewedAt,
        fenceAt: this.lease.deadline,
        fenced: l.fenced,
        fencedAt: l.fencedAt,
        failures: l.failures,
        lastError: l.lastError,
      },
      vms: this.manager.ids().length,
      sampling: this.sampler.stats(),
      metrics: METRICS,
    };
  }

  /**
   * Stops the agent (SIGTERM): loops end, buffered samples get up to `flushMs` to reach the
   * server, the API closes, the driver detaches. VMs keep running.
   */
  async stop(opts: { flushMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.api.close();
    this.abort.abort();
    await this.loops;
    const flushMs = opts.flushMs ?? 2000;
    const giveUp = new AbortController();
    await Promise.race([this.sampler.flush(giveUp.signal), pause(this.clock, flushMs, giveUp.signal)]).catch((e: unknown) => this.log.warn({ err: errText(e) }, 'final flush failed'));
    giveUp.abort();
    await this.replication.close({ resumeQuiesced: true });
    await this.shadows.close();
    this.sampler.close();
    this.manager.close();
    await this.driver.close();
    this.log.info({ name: this.config.name }, 'agent stopped; VMs left running');
  }

  /** Ends the agent as a killed process would (tests): no flush, connections dropped, VMs untouched. */
  async crash(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    await this.api.close();
    await this.replication.close();
    await this.shadows.close();
    this.sampler.close();
    this.manager.close();
    await this.driver.close();
    await this.loops;
  }
}

/**
 * What fencing acts on: the agent's VMs, shadows not promoted labelled as shadows (a restarted
 * agent lists their VMs among its own), and promoted shadows, which are primaries now.
 */
export function fenceTargets(vms: readonly FenceTarget[], shadows: Pick<ShadowManager, 'ids' | 'promotedIds'>): FenceTarget[] {
  const promoted = new Set(shadows.promotedIds());
  const standby = new Set(shadows.ids().filter((id) => !promoted.has(id)));
  const out = vms.map((t) => (standby.has(t.id) ? { id: t.id, labels: { ...t.labels, [SHADOW_LABEL.key]: SHADOW_LABEL.value } } : t));
  for (const id of promoted) if (!out.some((t) => t.id === id)) out.push({ id, labels: {} });
  return out;
}

/** A VM's growth limits: an agent VM's spec, or a promoted shadow's; unpromoted shadows are not grown. */
function vmLimits(vmId: string, records: RecordStore, shadows: ShadowManager): VmLimits {
  const rec = records.get(vmId);
  if (rec) return { maxVcpus: rec.spec.maxVcpus, maxMemoryMiB: rec.spec.maxMemoryMiB };
  const sh = shadows.limitsOf(vmId);
  if (sh?.promoted) return { maxVcpus: sh.maxVcpus, maxMemoryMiB: sh.maxMemoryMiB };
  if (sh) throw new VmInvalidStateError(vmId, 'resize', 'a shadow not promoted', 'a primary (its shape must match the primary for a live migration)');
  throw new VmNotFoundError(vmId, 'resize');
}

/** The last lease renewal, in `<runDir>/agent/lease.json`. */
export function leaseFile(runDir: string): LeasePersistence {
  const dir = join(runDir, 'agent');
  const f = join(dir, 'lease.json');
  return {
    load: () => {
      if (!existsSync(f)) return null;
      try {
        const v = (JSON.parse(readFileSync(f, 'utf8')) as { lastRenewedAt?: unknown }).lastRenewedAt;
        return typeof v === 'number' && Number.isFinite(v) ? v : null;
      } catch {
        return null;
      }
    },
    save: (lastRenewedAt) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${f}.tmp`, JSON.stringify({ lastRenewedAt }));
      renameSync(`${f}.tmp`, f);
    },
  };
}

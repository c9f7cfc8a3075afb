/**
 * The control plane's one write path: every record the server keeps (agents and their leases,
 * VM specs and statuses, usage samples, forecasts, events) is read and written through a
 * {@link Store}. Implementations: SQLite (src/store/sqlite/); etcd later, for several servers.
 *
 * Model (Nomad's state store): work happens in a transaction over a {@link StoreTx}, whose
 * methods are synchronous so that a transaction is one atomic step with no interleaving; the
 * transaction as a whole is asynchronous so that a replicated store can commit over the network.
 * Every record a store returns is frozen: callers treat it as immutable and write changes back
 * through a transaction.
 *
 * Times: agent leases, VM status and events use epoch milliseconds (the server's Clock);
 * samples and forecasts use epoch seconds (as the agents' samples and the profiler do).
 */
import type { UsageSample } from '../api/protocol.js';
import type { SeriesForecast } from '../forecast/types.js';

/** A VM as its agent reported it (registration, heartbeat, or the reply to an ensure). */
export interface ObservedVm {
  readonly id: string;
  /** The agent's state word (`running`, `stopped`, `crashed`, ...). */
  readonly state: string;
  readonly pid: number | null;
  /** Guest service URL, when the agent said it (kept across heartbeats that omit it, same pid). */
  readonly endpoint: string | null;
  /** The agent's last error for this VM (a failed start carries QEMU's stderr tail). */
  readonly lastError: { readonly code: string; readonly message: string; readonly stderrTail?: string } | null;
}

/** What an agent registers with (the protocol's AgentRegistration with its defaults applied). */
export interface AgentRegistrationData {
  name: string;
  apiUrl: string;
  address: string;
  labels: Record<string, string>;
  capacity: { cores: number; memoryMiB: number };
}

/** A registered agent and its lease. `alive` is not stored: it is `now < leaseExpiresAt`. */
export interface AgentRow extends Readonly<AgentRegistrationData> {
  /** Epoch ms of the first registration under this name. */
  readonly registeredAt: number;
  /** Epoch ms of the last registration or heartbeat. */
  readonly lastSeenAt: number;
  /** Epoch ms when the lease runs out unless renewed. */
  readonly leaseExpiresAt: number;
  /** The VMs the agent said it runs, as of `lastSeenAt`. */
  readonly observed: readonly ObservedVm[];
}

/** The desired state of a VM (written by users and placement; never by observation). */
export interface VmSpec {
  vcpus: number;
  memoryMiB: number;
  /** The host the VM is placed on. */
  host: string;
  labels: Record<string, string>;
  /** Keep a shadow whatever the forecast says (`umbra lab up --protect`, `umbra shadow protect`). */
  protect?: boolean;
  /**
   * The id of the VM's process on its host's agent when it is not the VM's own id: after a
   * failover, the promoted shadow (`vm1-s3f2a1`) is the VM. Such an instance is observed, never
   * re-created by an ensure (only the failover controller moves a VM).
   */
  instance?: string;
}

/** The observed state of a VM, rebuilt by the reconciler from what agents report. */
export interface VmStatus {
  /**
   * The agent's state word, or the server's: `host_lost` (the host's lease expired),
   * `host_unknown` (no such agent), `absent` (the live host does not run it), `failed` (the last
   * ensure failed and the host does not run it), `pending` (not observed yet).
   */
  state: string;
  host: string;
  pid: number | null;
  endpoint: string | null;
  /** Epoch ms of the observation this status was built from (null: none yet). */
  observedAt: number | null;
  lastError: { code: string; message: string; stderrTail?: string } | null;
}

/** A VM record: spec and status are separate records; writing one never touches the other. */
export interface VmRow {
  readonly id: string;
  readonly role: 'primary' | 'shadow';
  readonly spec: Readonly<VmSpec>;
  /** Incremented on every spec change (1 at creation). */
  readonly generation: number;
  /** Epoch ms of creation. */
  readonly createdAt: number;
  readonly status: Readonly<VmStatus>;
}

/** A stored sample. Rows older than the raw retention are 5-minute averages (`count` > 1 possible). */
export interface StoredSample {
  readonly vmId: string;
  readonly metric: string;
  /** Epoch seconds (a bucket's start for downsampled rows). */
  readonly t: number;
  readonly value: number;
  readonly unit: string;
  /** `raw`, or `downsampled` (an average over `count` raw samples). */
  readonly resolution: 'raw' | 'downsampled';
  readonly count: number;
}

/** One series the store holds samples of. */
export interface SeriesInfo {
  readonly vmId: string;
  readonly metric: string;
  readonly unit: string;
  /** Epoch seconds of the oldest and newest sample (raw or downsampled). */
  readonly first: number;
  readonly last: number;
}

/** A series averaged into fixed buckets, for the profiler. Fresh arrays owned by the caller. */
export interface BucketedSeries {
  readonly unit: string;
  /** Bucket start times, epoch seconds, ascending; only buckets holding samples. */
  readonly times: Float64Array;
  /** Mean of every sample in the bucket (downsampled rows weighted by their count). */
  readonly values: Float64Array;
}

/** The latest forecast of one VM's metric. */
export interface ForecastRow {
  readonly vmId: string;
  readonly metric: string;
  /** Epoch seconds when it was computed. */
  readonly computedAt: number;
  readonly forecast: SeriesForecast;
}

/** An entry of the append-only event log. */
export interface EventRow {
  /** Position in the log, strictly increasing. */
  readonly seq: number;
  /** Epoch ms. */
  readonly t: number;
  /** Dotted kind, e.g. `agent.registered`, `vm.created`, `vm.state`. */
  readonly kind: string;
  readonly vmId: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * A shadow of a VM (issue 4): where it runs, how it is fed, and what was last observed of it.
 * The shadow manager writes the whole record (it is a document, not a set of columns); `status`
 * is rebuilt from observation every pass.
 */
export interface ShadowRow {
  /** The shadow's id (a VM id on its host), e.g. `vm1-s1`. */
  readonly id: string;
  /** The protected VM. */
  readonly vmId: string;
  readonly host: string;
  readonly flavor: 'warm' | 'migrate';
  readonly mode: 'sync' | 'async' | 'periodic';
  /** Seconds between rounds (periodic) and the lag SLO basis. */
  readonly intervalSeconds: number;
  /** Reserved on `host` for this shadow. */
  readonly size: Readonly<{ vcpus: number; memoryMiB: number }>;
  /** Epoch ms. */
  readonly createdAt: number;
  /** `active`; `retiring` once replaced or no longer wanted (deleted when its resources are gone). */
  readonly phase: 'active' | 'retiring';
  /** Why it was created (and, once retiring, why it goes). */
  readonly reason: string;
  /** The shadow this one replaces (max_shadow_age refresh), until it is synchronized. */
  readonly replaces: string | null;
  readonly status: Readonly<ShadowStatusDoc>;
}

/** What the shadow manager last observed and concluded about a shadow (JSON document). */
export interface ShadowStatusDoc {
  /** `provisioning` | `syncing` | `synchronized` | `lagging` | `broken`. */
  sync: string;
  /** Epoch ms when `sync` last changed. */
  syncSince: number;
  /** 0..1 during the first copy. */
  progress: number | null;
  lagBytes: number | null;
  lagSeconds: number | null;
  /** Replication generation (new full copies). */
  generation: number | null;
  /** The target export the primary writes to. */
  target: { host: string; port: number; export: string } | null;
  /** The shadow VM as its agent reports it. */
  vm: { state: string; pid: number | null; endpoint: string | null; ready?: boolean } | null;
  targetPid: number | null;
  /** The last error seen (replication or shadow side). */
  error: string | null;
  initialCopyBytesPerSec: number | null;
  readyAt: number | null;
  /** The last verification (checksums of both sides at one point in time). */
  verify: { at: number; ok: boolean; pauseMs: number; chunks: number; mismatched: number[]; error?: string } | null;
  /** The last rehearsal (warm-up). */
  rehearsal: { at: number; ok: boolean; where: string; timeToReadyMs: number | null; taskMs: number | null; error: string | null } | null;
  /** Extra fields the shadow manager keeps (schedules, counters). */
  [k: string]: unknown;
}

/** An alert (issue 4 §7): one per `key`, firing until resolved. */
export interface AlertRow {
  /** Dedupe key, e.g. `lag_slo/vm1`. */
  readonly key: string;
  /** `lag_slo`, `sync_failed`, `target_lost`, `corruption`, `rehearsal_failed`, `unplaced`, ... */
  readonly kind: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly vmId: string | null;
  readonly shadowId: string | null;
  readonly state: 'firing' | 'resolved';
  /** Epoch ms. */
  readonly startsAt: number;
  readonly endsAt: number | null;
  readonly summary: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Epoch ms of the last change (firing again, resolved, text). */
  readonly updatedAt: number;
}

/** One step of a failover, as the controller finished (or failed) it. */
export interface FailoverStepRecord {
  readonly name: string;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly ok: boolean | null;
  readonly detail: string;
}

/**
 * A failover (issue 5): its intent (written before the first step) and every finished step, so a
 * controller killed halfway resumes or safely completes it on restart.
 */
export interface FailoverRow {
  readonly id: string;
  readonly vmId: string;
  /** `running` until it ends `done`, `failed` (the VM is left as the last step left it) or `aborted` (nothing was changed). */
  readonly state: 'running' | 'done' | 'failed' | 'aborted';
  /** Why it started: the criteria atoms that held, or `manual`. */
  readonly reason: string;
  /** `warm` takeover, `migrate` (live migration), `cold` boot from the synchronized disk. */
  readonly path: 'warm' | 'migrate' | 'cold';
  readonly fromHost: string;
  /** The primary's process id on its agent before the failover. */
  readonly fromInstance: string;
  readonly shadowId: string;
  readonly toHost: string;
  /** Seconds of acknowledged writes that may be lost (0 with a synchronized sync-mode shadow). */
  readonly dataLossBoundSeconds: number;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly steps: readonly FailoverStepRecord[];
  /** Extra fields (measurements, hook outcomes). */
  readonly data: Readonly<Record<string, unknown>>;
}

/** How long samples are kept and at which resolution. */
export interface RetentionPolicy {
  /** Raw samples older than this (s) are folded into averages. Default 7 days. */
  rawSeconds: number;
  /** Width of a downsampled bucket (s); a divisor of a day. Default 300. */
  bucketSeconds: number;
  /** Downsampled rows older than this (s) are deleted. Default 35 days. */
  downsampledSeconds: number;
}

/** The retention used when none is configured: raw 7 days, then 5-minute averages for 35 days. */
export const DEFAULT_RETENTION: Readonly<RetentionPolicy> = Object.freeze({
  rawSeconds: 7 * 86_400,
  bucketSeconds: 300,
  downsampledSeconds: 35 * 86_400,
});

/** What one maintenance pass did. */
export interface MaintenanceReport {
  /** Raw samples folded into averages (and removed from the raw table). */
  readonly downsampled: number;
  /** Averaged rows written or updated. */
  readonly buckets: number;
  /** Averaged rows deleted for being older than the downsampled retention. */
  readonly expired: number;
}

/** Sample counts by table. */
export interface SampleStats {
  readonly raw: number;
  readonly downsampled: number;
  readonly series: number;
}

/** Filters for {@link StoreReader.querySamples}. */
export interface SampleQuery {
  vmId: string;
  /** One metric; all when absent. */
  metric?: string;
  /** Epoch seconds, inclusive. */
  from?: number;
  /** Epoch seconds, inclusive. */
  to?: number;
  /** At most this many rows (the oldest first). Default 100 000. */
  limit?: number;
}

/** Filters for {@link StoreReader.listEvents}. */
export interface EventQuery {
  /** Only events with `seq` greater than this. */
  afterSeq?: number;
  vmId?: string;
  kind?: string;
  /** At most this many (oldest first). Default 1000. */
  limit?: number;
}

/** The read side of a transaction. */
export interface StoreReader {
  /** The agent registered under `name`, or undefined. */
  getAgent(name: string): AgentRow | undefined;
  /** Every registered agent, by name. */
  listAgents(): readonly AgentRow[];
  /** The VM `id` with its spec and status, or undefined. */
  getVm(id: string): VmRow | undefined;
  /** Every VM, by id. */
  listVms(): readonly VmRow[];
  /** Samples of one VM (raw and downsampled), oldest first. */
  querySamples(q: SampleQuery): readonly StoredSample[];
  /**
   * One series between `from` and `to` (epoch s, inclusive) averaged into `bucketSeconds`
   * buckets aligned to multiples of it in epoch time. Use a multiple of the retention's bucket
   * so downsampled rows fall wholly into one bucket. Empty arrays when there is no sample.
   */
  readSeries(q: { vmId: string; metric: string; from: number; to: number; bucketSeconds: number }): BucketedSeries;
  /** Every series with at least one sample, by VM then metric. */
  listSeries(): readonly SeriesInfo[];
  /** Counts of stored samples. */
  sampleStats(): SampleStats;
  /** The latest forecast of every metric of `vmId`, by metric. */
  getForecasts(vmId: string): readonly ForecastRow[];
  /** Events in log order. */
  listEvents(q?: EventQuery): readonly EventRow[];
  /** The shadow `id`, or undefined. */
  getShadow(id: string): ShadowRow | undefined;
  /** Every shadow (of one VM when `vmId` is given), by id. */
  listShadows(vmId?: string): readonly ShadowRow[];
  /** The alert with this key, or undefined. */
  getAlert(key: string): AlertRow | undefined;
  /** Alerts, newest change first; only firing ones unless `all`. */
  listAlerts(q?: { all?: boolean; vmId?: string; limit?: number }): readonly AlertRow[];
  /** The failover `id`, or undefined. */
  getFailover(id: string): FailoverRow | undefined;
  /** Failovers, newest first (of one VM, or only running ones, when asked). */
  listFailovers(q?: { vmId?: string; running?: boolean; limit?: number }): readonly FailoverRow[];
}

/** The write side of a transaction (it reads too: writes see earlier writes of the same transaction). */
export interface StoreTx extends StoreReader {
  /**
   * Registers (or re-registers) an agent: replaces its registration data, lease and observed
   * VMs; keeps `registeredAt` of an earlier registration under the same name.
   */
  putAgent(reg: AgentRegistrationData, lease: { now: number; leaseExpiresAt: number; observed: readonly ObservedVm[] }): AgentRow;
  /**
   * Renews an agent's lease and replaces its observed VMs. An entry without an endpoint keeps
   * the endpoint of the previous observation of the same VM with the same pid.
   * @throws NotFoundError when no agent has that name (it must register first)
   */
  renewLease(name: string, lease: { now: number; leaseExpiresAt: number; observed: readonly ObservedVm[] }): AgentRow;
  /**
   * Adds or replaces one VM in an agent's observed list (an ensure's reply is an observation
   * too) without renewing the lease.
   * @throws NotFoundError when no agent has that name
   */
  observeVm(name: string, vm: ObservedVm): AgentRow;
  /**
   * Creates a VM record at generation 1 with the given initial status.
   * @throws ConflictError when a VM with this id exists
   */
  createVm(vm: { id: string; role: 'primary' | 'shadow'; spec: VmSpec; createdAt: number; status: VmStatus }): VmRow;
  /**
   * Replaces a VM's spec and increments its generation; the status is not touched.
   * @throws NotFoundError when there is no such VM
   */
  updateVmSpec(id: string, spec: VmSpec): VmRow;
  /**
   * Replaces a VM's status; the spec and generation are not touched.
   * @throws NotFoundError when there is no such VM
   */
  setVmStatus(id: string, status: VmStatus): VmRow;
  /** Deletes a VM record (spec and status). True when it existed. Samples and forecasts stay until retention. */
  deleteVm(id: string): boolean;
  /**
   * Stores samples; a sample at the same VM, metric and time as a stored raw one replaces it.
   * A series' unit is the unit of its latest batch. Returns how many were stored.
   */
  insertSamples(samples: readonly UsageSample[]): number;
  /** Replaces the latest forecast of `vmId`/`forecast.metric`. */
  putForecast(vmId: string, forecast: SeriesForecast, computedAt: number): ForecastRow;
  /** Appends an event; returns it with its `seq`. */
  appendEvent(e: { t: number; kind: string; vmId?: string | null; data?: Record<string, unknown> }): EventRow;
  /**
   * Applies the retention at `now` (epoch s): raw samples older than `now − rawSeconds`
   * (rounded down to a bucket boundary) are averaged into buckets, merged with any average
   * already there by count, and deleted; averages older than `now − downsampledSeconds` are
   * deleted. Idempotent: a second pass at the same `now` changes nothing.
   */
  maintain(now: number, policy?: RetentionPolicy): MaintenanceReport;
  /** Creates or replaces a shadow record. */
  putShadow(row: ShadowRow): ShadowRow;
  /** Deletes a shadow record; true when it existed. */
  deleteShadow(id: string): boolean;
  /** Creates or replaces an alert (by key). */
  putAlert(row: AlertRow): AlertRow;
  /** Deletes resolved alerts whose `endsAt` is before `before` (epoch ms); returns how many. */
  pruneAlerts(before: number): number;
  /** Creates or replaces a failover record. */
  putFailover(row: FailoverRow): FailoverRow;
}

/** A store of the control plane's records. */
export interface Store {
  /**
   * Runs `fn` as one atomic read-write transaction and resolves with its result. When `fn`
   * throws, nothing it wrote is kept and the promise rejects with that error. `fn` must be
   * synchronous (it must not return a promise): the transaction is one step.
   */
  transaction<T>(fn: (tx: StoreTx) => T): Promise<T>;
  /** Runs `fn` over a consistent read-only view and resolves with its result. */
  read<T>(fn: (r: StoreReader) => T): Promise<T>;
  /** Closes the store; later calls reject. Idempotent. */
  close(): Promise<void>;
}

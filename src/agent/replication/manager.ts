/**
 * The primary side of shadow replication (src/api/shadow-protocol.ts): one supervisor per VM
 * that has a ReplicationSpec, copying the VM's data disk to the shadow's NBD export.
 *
 * - `sync`: blockdev-mirror, copy-mode write-blocking (once ready a guest write is acknowledged
 *   only when it is on the target: RPO 0); `async`: the same mirror in background mode (lag
 *   measured); `periodic`: a transaction (dirty bitmap + full blockdev-backup), then every
 *   `intervalSeconds` an incremental backup of what the bitmap marks (QEMU clears it on
 *   success, merges it back on failure).
 * - Each supervisor is a loop on the injected clock (every `tickMs`, sooner on a job event):
 *   observe (process, job, bitmap) → {@link step} (pure, lag.ts) → apply the one action it
 *   returns (start a generation, run a round). A failed job gives `error` and a new full copy
 *   after backoff (1 s doubling to 30 s); a primary process that ended gives `stopped`, and a
 *   new process a new full copy.
 * - The spec and facts are persisted per VM (store.ts): a restarted agent finds its jobs again
 *   (a live mirror of the recorded generation in the same process is adopted, not restarted).
 * - quiesce pauses the vCPUs and waits until the target holds every write; the guest is
 *   resumed by the agent after `maxPauseMs` whatever happens, never while the host is fenced.
 * - hold: a VM ended on purpose (API kill/powerdown, fencing) gets no new full copy, even when
 *   a new process runs, until a PUT or resync (its shadow may have been promoted onto the
 *   target). handOver/forget/release serve a live migration (migrate.ts): the mirror is
 *   cancelled in ready state at switchover, then the spec is dropped (or copying starts again
 *   when the migration failed).
 *
 * Operations on one VM run one at a time (a keyed lock), the loop's passes included. Auto-resume
 * and unquiesce do not wait for the lock: resuming must never wait behind a slow job set-up.
 */
import { tcpUnreachable } from './reachable.js';
import type { Clock } from '../../core/clock.js';
import {
  quiesceRequestSchema,
  replicationSpecSchema,
  type DiskDigest,
  type QuiesceReply,
  type ReplicationSpec,
  type ReplicationStatus,
} from '../../api/shadow-protocol.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import { isHypervisorError, VmInvalidStateError, VmNotFoundError } from '../../hypervisor/errors.js';
import { LIVE_STATES, type VmEvent } from '../../hypervisor/types.js';
import type { BackoffPolicy } from '../backoff.js';
import { errText, type AgentLogger } from '../log.js';
import type { RecordStore } from '../records.js';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import { pause, Wakeup } from '../timing.js';
import { DATA_DISK_ID } from '../vm-spec.js';
import { DEFAULT_CHUNK_BYTES, qemuImgDigester, type DiskDigester } from './digest.js';
import { ReplicationNotFoundError, ReplicationRequestInvalidError } from './errors.js';
import {
  beginGeneration,
  initialFacts,
  isReplicationBitmap,
  jobNames,
  jobStarted,
  needsNewCopy,
  nextLookMs,
  recordFailure,
  REPLICATION_BACKOFF,
  roundStarted,
  statusOf,
  recordLagSample,
  lagBytesOf,
  type LagSample,
  step,
  type JobEnd,
  type ReplAction,
  type ReplFacts,
  type ReplObservation,
} from './lag.js';
import { ReplicationStore, type QuiesceRecord } from './store.js';
import { join } from 'node:path';

/** The hold of a replication handed over to a live migration. */
export const HANDED_OVER = 'handed over to a live migration';

const JOB_EVENTS = ['BLOCK_JOB_READY', 'BLOCK_JOB_COMPLETED', 'BLOCK_JOB_CANCELLED', 'BLOCK_JOB_ERROR', 'EXITED'];

/** Options of {@link ReplicationManager}. */
export interface ReplicationManagerOptions {
  driver: HypervisorDriver;
  clock: Clock;
  log: AgentLogger;
  /** The agent's VM records: which VMs exist and where their data disks are. */
  records: RecordStore;
  /** Records go under `<runDir>/agent/replication/`, digest temp files under `<runDir>/agent/tmp/`. */
  runDir: string;
  /** True while the agent's lease is lost: the agent never resumes a guest then. */
  fenced: () => boolean;
  /** Supervision interval, ms (default 500). */
  tickMs?: number;
  /** Poll interval while a quiesce waits for the target, ms (default 10). */
  pollMs?: number;
  backoff?: BackoffPolicy;
  /** How disk digests are computed (default: qemu-img convert + sha256). */
  digester?: DiskDigester;
  /**
   * VMs this agent runs without a VM record that may be replicated too: promoted shadows (their
   * data disk, node `data`, is their target's export). `digest` gives their disk's digests.
   */
  otherVms?: { has(vmId: string): boolean; digest(vmId: string, chunkBytes: number): Promise<DiskDigest> };
  /** Why a target does not accept connections, or null when it does (default: a 2 s TCP connect; always null for a simulated driver). */
  unreachable?: (target: ReplicationSpec['target']) => Promise<string | null>;
}

/** One supervised replication. */
interface Entry {
  vmId: string;
  spec: ReplicationSpec;
  facts: ReplFacts;
  /** The JSON last written for this entry (writes happen only when it changes). */
  written: string;
  wake: Wakeup;
  abort: AbortController;
  loop: Promise<void>;
  /** End and ready events of this VM's replication jobs, by job id (pruned every pass). */
  ends: Map<string, JobEnd>;
  readies: Map<string, number>;
  quiesce: (QuiesceRecord & { timer: AbortController }) | null;
  /** Recent progress observations (lag estimate; memory only). */
  lagHistory: LagSample[];
}

/** See the module comment. */
export class ReplicationManager {
  private readonly entries = new Map<string, Entry>();
  private readonly lock = new KeyedMutex();
  private readonly store: ReplicationStore;
  private readonly tickMs: number;
  private readonly pollMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly digester: DiskDigester;
  private unsubscribe: (() => void) | null = null;
  private closed = false;

  constructor(private readonly o: ReplicationManagerOptions) {
    this.store = new ReplicationStore(o.runDir);
    this.tickMs = o.tickMs ?? 500;
    this.pollMs = o.pollMs ?? 10;
    this.backoff = o.backoff ?? REPLICATION_BACKOFF;
    this.digester = o.digester ?? qemuImgDigester({ tmpDir: join(o.runDir, 'agent', 'tmp') });
  }

  /**
   * Loads the persisted replications and starts supervising them. A recorded job that still
   * runs in the same process is adopted on the first pass; an open quiesce keeps its deadline.
   */
  start(): void {
    this.unsubscribe = this.o.driver.subscribe((ev) => this.onEvent(ev), { types: JOB_EVENTS });
    for (const rec of this.store.load()) {
      let facts = rec.facts;
      if (facts.phase === 'starting') {
        // The agent stopped while setting a job up: look for the job it was starting.
        const names = jobNames(facts.generation);
        facts = { ...facts, phase: 'running', jobId: rec.spec.mode === 'periodic' ? names.full : names.mirror };
      }
      const e = this.newEntry(rec.vmId, rec.spec, facts);
      if (rec.quiesce) this.armResume(e, rec.quiesce);
      this.o.log.info({ vmId: rec.vmId, generation: facts.generation, mode: rec.spec.mode, jobId: facts.jobId }, 'replication resumed from the run dir');
      this.launch(e);
    }
  }

  /**
   * Stops supervising (the jobs keep running in QEMU; the next agent adopts them). With
   * `resumeQuiesced`, guests this agent paused for a quiesce are resumed first (a graceful stop);
   * without it (a crash), the next agent resumes them at their recorded deadline.
   */
  async close(opts: { resumeQuiesced?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const e of this.entries.values()) {
      e.abort.abort();
      if (e.quiesce && opts.resumeQuiesced) await this.endQuiesce(e, 'agent stopping');
      e.quiesce?.timer.abort();
    }
    await Promise.all([...this.entries.values()].map((e) => e.loop));
  }

  /** Ids of the VMs with a replication. */
  ids(): string[] {
    return [...this.entries.keys()].sort();
  }

  /**
   * Ensures the VM's replication (PUT): records the spec and starts the first copy when new;
   * the same spec again changes nothing; another target or mode cancels the job and starts a
   * new full copy; other fields (shadowId, interval, speed) apply in place (a new speed limit
   * also to the running job).
   */
  async ensure(vmId: string, body: unknown): Promise<ReplicationStatus> {
    const spec = parseBody(replicationSpecSchema, body, 'replication spec', vmId);
    this.requireVm(vmId, 'replicate');
    return this.lock.run(vmId, async () => {
      let e = this.entries.get(vmId);
      if (!e) {
        e = this.newEntry(vmId, spec, initialFacts());
        this.o.log.info({ vmId, shadowId: spec.shadowId, mode: spec.mode, target: `${spec.target.host}:${spec.target.port}` }, 'replication set');
        this.persist(e);
        this.launch(e);
        await this.pass(e);
      } else if (needsNewCopy(e.spec, spec)) {
        this.o.log.info({ vmId, shadowId: spec.shadowId, mode: spec.mode, target: `${spec.target.host}:${spec.target.port}` }, 'replication spec changed: new full copy');
        e.spec = spec;
        e.facts = { ...e.facts, failures: 0, consecutiveFailures: 0, error: null, held: null };
        await this.newGeneration(e, 'the spec changed (target or mode)');
      } else {
        const speedChanged = e.spec.speedBytesPerSec !== spec.speedBytesPerSec;
        e.spec = spec;
        this.persist(e);
        if (e.facts.held !== null) {
          // The server asks for this replication again: copying may start again.
          this.o.log.info({ vmId, was: e.facts.held }, 'replication released by a new PUT');
          this.setFacts(e, { ...e.facts, held: null });
          await this.pass(e);
        }
        if (speedChanged && e.facts.phase === 'running' && e.facts.jobId !== null) {
          // The live job takes the new limit now; later jobs (rounds, generations) read it from the spec.
          await this.o.driver.setBlockJobSpeed(vmId, e.facts.jobId, spec.speedBytesPerSec).catch((err: unknown) => this.o.log.warn({ vmId, err: errText(err) }, 'replication: changing the job speed failed'));
        }
      }
      e.wake.poke();
      return statusOf(vmId, e.spec, e.facts, this.o.clock.now(), e.lagHistory);
    });
  }

  /** The replication as observed now (GET). */
  async get(vmId: string): Promise<ReplicationStatus> {
    const e = this.need(vmId);
    return this.lock.run(vmId, async () => {
      this.stillThere(e);
      await this.refresh(e).catch((err: unknown) => this.o.log.debug({ vmId, err: errText(err) }, 'replication observation failed'));
      return statusOf(vmId, e.spec, e.facts, this.o.clock.now(), e.lagHistory);
    });
  }

  /** Starts a new full copy now, cancelling the current job (POST resync). */
  async resync(vmId: string): Promise<ReplicationStatus> {
    const e = this.need(vmId);
    return this.lock.run(vmId, async () => {
      this.stillThere(e);
      if (e.facts.held !== null) this.setFacts(e, { ...e.facts, held: null });
      await this.newGeneration(e, 'resync requested');
      e.wake.poke();
      return statusOf(vmId, e.spec, e.facts, this.o.clock.now(), e.lagHistory);
    });
  }

  /**
   * Stops the replication (DELETE): a ready mirror is cancelled so that the target keeps a
   * consistent copy; a periodic replication's round, bitmap and target node go; the record is
   * removed; a guest paused by a quiesce is resumed.
   */
  async remove(vmId: string): Promise<void> {
    const e = this.need(vmId);
    return this.lock.run(vmId, async () => {
      this.stillThere(e);
      e.abort.abort();
      if (e.quiesce) await this.endQuiesce(e, 'replication removed');
      await this.teardown(e, false);
      this.entries.delete(vmId);
      this.store.remove(vmId);
      this.o.log.info({ vmId, generation: e.facts.generation }, 'replication removed');
    });
  }

  /** True when the VM has a replication. */
  has(vmId: string): boolean {
    return this.entries.has(vmId);
  }

  /**
   * Holds the VM's replication: no new full copy starts (not even when a new process runs)
   * until the spec is PUT again or resynced. Called when the VM's process is ended on purpose
   * (API kill or powerdown, fencing): its shadow may have been promoted, and a new copy would
   * overwrite the disk the promoted VM now runs on. Takes effect at once (does not wait for a
   * supervision pass in flight). No-op for a VM without a replication.
   */
  hold(vmId: string, reason: string): void {
    const e = this.entries.get(vmId);
    if (!e || e.facts.held === reason) return;
    this.setFacts(e, { ...e.facts, held: reason });
    this.o.log.info({ vmId, reason }, 'replication held: no new copy until PUT or resync');
  }

  /**
   * Hands the replication over to a live migration at its switchover (the guest is paused):
   * holds it, then a mirror is cancelled in ready state (QEMU copies what is left: the target
   * holds every write; `caughtUp` false when the job was not ready or ended otherwise), a
   * periodic replication runs one last round. The generation ends (no job); the caller then
   * {@link forget}s it (migration completed) or {@link release}s it (migration failed: a new
   * full copy starts). `NOT_FOUND` when the VM has no replication.
   */
  async handOver(vmId: string, deadline: number): Promise<{ caughtUp: boolean; ms: number }> {
    const e = this.need(vmId);
    return this.lock.run(vmId, async () => {
      this.stillThere(e);
      const { driver, clock, log } = this.o;
      const t0 = clock.now();
      this.setFacts(e, { ...e.facts, held: HANDED_OVER });
      let caughtUp = false;
      if (e.spec.mode !== 'periodic') {
        const jobId = e.facts.phase === 'running' ? e.facts.jobId : null;
        if (jobId !== null) {
          const end = await driver.cancelBlockJob(vmId, jobId, { force: false, timeoutMs: Math.max(1000, deadline - clock.now()) }).catch((err: unknown) => {
            log.warn({ vmId, jobId, err: errText(err) }, 'hand-over: cancelling the mirror failed');
            return null;
          });
          caughtUp = end?.outcome === 'completed';
        }
      } else {
        caughtUp = await this.catchUp(e, deadline).catch((err: unknown) => {
          log.warn({ vmId, err: errText(err) }, 'hand-over: the last round failed');
          return false;
        });
      }
      this.setFacts(e, { ...e.facts, phase: 'idle', jobId: null, roundStartedAt: null, retryAt: null });
      const ms = clock.now() - t0;
      log.info({ vmId, generation: e.facts.generation, caughtUp, ms }, 'replication handed over to a live migration');
      return { caughtUp, ms };
    });
  }

  /** Clears a hold: a new full copy starts when a process runs. No-op without a replication. */
  async release(vmId: string): Promise<void> {
    const e = this.entries.get(vmId);
    if (!e) return;
    await this.lock.run(vmId, async () => {
      if (this.entries.get(vmId) !== e || e.facts.held === null) return;
      this.o.log.info({ vmId, was: e.facts.held }, 'replication released');
      this.setFacts(e, { ...e.facts, held: null });
      e.wake.poke();
    });
  }

  /**
   * Stops supervising the VM's replication and drops its spec and record, leaving the VM's
   * process as it is (no job is cancelled: after a completed live migration there is none, and
   * the source never runs again). No-op without a replication.
   */
  async forget(vmId: string, why: string): Promise<void> {
    const e = this.entries.get(vmId);
    if (!e) return;
    await this.lock.run(vmId, async () => {
      if (this.entries.get(vmId) !== e) return;
      e.abort.abort();
      e.quiesce?.timer.abort();
      this.entries.delete(vmId);
      this.store.remove(vmId);
      this.o.log.info({ vmId, generation: e.facts.generation, why }, 'replication dropped');
    });
    await e.loop;
  }

  /**
   * Pauses the guest and waits until the target holds every write (mirror: nothing left to
   * copy; periodic: one more round). The guest is resumed by the agent after `maxPauseMs`
   * whatever happens. A second quiesce while one is open keeps the first one's pause and
   * deadline. Refused on a fenced host.
   */
  async quiesce(vmId: string, body: unknown): Promise<QuiesceReply> {
    const req = parseBody(quiesceRequestSchema, body, 'quiesce request', vmId);
    this.requireVm(vmId, 'quiesce');
    const e = this.need(vmId);
    if (this.o.fenced()) throw new VmInvalidStateError(vmId, 'quiesce', 'fenced', 'a live lease with the server (the agent fenced this host)');
    return this.lock.run(vmId, async () => {
      this.stillThere(e);
      const { driver, clock, log } = this.o;
      if (!e.quiesce) {
        const st = await driver.status(vmId);
        if (st.state !== 'running' && st.state !== 'paused') throw new VmInvalidStateError(vmId, 'quiesce', st.state, 'a running or paused VM');
        const weStopped = st.state === 'running';
        if (weStopped) await driver.stop(vmId);
        const pausedAt = clock.now();
        this.armResume(e, { pausedAt, resumeAt: pausedAt + req.maxPauseMs, weStopped });
        this.persist(e);
        log.info({ vmId, maxPauseMs: req.maxPauseMs, weStopped }, 'quiesced: guest paused');
      }
      const q = e.quiesce!;
      const caughtUp = (await this.catchUp(e, q.resumeAt).catch((err: unknown) => {
        log.warn({ vmId, err: errText(err) }, 'quiesce: waiting for the target failed');
        return false;
      })) && e.quiesce === q;
      const catchUpMs = clock.now() - q.pausedAt;
      log.info({ vmId, caughtUp, catchUpMs }, 'quiesce caught up');
      return { pausedAt: q.pausedAt, caughtUp, catchUpMs };
    });
  }

  /** Resumes a quiesced guest; `pauseMs` is how long it was paused (0 when it was not quiesced). Refused on a fenced host. */
  async unquiesce(vmId: string): Promise<{ pauseMs: number }> {
    this.requireVm(vmId, 'unquiesce');
    const e = this.need(vmId);
    const q = e.quiesce;
    if (!q) return { pauseMs: 0 };
    if (q.weStopped && this.o.fenced()) throw new VmInvalidStateError(vmId, 'unquiesce', 'fenced', 'a live lease with the server (the agent fenced this host)');
    const pauseMs = this.o.clock.now() - q.pausedAt;
    await this.endQuiesce(e, 'unquiesce');
    return { pauseMs };
  }

  /** Chunk digests of the VM's data disk (guest-visible bytes; exact while quiesced). */
  async diskDigest(vmId: string, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<DiskDigest> {
    const rec = this.requireVm(vmId, 'diskDigest');
    if (!rec) return this.o.otherVms!.digest(vmId, chunkBytes);
    return this.digester(rec.dataDisk, 'qcow2', chunkBytes);
  }

  // --- supervision ---

  private newEntry(vmId: string, spec: ReplicationSpec, facts: ReplFacts): Entry {
    const e: Entry = { vmId, spec, facts, written: '', wake: new Wakeup(), abort: new AbortController(), loop: Promise.resolve(), ends: new Map(), readies: new Map(), quiesce: null, lagHistory: [] };
    this.entries.set(vmId, e);
    return e;
  }

  private launch(e: Entry): void {
    e.loop = this.run(e);
  }

  private async run(e: Entry): Promise<void> {
    const { clock, log } = this.o;
    while (!e.abort.signal.aborted) {
      try {
        await this.lock.run(e.vmId, () => this.pass(e));
      } catch (err) {
        log.warn({ vmId: e.vmId, err: errText(err) }, 'replication pass failed');
      }
      if (e.abort.signal.aborted) break;
      await pause(clock, nextLookMs(e.spec, e.facts, clock.now(), this.tickMs), e.abort.signal, e.wake);
    }
  }

  /** One supervision pass: observe, step, apply. Runs under the VM's lock. */
  private async pass(e: Entry): Promise<void> {
    if (e.abort.signal.aborted) return;
    const { action } = await this.refresh(e);
    if (action.kind === 'start') await this.newGeneration(e, action.reason);
    else if (action.kind === 'round') await this.startRound(e);
  }

  /** Observes and steps the facts (no action taken); returns the observation and the action step asked for. */
  private async refresh(e: Entry): Promise<{ obs: ReplObservation; action: ReplAction }> {
    const obs = await this.observe(e);
    const before = statusOf(e.vmId, e.spec, e.facts, obs.now).state;
    const { facts, action } = step(e.spec, e.facts, obs, this.backoff);
    this.setFacts(e, facts);
    e.lagHistory = recordLagSample(e.lagHistory, { t: obs.now, generation: facts.generation, copied: facts.offset, pending: lagBytesOf(e.spec, facts) });
    const after = statusOf(e.vmId, e.spec, facts, obs.now);
    if (after.state !== before) this.logState(e, before, after);
    // Events of jobs other than the current one are of no more use.
    for (const m of [e.ends, e.readies]) for (const k of [...m.keys()]) if (k !== facts.jobId) m.delete(k);
    return { obs, action };
  }

  private async observe(e: Entry): Promise<ReplObservation> {
    const { driver, clock } = this.o;
    const now = clock.now();
    let pid: number | null = null;
    try {
      const st = await driver.status(e.vmId);
      pid = LIVE_STATES.has(st.state) ? st.pid : null;
    } catch (err) {
      if (!isHypervisorError(err, 'VM_NOT_FOUND')) throw err;
    }
    const f = e.facts;
    const jobId = f.jobId;
    let job = null;
    let dirtyBytes: number | null = null;
    if (pid !== null && pid === f.pid) {
      if (jobId) job = (await driver.queryBlockJobs(e.vmId)).find((j) => j.jobId === jobId) ?? null;
      if (e.spec.mode === 'periodic' && f.phase === 'running' && f.readyAt !== null) {
        const name = jobNames(f.generation).bitmap;
        dirtyBytes = (await driver.queryDirtyBitmaps(e.vmId, DATA_DISK_ID)).find((b) => b.name === name)?.count ?? null;
      } else if (e.spec.mode !== 'periodic' && job) {
        // The mirror's own dirty tracking: what it has not copied yet, seen at once.
        const anon = (await driver.queryDirtyBitmaps(e.vmId, DATA_DISK_ID, { includeAnonymous: true })).filter((b) => b.name === '');
        dirtyBytes = anon.reduce((m, b) => Math.max(m, b.count), 0);
      }
    }
    // Read after the queries: QEMU sends a job's end event before a reply that no longer lists it.
    return { now, pid, job, ended: jobId ? (e.ends.get(jobId) ?? null) : null, readyEventAt: jobId ? (e.readies.get(jobId) ?? null) : null, dirtyBytes };
  }

  /** Ends the current generation (cancelling its job) and starts the next one's full copy. */
  private async newGeneration(e: Entry, reason: string): Promise<void> {
    const { driver, clock, log } = this.o;
    const st = await driver.status(e.vmId).catch(() => null);
    // A migrated-away source (postmigrate) is never copied from: its guest runs elsewhere,
    // maybe on the very target this would overwrite.
    if (!st || st.pid === null || !LIVE_STATES.has(st.state) || st.state === 'postmigrate') {
      // Nothing to copy from: wait for a process (the loop starts the copy when one runs).
      this.setFacts(e, { ...e.facts, phase: 'idle', alive: false, jobId: null, roundStartedAt: null, retryAt: null });
      return;
    }
    const unreachable = this.o.unreachable ?? (driver.simulated ? async () => null : (t: ReplicationSpec['target']) => tcpUnreachable(t));
    const why = await unreachable(e.spec.target);
    if (why !== null) {
      // Not even a TCP connect: do not let QEMU try (see reachable.ts); retry after the backoff.
      // The process is recorded so a restarted primary does not restart this every tick.
      const t = e.spec.target;
      this.setFacts(e, recordFailure({ ...e.facts, pid: st.pid }, `Failed to connect to ${t.host}:${t.port}: ${why} (${reason})`, clock.now(), this.backoff));
      log.warn({ vmId: e.vmId, target: `${t.host}:${t.port}`, why, retryAt: e.facts.retryAt }, 'replication: target unreachable');
      return;
    }
    await this.teardown(e, true);
    const f = beginGeneration(e.facts, st.pid, clock.now());
    const names = jobNames(f.generation);
    this.setFacts(e, f);
    for (const id of [names.mirror, names.full]) {
      e.ends.delete(id);
      e.readies.delete(id);
    }
    const { spec } = e;
    const speed = spec.speedBytesPerSec || undefined;
    try {
      const job =
        spec.mode === 'periodic'
          ? await driver.backup(e.vmId, { jobId: names.full, device: DATA_DISK_ID, target: spec.target, targetNode: names.targetNode, sync: 'full', bitmap: names.bitmap, speed })
          : await driver.mirror(e.vmId, {
              jobId: names.mirror,
              device: DATA_DISK_ID,
              target: spec.target,
              sync: 'full',
              copyMode: spec.mode === 'sync' ? 'write-blocking' : 'background',
              speed,
            });
      this.setFacts(e, jobStarted(e.facts, job));
      log.info({ vmId: e.vmId, generation: f.generation, jobId: job.jobId, mode: spec.mode, reason }, 'replication: full copy started');
    } catch (err) {
      // Nothing was made (a refused mirror or backup leaves no node, job or bitmap): the
      // generation number counts copies that started, so this attempt gives it back.
      this.setFacts(e, recordFailure({ ...e.facts, generation: f.generation - 1 }, `cannot start the copy: ${errText(err)}`, clock.now(), this.backoff));
      log.warn({ vmId: e.vmId, generation: f.generation, err: errText(err), retryAt: e.facts.retryAt }, 'replication: job did not start');
    }
  }

  /** Starts one incremental round of a periodic replication. */
  private async startRound(e: Entry): Promise<void> {
    const { driver, clock, log } = this.o;
    const names = jobNames(e.facts.generation);
    const jobId = names.round(e.facts.roundSeq + 1);
    e.ends.delete(jobId);
    const at = clock.now();
    try {
      await driver.backup(e.vmId, {
        jobId,
        device: DATA_DISK_ID,
        target: e.spec.target,
        targetNode: names.targetNode,
        sync: 'incremental',
        bitmap: names.bitmap,
        speed: e.spec.speedBytesPerSec || undefined,
      });
      this.setFacts(e, roundStarted(e.facts, jobId, at));
    } catch (err) {
      this.setFacts(e, recordFailure(e.facts, `cannot start round ${e.facts.roundSeq + 1}: ${errText(err)}`, clock.now(), this.backoff));
      log.warn({ vmId: e.vmId, err: errText(err) }, 'replication: round did not start');
    }
  }

  /**
   * Removes what this VM's replications left in its process: every `repl-*` job is cancelled
   * (forced when `abandon`: the target gets a new full copy anyway; otherwise a ready mirror
   * completes so that the target keeps a consistent copy), every replication bitmap and the
   * current generation's backup target node go. Errors are logged, not thrown.
   */
  private async teardown(e: Entry, abandon: boolean): Promise<void> {
    const { driver, log } = this.o;
    const vmId = e.vmId;
    const st = await driver.status(vmId).catch(() => null);
    if (!st || st.pid === null || !LIVE_STATES.has(st.state)) return;
    const warn = (what: string) => (err: unknown) => log.warn({ vmId, err: errText(err) }, `replication clean-up: ${what} failed`);
    const jobs = await driver.queryBlockJobs(vmId).catch(() => []);
    for (const j of jobs) {
      if (!j.jobId.startsWith('repl-g')) continue;
      await driver.cancelBlockJob(vmId, j.jobId, { force: abandon, timeoutMs: 15_000 }).catch(async (err: unknown) => {
        warn(`cancelling ${j.jobId}`)(err);
        if (!abandon) await driver.cancelBlockJob(vmId, j.jobId, { force: true, timeoutMs: 15_000 }).catch(warn(`force-cancelling ${j.jobId}`));
      });
    }
    const bitmaps = await driver.queryDirtyBitmaps(vmId, DATA_DISK_ID).catch(() => []);
    for (const b of bitmaps) if (isReplicationBitmap(b.name)) await driver.removeDirtyBitmap(vmId, DATA_DISK_ID, b.name).catch(warn(`removing bitmap ${b.name}`));
    if (e.facts.generation > 0) await driver.removeNbdTarget(vmId, jobNames(e.facts.generation).targetNode).catch(warn('removing the backup target node'));
  }

  // --- quiesce ---

  /** Records an open quiesce and arms its automatic resume on the clock. */
  private armResume(e: Entry, q: QuiesceRecord): void {
    const timer = new AbortController();
    const open = { ...q, timer };
    e.quiesce = open;
    void pause(this.o.clock, q.resumeAt - this.o.clock.now(), timer.signal).then(async (end) => {
      if (end !== 'elapsed' || e.quiesce !== open) return;
      this.o.log.warn({ vmId: e.vmId, pauseMs: this.o.clock.now() - q.pausedAt }, 'quiesce not ended in time: the agent resumes the guest');
      await this.endQuiesce(e, 'maxPauseMs elapsed');
    });
  }

  /** Ends the open quiesce: resumes the guest if the agent paused it and the host is not fenced. */
  private async endQuiesce(e: Entry, why: string): Promise<void> {
    const q = e.quiesce;
    if (!q) return;
    e.quiesce = null;
    q.timer.abort();
    if (this.entries.get(e.vmId) === e) this.persist(e);
    if (!q.weStopped) return;
    if (this.o.fenced()) {
      this.o.log.warn({ vmId: e.vmId, why }, 'quiesce ended while fenced: the guest stays paused');
      return;
    }
    try {
      await this.o.driver.cont(e.vmId);
      this.o.log.info({ vmId: e.vmId, why, pauseMs: this.o.clock.now() - q.pausedAt }, 'quiesce ended: guest resumed');
    } catch (err) {
      this.o.log.warn({ vmId: e.vmId, why, err: errText(err) }, 'quiesce ended: resuming the guest failed');
    }
  }

  /**
   * Waits (paused guest) until the target holds every write, at most until `deadline`.
   * Mirror: the job is ready with nothing left to copy. Periodic: a job in flight ends, then
   * one more round runs and succeeds.
   */
  private async catchUp(e: Entry, deadline: number): Promise<boolean> {
    const { clock } = this.o;
    const wait = async () => {
      if (clock.now() >= deadline) return false;
      await clock.sleep(Math.min(this.pollMs, Math.max(1, deadline - clock.now())));
      return true;
    };
    if (e.spec.mode !== 'periodic') {
      for (;;) {
        const { obs } = await this.refresh(e);
        if (e.facts.phase !== 'running') return false;
        if (e.facts.readyAt !== null && obs.job?.ready && obs.job.offset >= obs.job.len && (obs.dirtyBytes ?? 0) === 0) return true;
        if (!(await wait())) return false;
      }
    }
    const settle = async () => {
      for (;;) {
        await this.refresh(e);
        if (e.facts.phase !== 'running') return false;
        if (e.facts.jobId === null) return true;
        if (!(await wait())) return false;
      }
    };
    if (!(await settle()) || e.facts.readyAt === null) return false;
    const before = e.facts.rounds;
    await this.startRound(e);
    return (await settle()) && e.facts.rounds > before;
  }

  // --- helpers ---

  private onEvent(ev: VmEvent): void {
    const e = this.entries.get(ev.vmId);
    if (!e) return;
    const jobId = typeof ev.data.device === 'string' ? ev.data.device : null;
    if (jobId && jobId.startsWith('repl-g')) {
      if (ev.type === 'BLOCK_JOB_COMPLETED' || ev.type === 'BLOCK_JOB_CANCELLED') {
        e.ends.set(jobId, { atMs: ev.atMs, error: typeof ev.data.error === 'string' ? ev.data.error : null, offset: Number(ev.data.offset ?? 0), len: Number(ev.data.len ?? 0) });
      } else if (ev.type === 'BLOCK_JOB_READY') e.readies.set(jobId, ev.atMs);
      else if (ev.type === 'BLOCK_JOB_ERROR') this.o.log.warn({ vmId: ev.vmId, jobId, operation: ev.data.operation }, 'replication job I/O error');
    }
    e.wake.poke();
  }

  private setFacts(e: Entry, facts: ReplFacts): void {
    e.facts = facts;
    this.persist(e);
  }

  /** Writes the record when what it holds changed (progress counters and lastCaughtUpAt excepted: they change every pass). */
  private persist(e: Entry): void {
    if (this.entries.get(e.vmId) !== e) return;
    const q = e.quiesce ? { pausedAt: e.quiesce.pausedAt, resumeAt: e.quiesce.resumeAt, weStopped: e.quiesce.weStopped } : null;
    const key = JSON.stringify({ spec: e.spec, facts: { ...e.facts, offset: 0, len: 0, dirtyBytes: 0, lastCaughtUpAt: 0, alive: false }, q });
    if (key === e.written) return;
    e.written = key;
    this.store.put({ vmId: e.vmId, spec: e.spec, facts: e.facts, quiesce: q });
  }

  private logState(e: Entry, before: string, after: ReplicationStatus): void {
    const fields = { vmId: e.vmId, from: before, to: after.state, generation: after.generation, jobId: after.jobId, error: after.error, retryAt: after.retryAt, initialCopyBytesPerSec: after.initialCopyBytesPerSec };
    if (after.state === 'error') this.o.log.warn(fields, 'replication state changed');
    else this.o.log.info(fields, 'replication state changed');
  }

  /** The replication of `vmId` (NOT_FOUND when none; VM_NOT_FOUND for an unknown VM). */
  private need(vmId: string): Entry {
    const e = this.entries.get(vmId);
    if (e) return e;
    this.requireVm(vmId, 'replication');
    throw new ReplicationNotFoundError(vmId);
  }

  /** NOT_FOUND when the replication was removed while a call waited for the VM's lock. */
  private stillThere(e: Entry): void {
    if (this.entries.get(e.vmId) !== e) throw new ReplicationNotFoundError(e.vmId);
  }

  /** The agent's record of the VM, null for one of {@link ReplicationManagerOptions.otherVms} (VM_NOT_FOUND for neither). */
  private requireVm(vmId: string, op: string) {
    const rec = this.o.records.get(vmId);
    if (rec) return rec;
    if (this.o.otherVms?.has(vmId)) return null;
    throw new VmNotFoundError(vmId, op);
  }
}

/** Parses a body with a schema, reporting every invalid field with its path. */
function parseBody<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, body: unknown, what: string, vmId: string): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  throw new ReplicationRequestInvalidError(what, r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })), vmId);
}

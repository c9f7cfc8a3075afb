/**
 * Live migration of a primary into a `migrate` shadow, the primary side (POST
 * /v1/vms/:id/migrate, src/api/shadow-protocol.ts). The shadow QEMU was started `-S -incoming
 * defer` on the NBD export of its target, which the primary's replication mirror writes: only
 * the RAM and device state travel in the stream.
 *
 *   capabilities events + pause-before-switchover → `migrate` → status `pre-switchover` (the
 *   source's vCPUs are stopped: STOP) → replication hand-over (a ready mirror cancelled: the
 *   target holds every write) → `migrate-continue` → `completed` (the source is `postmigrate`).
 *
 * The shadow side runs the guest when the stream completed (shadows/incoming.ts). Downtime on
 * this side is the source's STOP event → its MIGRATION completed event (QEMU timestamps;
 * query-migrate right after completion can read 0). A migration that fails, times out, or whose
 * hand-over did not catch up is cancelled: the source runs on (QEMU resumes it) and its
 * replication is released (a new full copy).
 */
import type { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import { UmbraError } from '../../core/errors.js';
import { migrateContinueSchema, migrateRequestSchema, type MigrateRequest, type MigrateResult } from '../../api/shadow-protocol.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import { VmInvalidStateError } from '../../hypervisor/errors.js';
import type { VmEvent } from '../../hypervisor/types.js';
import { readJson, type AgentRoutes } from '../api.js';
import { HttpError } from '../http-errors.js';
import { errText, type AgentLogger } from '../log.js';
import { pause, Wakeup } from '../timing.js';
import { ReplicationRequestInvalidError } from './errors.js';

/** What a migration needs from the replication supervisor (ReplicationManager). */
export interface ReplicationHandOver {
  has(vmId: string): boolean;
  handOver(vmId: string, deadline: number): Promise<{ caughtUp: boolean; ms: number }>;
  forget(vmId: string, why: string): Promise<void>;
  release(vmId: string): Promise<void>;
}

/** Options of {@link LiveMigrator}. */
export interface LiveMigratorOptions {
  driver: HypervisorDriver;
  clock: Clock;
  log: AgentLogger;
  replication: ReplicationHandOver;
  /** True while the agent's lease is lost: no migration starts then. */
  fenced: () => boolean;
  /** query-migrate polling period besides the MIGRATION events, ms (default 100). */
  pollMs?: number;
}

/** What the event listener saw of one migration. */
interface Seen {
  /** The last MIGRATION event's status. */
  status: string | null;
  /** The last STOP event's time (the switchover pause). */
  stoppedAt: number | null;
  completedAt: number | null;
  /** Events seen so far. */
  events: number;
}

/** How long a migration held at switchover waits for its caller's word, ms. */
const DEFAULT_HOLD_MS = 5000;

/** Migration statuses after which nothing more happens. */
const FINAL = ['completed', 'failed', 'cancelled'] as const;

/** A migration of this VM is already running on this agent. */
export class MigrationInProgressError extends UmbraError {
  constructor(vmId: string) {
    super('CONFLICT', `a live migration of VM ${vmId} is already running`, { vmId, op: 'migrate' });
    this.name = 'MigrationInProgressError';
  }
}

/**
 * Downtime on the source: STOP → completed event when both were seen, else the hypervisor's
 * own figure; null when neither is known. Pure.
 */
export function sourceDowntimeMs(stoppedAt: number | null, completedAt: number | null, reported: number | undefined): number | null {
  if (stoppedAt !== null && completedAt !== null && completedAt >= stoppedAt) return Math.round((completedAt - stoppedAt) * 10) / 10;
  return reported !== undefined && reported > 0 ? reported : null;
}

/** Runs live migrations out of this host (one at a time per VM). See the module comment. */
export class LiveMigrator {
  private readonly running = new Set<string>();
  /** Migrations held at switchover (holdAtSwitchover): how to go on, and their end. */
  private readonly holds = new Map<string, { decide: (d: 'continue' | 'abort') => void; end: Promise<MigrateResult> }>();
  /** Who waits for a migration to reach its hold. */
  private readonly holdWaiters = new Map<string, (r: MigrateResult) => void>();

  constructor(private readonly o: LiveMigratorOptions) {}

  /**
   * Goes on with a migration held at switchover (or cancels it: `abort`, the source runs on);
   * resolves with its end. `CONFLICT` when none is held for the VM.
   */
  async continueHeld(vmId: string, abort: boolean): Promise<MigrateResult> {
    const h = this.holds.get(vmId);
    if (!h) throw new VmInvalidStateError(vmId, 'migrate/continue', 'no migration held at switchover', 'a migration started with holdAtSwitchover, at its switchover');
    this.holds.delete(vmId);
    h.decide(abort ? 'abort' : 'continue');
    return h.end;
  }

  /** Migrates `vmId` to `req.uri`; see the module comment. Precondition failures throw; a failed migration answers ok false. */
  async migrate(vmId: string, req: MigrateRequest): Promise<MigrateResult> {
    const { driver, replication } = this.o;
    if (this.running.has(vmId)) throw new MigrationInProgressError(vmId);
    if (this.o.fenced()) throw new VmInvalidStateError(vmId, 'migrate', 'fenced', 'a live lease with the server (the agent fenced this host)');
    const st = await driver.status(vmId);
    if (st.state !== 'running') throw new VmInvalidStateError(vmId, 'migrate', st.state, 'a running VM');
    const handOver = req.replicationJob ?? replication.has(vmId);
    if (handOver && !replication.has(vmId)) throw new VmInvalidStateError(vmId, 'migrate', 'without a replication', 'a replication to hand over at switchover (or replicationJob: false)');
    this.running.add(vmId);
    const end = this.run(vmId, req, handOver).finally(() => {
      this.running.delete(vmId);
      this.holds.delete(vmId);
      this.holdWaiters.delete(vmId);
    });
    if (!req.holdAtSwitchover) return end;
    // Whichever comes first: the hold at switchover, or the end (a migration that failed before it).
    const held = new Promise<MigrateResult>((resolve) => this.holdWaiters.set(vmId, resolve));
    return Promise.race([held, end]);
  }

  /** At switchover with holdAtSwitchover: answers the caller, waits for its word (or the hold's time limit). */
  private async hold(vmId: string, req: MigrateRequest, atSwitchover: MigrateResult, end: Promise<MigrateResult>): Promise<'continue' | 'abort' | 'timeout'> {
    const word = new Wakeup();
    let decision: 'continue' | 'abort' | null = null;
    this.holds.set(vmId, {
      decide: (d) => {
        decision = d;
        word.poke();
      },
      end,
    });
    this.holdWaiters.get(vmId)?.(atSwitchover);
    this.holdWaiters.delete(vmId);
    // Woken by the word; a pause that elapses first is the hold's time limit.
    if (decision === null) await pause(this.o.clock, req.holdTimeoutMs ?? DEFAULT_HOLD_MS, undefined, word);
    this.holds.delete(vmId);
    return decision ?? 'timeout';
  }

  private run(vmId: string, req: MigrateRequest, handOver: boolean): Promise<MigrateResult> {
    // The end is known to the hold (continueHeld answers with it) before it is reached.
    let endResolve!: (r: MigrateResult) => void;
    const end = new Promise<MigrateResult>((r) => (endResolve = r));
    void this.runSteps(vmId, req, handOver, end).then(endResolve, (e: unknown) => endResolve({ vmId, ok: false, status: 'failed', totalMs: 0, downtimeMs: null, stoppedAt: null, handOver: null, error: errText(e) }));
    return end;
  }

  private async runSteps(vmId: string, req: MigrateRequest, handOver: boolean, finished: Promise<MigrateResult>): Promise<MigrateResult> {
    const { driver, clock, log, replication } = this.o;
    const t0 = clock.now();
    const deadline = t0 + req.timeoutMs;
    const seen: Seen = { status: null, stoppedAt: null, completedAt: null, events: 0 };
    const wake = new Wakeup();
    const off = driver.subscribe(
      (ev: VmEvent) => {
        seen.events++;
        if (ev.type === 'STOP') seen.stoppedAt = ev.atMs;
        else if (ev.type === 'MIGRATION' && typeof ev.data.status === 'string') {
          seen.status = ev.data.status;
          if (ev.data.status === 'completed') seen.completedAt = ev.atMs;
        }
        wake.poke();
      },
      { vmId, types: ['STOP', 'MIGRATION'] },
    );
    let hand: MigrateResult['handOver'] = null;
    let handedOver = false;
    const result = (ok: boolean, status: string, error: string | null, downtimeMs: number | null = null): MigrateResult => ({
      vmId,
      ok,
      status,
      totalMs: clock.now() - t0,
      downtimeMs,
      stoppedAt: seen.stoppedAt,
      handOver: hand,
      error,
    });
    /** The migration completed: the replication is dropped (the source never runs again). */
    const completed = async (reported: number | undefined): Promise<MigrateResult> => {
      if (handedOver) await replication.forget(vmId, 'live migration completed');
      const downtimeMs = sourceDowntimeMs(seen.stoppedAt, seen.completedAt, reported);
      const r = result(true, 'completed', null, downtimeMs);
      log.info({ vmId, uri: req.uri, totalMs: r.totalMs, downtimeMs, handOverMs: hand?.ms ?? null }, 'live migration completed: the source is postmigrate');
      return r;
    };
    /**
     * Cancels the migration (the source runs on) and gives the replication back, unless it
     * completed meanwhile: then the guest runs on the other side and the replication must never
     * copy again (its target is the destination's disk).
     */
    const abandon = async (status: string, error: string): Promise<MigrateResult> => {
      await driver.migrateCancel(vmId).catch((e: unknown) => log.warn({ vmId, err: errText(e) }, 'migration: cancelling failed'));
      const end = await this.waitFor(vmId, seen, wake, FINAL, clock.now() + 10_000).catch(() => null);
      if (end?.status === 'completed') return completed(end.downtimeMs);
      if (handedOver) await replication.release(vmId);
      log.warn({ vmId, uri: req.uri, status, err: error }, 'live migration abandoned');
      return result(false, status, error);
    };
    try {
      await driver.setMigrationCapabilities(vmId, { events: true, 'pause-before-switchover': true });
      await driver.migrate(vmId, req.uri);
      log.info({ vmId, uri: req.uri, handOver }, 'live migration started');
      const at = await this.waitFor(vmId, seen, wake, ['pre-switchover', ...FINAL], deadline);
      if (at === null) return await abandon('timeout', `not at switchover within ${req.timeoutMs} ms`);
      if (at.status !== 'pre-switchover') return await abandon(at.status, at.error ?? `the migration ended ${at.status} before switchover`);
      if (handOver) {
        handedOver = true;
        hand = await replication.handOver(vmId, deadline);
        if (!hand.caughtUp) return await abandon('cancelled', 'the replication target did not hold every write at switchover: migration cancelled');
      }
      if (req.holdAtSwitchover) {
        const d = await this.hold(vmId, req, result(true, 'pre-switchover', null), finished);
        if (d === 'abort') return await abandon('cancelled', 'cancelled at switchover by the caller');
        if (d === 'timeout') return await abandon('cancelled', `not continued within ${req.holdTimeoutMs ?? DEFAULT_HOLD_MS} ms of the switchover hold`);
      }
      await driver.migrateContinue(vmId);
      const end = await this.waitFor(vmId, seen, wake, FINAL, deadline);
      if (end === null) return await abandon('timeout', `not completed within ${req.timeoutMs} ms`);
      if (end.status !== 'completed') {
        if (handedOver) await replication.release(vmId);
        log.warn({ vmId, status: end.status, err: end.error }, 'live migration failed after switchover');
        return result(false, end.status, end.error ?? `the migration ended ${end.status}`);
      }
      return await completed(end.downtimeMs);
    } catch (e) {
      return abandon('failed', errText(e));
    } finally {
      off();
    }
  }

  /**
   * Waits until the migration reaches one of `want` (from events, or query-migrate every
   * `pollMs`); null at `deadline`. Returns the status with query-migrate's error and downtime.
   */
  private async waitFor(vmId: string, seen: Seen, wake: Wakeup, want: readonly string[], deadline: number): Promise<{ status: string; error?: string; downtimeMs?: number } | null> {
    const { driver, clock } = this.o;
    for (;;) {
      const n = seen.events;
      const q = await driver.queryMigration(vmId);
      const status = want.includes(q.status) ? q.status : seen.status !== null && want.includes(seen.status) ? seen.status : null;
      if (status !== null) return { status, error: q.error, downtimeMs: q.downtimeMs };
      const left = deadline - clock.now();
      if (left <= 0) return null;
      // An event during the query: look again at once (at switchover every ms is downtime).
      if (seen.events === n) await pause(clock, Math.min(this.o.pollMs ?? 100, left), undefined, wake);
    }
  }
}

/** The body as a MigrateRequest (defaults filled); every invalid field listed. */
export function parseMigrateRequest(body: unknown, vmId: string): MigrateRequest {
  return parseRequest(migrateRequestSchema, body, 'migrate request', vmId);
}

/** `body` (absent: `{}`) through `schema`; a {@link ReplicationRequestInvalidError} listing every invalid field. */
function parseRequest<T extends z.ZodTypeAny>(schema: T, body: unknown, what: string, vmId: string): z.output<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  throw new ReplicationRequestInvalidError(what, r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })), vmId);
}

const MIGRATE = /^\/v1\/vms\/([a-z0-9][a-z0-9-]{0,62})\/migrate(\/continue)?$/;

/** `POST /v1/vms/:id/migrate` and `/migrate/continue` over a {@link LiveMigrator}. */
export function migrationRoutes(m: LiveMigrator): AgentRoutes {
  return async (method, path, req) => {
    const match = MIGRATE.exec(path);
    if (!match) return null;
    if (method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'POST');
    const id = match[1];
    if (match[2]) {
      const body = parseRequest(migrateContinueSchema, await readJson(req), 'migrate continue request', id);
      return { status: 200, body: await m.continueHeld(id, body.abort) };
    }
    return { status: 200, body: await m.migrate(id, parseMigrateRequest(await readJson(req), id)) };
  };
}

/**
 * The {@link Store} on SQLite (better-sqlite3): one file (or `:memory:`), WAL journal, foreign
 * keys on, forward-only migrations at open. better-sqlite3 is synchronous, which is what a
 * transaction of synchronous {@link StoreTx} calls needs; the async {@link Store} surface is a
 * thin wrapper. One process owns a file: the server; readers in other processes are safe (WAL).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { UsageSample } from '../../api/protocol.js';
import type { SeriesForecast } from '../../forecast/types.js';
import { ConflictError, NotFoundError, StoreFailedError } from '../errors.js';
import { deepFreeze } from '../freeze.js';
import {
  DEFAULT_RETENTION,
  type AlertRow,
  type FailoverRow,
  type ShadowRow,
  type AgentRegistrationData,
  type AgentRow,
  type BucketedSeries,
  type EventQuery,
  type EventRow,
  type ForecastRow,
  type MaintenanceReport,
  type ObservedVm,
  type RetentionPolicy,
  type SampleQuery,
  type SampleStats,
  type SeriesInfo,
  type Store,
  type StoreReader,
  type StoreTx,
  type StoredSample,
  type VmRow,
  type VmSpec,
  type VmStatus,
} from '../store.js';
import { migrate } from './migrations.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file (its folder is created), or `:memory:`. */
  path: string;
  /**
   * `normal` (default): with WAL, a commit survives a crash of the process but the last
   * commits may be lost on power loss; `full`: fsync at every commit.
   */
  synchronous?: 'normal' | 'full';
  /** Epoch ms recorded with applied migrations (default: the system time). */
  now?: number;
}

const DEFAULT_SAMPLE_LIMIT = 100_000;
const DEFAULT_EVENT_LIMIT = 1000;

/** Opens (creating and migrating when needed) a SQLite store. */
export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  const memory = opts.path === ':memory:';
  let db: Database.Database;
  try {
    if (!memory) mkdirSync(dirname(opts.path), { recursive: true });
    db = new Database(opts.path);
  } catch (e) {
    throw new StoreFailedError(`cannot open the store: ${(e as Error).message}`, { file: opts.path }, { cause: e });
  }
  try {
    // WAL lets readers (e.g. a backup or `sqlite3` by hand) run beside the server's writes.
    if (!memory) db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // Only the migration log's timestamp; the server passes `now` from its Clock.
    migrate(db, opts.now ?? Date.now(), undefined, opts.path);
  } catch (e) {
    db.close();
    if (e instanceof StoreFailedError) throw e;
    throw new StoreFailedError(`cannot open the store: ${(e as Error).message}`, { file: opts.path }, { cause: e });
  }
  return new SqliteStore(db, opts.path);
}

/** See the module comment. Construct with {@link openSqliteStore}. */
export class SqliteStore implements Store {
  private readonly tx: SqliteTx;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    /** The database file (or `:memory:`). */
    readonly path: string,
  ) {
    this.tx = new SqliteTx(db);
  }

  /** The SQLite journal mode in force (`wal` for a file, `memory` in memory). */
  journalMode(): string {
    return String(this.db.pragma('journal_mode', { simple: true }));
  }

  transaction<T>(fn: (tx: StoreTx) => T): Promise<T> {
    return this.run(fn, false);
  }

  read<T>(fn: (r: StoreReader) => T): Promise<T> {
    return this.run(fn, true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private async run<T>(fn: (tx: StoreTx) => T, readOnly: boolean): Promise<T> {
    if (this.closed) throw new StoreFailedError('the store is closed', { file: this.path });
    const body = () => {
      this.tx.begin(readOnly);
      try {
        const out = fn(this.tx);
        if (out && typeof (out as { then?: unknown }).then === 'function') {
          // Awaiting inside would let other work interleave with an open transaction.
          throw new TypeError('a store transaction function must be synchronous (it returned a promise)');
        }
        return out;
      } finally {
        this.tx.end();
      }
    };
    // IMMEDIATE takes the write lock at BEGIN, so a writer never fails to upgrade a read lock.
    return readOnly ? this.db.transaction(body).deferred() : this.db.transaction(body).immediate();
  }
}

// --- row shapes as SQLite returns them ------------------------------------------------------

interface AgentDbRow {
  name: string;
  api_url: string;
  address: string;
  labels: string;
  cores: number;
  memory_mib: number;
  registered_at: number;
  last_seen_at: number;
  lease_expires_at: number;
  observed: string;
}

interface VmDbRow {
  id: string;
  role: 'primary' | 'shadow';
  spec: string;
  generation: number;
  created_at: number;
  status: string;
}

function agentFromRow(r: AgentDbRow): AgentRow {
  return deepFreeze({
    name: r.name,
    apiUrl: r.api_url,
    address: r.address,
    labels: JSON.parse(r.labels) as Record<string, string>,
    capacity: { cores: r.cores, memoryMiB: r.memory_mib },
    registeredAt: r.registered_at,
    lastSeenAt: r.last_seen_at,
    leaseExpiresAt: r.lease_expires_at,
    observed: JSON.parse(r.observed) as ObservedVm[],
  });
}

function vmFromRow(r: VmDbRow): VmRow {
  return deepFreeze({
    id: r.id,
    role: r.role,
    spec: JSON.parse(r.spec) as VmSpec,
    generation: r.generation,
    createdAt: r.created_at,
    status: JSON.parse(r.status) as VmStatus,
  });
}

/** Plain copies of the fields we store (drops anything extra a caller's object carries). */
function observedCopy(v: ObservedVm): ObservedVm {
  return { id: v.id, state: v.state, pid: v.pid, endpoint: v.endpoint ?? null, lastError: v.lastError ?? null };
}

/** `next` with endpoints carried over from `prev` for the same VM and pid when `next` has none. */
function mergeObserved(prev: readonly ObservedVm[], next: readonly ObservedVm[]): ObservedVm[] {
  const before = new Map(prev.map((v) => [v.id, v]));
  return next.map((v) => {
    const out = observedCopy(v);
    const p = before.get(v.id);
    if (out.endpoint === null && p && p.pid === out.pid && p.endpoint) return { ...out, endpoint: p.endpoint };
    return out;
  });
}

function specCopy(s: VmSpec): VmSpec {
  return { vcpus: s.vcpus, memoryMiB: s.memoryMiB, host: s.host, labels: { ...s.labels }, ...(s.protect ? { protect: true } : {}), ...(s.instance ? { instance: s.instance } : {}) };
}

function statusCopy(s: VmStatus): VmStatus {
  return {
    state: s.state,
    host: s.host,
    pid: s.pid,
    endpoint: s.endpoint,
    observedAt: s.observedAt,
    lastError: s.lastError ? { ...s.lastError } : null,
  };
}

/**
 * The one transaction object: prepared statements, usable only between begin() and end() of
 * a transaction run by {@link SqliteStore}. A reference kept after the transaction throws.
 */
class SqliteTx implements StoreTx {
  private active = false;
  private readOnly = false;
  private readonly q;
  /** At most four shapes of the event query, prepared once each. */
  private readonly eventQueries = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      agent: p('SELECT * FROM agents WHERE name = ?'),
      agents: p('SELECT * FROM agents ORDER BY name'),
      upsertAgent: p(`INSERT INTO agents (name, api_url, address, labels, cores, memory_mib, registered_at, last_seen_at, lease_expires_at, observed)
        VALUES (@name, @api_url, @address, @labels, @cores, @memory_mib, @now, @now, @lease, @observed)
        ON CONFLICT (name) DO UPDATE SET api_url = excluded.api_url, address = excluded.address, labels = excluded.labels,
          cores = excluded.cores, memory_mib = excluded.memory_mib, last_seen_at = excluded.last_seen_at,
          lease_expires_at = excluded.lease_expires_at, observed = excluded.observed`),
      renew: p('UPDATE agents SET last_seen_at = ?, lease_expires_at = ?, observed = ? WHERE name = ?'),
      setObserved: p('UPDATE agents SET observed = ? WHERE name = ?'),
      vm: p('SELECT v.*, s.status FROM vms v JOIN vm_status s ON s.vm_id = v.id WHERE v.id = ?'),
      vms: p('SELECT v.*, s.status FROM vms v JOIN vm_status s ON s.vm_id = v.id ORDER BY v.id'),
      insertVm: p('INSERT INTO vms (id, role, spec, generation, created_at) VALUES (?, ?, ?, 1, ?)'),
      insertStatus: p('INSERT INTO vm_status (vm_id, status) VALUES (?, ?)'),
      updateSpec: p('UPDATE vms SET spec = ?, generation = generation + 1 WHERE id = ?'),
      updateStatus: p('UPDATE vm_status SET status = ? WHERE vm_id = ?'),
      deleteVm: p('DELETE FROM vms WHERE id = ?'),
      seriesId: p(`INSERT INTO series (vm_id, metric, unit) VALUES (?, ?, ?)
        ON CONFLICT (vm_id, metric) DO UPDATE SET unit = excluded.unit RETURNING id`),
      findSeries: p('SELECT id, unit FROM series WHERE vm_id = ? AND metric = ?'),
      insertSample: p('INSERT OR REPLACE INTO samples (series_id, t, value) VALUES (?, ?, ?)'),
      seriesOfVm: p('SELECT id, metric, unit FROM series WHERE vm_id = ? ORDER BY metric'),
      rawRange: p('SELECT t, value FROM samples WHERE series_id = ? AND t >= ? AND t <= ? ORDER BY t LIMIT ?'),
      downRange: p('SELECT t, value, count FROM samples_downsampled WHERE series_id = ? AND t >= ? AND t <= ? ORDER BY t LIMIT ?'),
      bucketed: p(`SELECT bt, SUM(v * n) / SUM(n) AS value FROM (
          SELECT CAST(t / @b AS INTEGER) * @b AS bt, value AS v, 1 AS n FROM samples WHERE series_id = @s AND t >= @from AND t <= @to
          UNION ALL
          SELECT CAST(t / @b AS INTEGER) * @b AS bt, value AS v, count AS n FROM samples_downsampled WHERE series_id = @s AND t >= @from AND t <= @to
        ) GROUP BY bt ORDER BY bt`).raw(true),
      seriesExtents: p(`SELECT s.id, s.vm_id, s.metric, s.unit,
          (SELECT MIN(t) FROM samples r WHERE r.series_id = s.id) AS rmin,
          (SELECT MAX(t) FROM samples r WHERE r.series_id = s.id) AS rmax,
          (SELECT MIN(t) FROM samples_downsampled d WHERE d.series_id = s.id) AS dmin,
          (SELECT MAX(t) FROM samples_downsampled d WHERE d.series_id = s.id) AS dmax
        FROM series s ORDER BY s.vm_id, s.metric`),
      countRaw: p('SELECT COUNT(*) AS n FROM samples').pluck(true),
      countDown: p('SELECT COUNT(*) AS n FROM samples_downsampled').pluck(true),
      countSeries: p('SELECT COUNT(*) AS n FROM series').pluck(true),
      allSeriesIds: p('SELECT id FROM series ORDER BY id').pluck(true),
      foldRaw: p(`INSERT INTO samples_downsampled (series_id, t, value, count)
          SELECT series_id, CAST(t / @b AS INTEGER) * @b AS bt, AVG(value), COUNT(*) FROM samples
          WHERE series_id = @s AND t < @cutoff GROUP BY bt
        ON CONFLICT (series_id, t) DO UPDATE SET
          value = (samples_downsampled.value * samples_downsampled.count + excluded.value * excluded.count) / (samples_downsampled.count + excluded.count),
          count = samples_downsampled.count + excluded.count`),
      deleteRaw: p('DELETE FROM samples WHERE series_id = ? AND t < ?'),
      expireDown: p('DELETE FROM samples_downsampled WHERE series_id = ? AND t < ?'),
      dropEmptySeries: p(`DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM samples WHERE series_id = series.id)
          AND NOT EXISTS (SELECT 1 FROM samples_downsampled WHERE series_id = series.id)`),
      putForecast: p(`INSERT INTO forecasts (vm_id, metric, computed_at, forecast) VALUES (?, ?, ?, ?)
        ON CONFLICT (vm_id, metric) DO UPDATE SET computed_at = excluded.computed_at, forecast = excluded.forecast`),
      forecasts: p('SELECT vm_id, metric, computed_at, forecast FROM forecasts WHERE vm_id = ? ORDER BY metric'),
      appendEvent: p('INSERT INTO events (t, kind, vm_id, data) VALUES (?, ?, ?, ?)'),
      shadow: p('SELECT doc FROM shadows WHERE id = ?').pluck(true),
      shadows: p('SELECT doc FROM shadows ORDER BY id').pluck(true),
      shadowsOfVm: p('SELECT doc FROM shadows WHERE vm_id = ? ORDER BY id').pluck(true),
      putShadow: p('INSERT INTO shadows (id, vm_id, doc) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET vm_id = excluded.vm_id, doc = excluded.doc'),
      deleteShadow: p('DELETE FROM shadows WHERE id = ?'),
      alert: p('SELECT doc FROM alerts WHERE key = ?').pluck(true),
      putAlert: p(`INSERT INTO alerts (key, state, vm_id, updated_at, ends_at, doc) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET state = excluded.state, vm_id = excluded.vm_id, updated_at = excluded.updated_at, ends_at = excluded.ends_at, doc = excluded.doc`),
      pruneAlerts: p("DELETE FROM alerts WHERE state = 'resolved' AND ends_at < ?"),
      failover: p('SELECT doc FROM failovers WHERE id = ?').pluck(true),
      putFailover: p(`INSERT INTO failovers (id, vm_id, state, started_at, doc) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET vm_id = excluded.vm_id, state = excluded.state, started_at = excluded.started_at, doc = excluded.doc`),
    };
  }

  /** Called by SqliteStore when a transaction starts. */
  begin(readOnly: boolean): void {
    this.active = true;
    this.readOnly = readOnly;
  }

  /** Called by SqliteStore when a transaction ends. */
  end(): void {
    this.active = false;
  }

  private reading(): void {
    if (!this.active) throw new TypeError('store transaction object used outside its transaction');
  }

  private writing(): void {
    this.reading();
    if (this.readOnly) throw new TypeError('write attempted in a read-only store view (use transaction())');
  }

  // --- agents

  getAgent(name: string): AgentRow | undefined {
    this.reading();
    const r = this.q.agent.get(name) as AgentDbRow | undefined;
    return r ? agentFromRow(r) : undefined;
  }

  listAgents(): readonly AgentRow[] {
    this.reading();
    return Object.freeze((this.q.agents.all() as AgentDbRow[]).map(agentFromRow));
  }

  putAgent(reg: AgentRegistrationData, lease: { now: number; leaseExpiresAt: number; observed: readonly ObservedVm[] }): AgentRow {
    this.writing();
    const prev = this.getAgent(reg.name);
    this.q.upsertAgent.run({
      name: reg.name,
      api_url: reg.apiUrl,
      address: reg.address,
      labels: JSON.stringify(reg.labels ?? {}),
      cores: reg.capacity.cores,
      memory_mib: reg.capacity.memoryMiB,
      now: lease.now,
      lease: lease.leaseExpiresAt,
      observed: JSON.stringify(mergeObserved(prev?.observed ?? [], lease.observed)),
    });
    return this.getAgent(reg.name)!;
  }

  renewLease(name: string, lease: { now: number; leaseExpiresAt: number; observed: readonly ObservedVm[] }): AgentRow {
    this.writing();
    const prev = this.getAgent(name);
    if (!prev) throw new NotFoundError('agent', name);
    this.q.renew.run(lease.now, lease.leaseExpiresAt, JSON.stringify(mergeObserved(prev.observed, lease.observed)), name);
    return this.getAgent(name)!;
  }

  observeVm(name: string, vm: ObservedVm): AgentRow {
    this.writing();
    const prev = this.getAgent(name);
    if (!prev) throw new NotFoundError('agent', name);
    const others = prev.observed.filter((v) => v.id !== vm.id);
    const merged = mergeObserved(prev.observed, [vm])[0];
    this.q.setObserved.run(JSON.stringify([...others, merged].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))), name);
    return this.getAgent(name)!;
  }

  // --- VMs

  getVm(id: string): VmRow | undefined {
    this.reading();
    const r = this.q.vm.get(id) as VmDbRow | undefined;
    return r ? vmFromRow(r) : undefined;
  }

  listVms(): readonly VmRow[] {
    this.reading();
    return Object.freeze((this.q.vms.all() as VmDbRow[]).map(vmFromRow));
  }

  createVm(vm: { id: string; role: 'primary' | 'shadow'; spec: VmSpec; createdAt: number; status: VmStatus }): VmRow {
    this.writing();
    if (this.getVm(vm.id)) throw new ConflictError(`VM ${vm.id} exists`, { vmId: vm.id });
    this.q.insertVm.run(vm.id, vm.role, JSON.stringify(specCopy(vm.spec)), vm.createdAt);
    this.q.insertStatus.run(vm.id, JSON.stringify(statusCopy(vm.status)));
    return this.getVm(vm.id)!;
  }

  updateVmSpec(id: string, spec: VmSpec): VmRow {
    this.writing();
    if (this.q.updateSpec.run(JSON.stringify(specCopy(spec)), id).changes === 0) throw new NotFoundError('vm', id, { vmId: id });
    return this.getVm(id)!;
  }

  setVmStatus(id: string, status: VmStatus): VmRow {
    this.writing();
    if (this.q.updateStatus.run(JSON.stringify(statusCopy(status)), id).changes === 0) throw new NotFoundError('vm', id, { vmId: id });
    return this.getVm(id)!;
  }

  deleteVm(id: string): boolean {
    this.writing();
    return this.q.deleteVm.run(id).changes > 0; // vm_status goes with it (ON DELETE CASCADE)
  }

  // --- samples

  insertSamples(samples: readonly UsageSample[]): number {
    this.writing();
    // One series upsert per distinct (vm, metric) of the batch; the last sample's unit wins.
    const units = new Map<string, { vmId: string; metric: string; unit: string }>();
    for (const s of samples) units.set(`${s.vmId}\u0000${s.metric}`, { vmId: s.vmId, metric: s.metric, unit: s.unit });
    const ids = new Map<string, number>();
    for (const [key, k] of units) ids.set(key, (this.q.seriesId.get(k.vmId, k.metric, k.unit) as { id: number }).id);
    let n = 0;
    for (const s of samples) {
      n += this.q.insertSample.run(ids.get(`${s.vmId}\u0000${s.metric}`)!, s.t, s.value).changes > 0 ? 1 : 0;
    }
    return n;
  }

  querySamples(q: SampleQuery): readonly StoredSample[] {
    this.reading();
    const limit = q.limit ?? DEFAULT_SAMPLE_LIMIT;
    const from = q.from ?? -Infinity;
    const to = q.to ?? Infinity;
    const series = (this.q.seriesOfVm.all(q.vmId) as { id: number; metric: string; unit: string }[]).filter((s) => q.metric === undefined || s.metric === q.metric);
    const out: StoredSample[] = [];
    for (const s of series) {
      for (const r of this.q.downRange.all(s.id, from, to, limit) as { t: number; value: number; count: number }[]) {
        out.push({ vmId: q.vmId, metric: s.metric, t: r.t, value: r.value, unit: s.unit, resolution: 'downsampled', count: r.count });
      }
      for (const r of this.q.rawRange.all(s.id, from, to, limit) as { t: number; value: number }[]) {
        out.push({ vmId: q.vmId, metric: s.metric, t: r.t, value: r.value, unit: s.unit, resolution: 'raw', count: 1 });
      }
    }
    out.sort((a, b) => a.t - b.t || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
    return deepFreeze(out.slice(0, limit));
  }

  readSeries(q: { vmId: string; metric: string; from: number; to: number; bucketSeconds: number }): BucketedSeries {
    this.reading();
    if (!(q.bucketSeconds > 0)) throw new RangeError(`bucketSeconds must be positive, got ${q.bucketSeconds}`);
    const s = this.q.findSeries.get(q.vmId, q.metric) as { id: number; unit: string } | undefined;
    if (!s) return Object.freeze({ unit: '', times: new Float64Array(0), values: new Float64Array(0) });
    const rows = this.q.bucketed.all({ b: q.bucketSeconds, s: s.id, from: q.from, to: q.to }) as [number, number][];
    const times = new Float64Array(rows.length);
    const values = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      times[i] = rows[i][0];
      values[i] = rows[i][1];
    }
    return Object.freeze({ unit: s.unit, times, values });
  }

  listSeries(): readonly SeriesInfo[] {
    this.reading();
    type Ext = { vm_id: string; metric: string; unit: string; rmin: number | null; rmax: number | null; dmin: number | null; dmax: number | null };
    const out: SeriesInfo[] = [];
    for (const r of this.q.seriesExtents.all() as Ext[]) {
      const lows = [r.rmin, r.dmin].filter((x): x is number => x !== null);
      const highs = [r.rmax, r.dmax].filter((x): x is number => x !== null);
      if (!lows.length) continue;
      out.push({ vmId: r.vm_id, metric: r.metric, unit: r.unit, first: Math.min(...lows), last: Math.max(...highs) });
    }
    return deepFreeze(out);
  }

  sampleStats(): SampleStats {
    this.reading();
    return Object.freeze({
      raw: this.q.countRaw.get() as number,
      downsampled: this.q.countDown.get() as number,
      series: this.q.countSeries.get() as number,
    });
  }

  maintain(now: number, policy: RetentionPolicy = DEFAULT_RETENTION): MaintenanceReport {
    this.writing();
    const b = policy.bucketSeconds;
    if (!(b > 0) || !(policy.rawSeconds > 0) || !(policy.downsampledSeconds >= policy.rawSeconds)) {
      throw new RangeError(`invalid retention ${JSON.stringify(policy)}: need bucketSeconds > 0, rawSeconds > 0, downsampledSeconds ≥ rawSeconds`);
    }
    // Fold only whole buckets: the cutoff is on a bucket boundary, so a bucket is never half raw.
    const rawCutoff = Math.floor((now - policy.rawSeconds) / b) * b;
    const downCutoff = now - policy.downsampledSeconds;
    let downsampled = 0;
    let buckets = 0;
    let expired = 0;
    for (const id of this.q.allSeriesIds.all() as number[]) {
      buckets += this.q.foldRaw.run({ b, s: id, cutoff: rawCutoff }).changes;
      downsampled += this.q.deleteRaw.run(id, rawCutoff).changes;
      expired += this.q.expireDown.run(id, downCutoff).changes;
    }
    this.q.dropEmptySeries.run();
    return Object.freeze({ downsampled, buckets, expired });
  }

  // --- forecasts

  putForecast(vmId: string, forecast: SeriesForecast, computedAt: number): ForecastRow {
    this.writing();
    const json = JSON.stringify(forecast);
    this.q.putForecast.run(vmId, forecast.metric, computedAt, json);
    return deepFreeze({ vmId, metric: forecast.metric, computedAt, forecast: JSON.parse(json) as SeriesForecast });
  }

  getForecasts(vmId: string): readonly ForecastRow[] {
    this.reading();
    const rows = this.q.forecasts.all(vmId) as { vm_id: string; metric: string; computed_at: number; forecast: string }[];
    return deepFreeze(rows.map((r) => ({ vmId: r.vm_id, metric: r.metric, computedAt: r.computed_at, forecast: JSON.parse(r.forecast) as SeriesForecast })));
  }

  // --- events

  appendEvent(e: { t: number; kind: string; vmId?: string | null; data?: Record<string, unknown> }): EventRow {
    this.writing();
    const data = JSON.stringify(e.data ?? {});
    const seq = Number(this.q.appendEvent.run(e.t, e.kind, e.vmId ?? null, data).lastInsertRowid);
    return deepFreeze({ seq, t: e.t, kind: e.kind, vmId: e.vmId ?? null, data: JSON.parse(data) as Record<string, unknown> });
  }

  listEvents(q: EventQuery = {}): readonly EventRow[] {
    this.reading();
    const where: string[] = ['seq > @after'];
    const params: Record<string, unknown> = { after: q.afterSeq ?? 0, limit: q.limit ?? DEFAULT_EVENT_LIMIT };
    if (q.vmId !== undefined) {
      where.push('vm_id = @vmId');
      params.vmId = q.vmId;
    }
    if (q.kind !== undefined) {
      where.push('kind = @kind');
      params.kind = q.kind;
    }
    const sql = `SELECT seq, t, kind, vm_id, data FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT @limit`;
    let stmt = this.eventQueries.get(sql);
    if (!stmt) this.eventQueries.set(sql, (stmt = this.db.prepare(sql)));
    const rows = stmt.all(params) as {
      seq: number;
      t: number;
      kind: string;
      vm_id: string | null;
      data: string;
    }[];
    return deepFreeze(rows.map((r) => ({ seq: r.seq, t: r.t, kind: r.kind, vmId: r.vm_id, data: JSON.parse(r.data) as Record<string, unknown> })));
  }

  // --- shadows and alerts (documents)

  getShadow(id: string): ShadowRow | undefined {
    this.reading();
    const doc = this.q.shadow.get(id) as string | undefined;
    return doc === undefined ? undefined : deepFreeze(JSON.parse(doc) as ShadowRow);
  }

  listShadows(vmId?: string): readonly ShadowRow[] {
    this.reading();
    const docs = (vmId === undefined ? this.q.shadows.all() : this.q.shadowsOfVm.all(vmId)) as string[];
    return deepFreeze(docs.map((d) => JSON.parse(d) as ShadowRow));
  }

  putShadow(row: ShadowRow): ShadowRow {
    this.writing();
    const doc = JSON.stringify(row);
    this.q.putShadow.run(row.id, row.vmId, doc);
    return deepFreeze(JSON.parse(doc) as ShadowRow);
  }

  deleteShadow(id: string): boolean {
    this.writing();
    return this.q.deleteShadow.run(id).changes > 0;
  }

  getAlert(key: string): AlertRow | undefined {
    this.reading();
    const doc = this.q.alert.get(key) as string | undefined;
    return doc === undefined ? undefined : deepFreeze(JSON.parse(doc) as AlertRow);
  }

  listAlerts(q: { all?: boolean; vmId?: string; limit?: number } = {}): readonly AlertRow[] {
    this.reading();
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit ?? DEFAULT_EVENT_LIMIT };
    if (!q.all) where.push("state = 'firing'");
    if (q.vmId !== undefined) {
      where.push('vm_id = @vmId');
      params.vmId = q.vmId;
    }
    const sql = `SELECT doc FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at DESC, key LIMIT @limit`;
    let stmt = this.eventQueries.get(sql);
    if (!stmt) this.eventQueries.set(sql, (stmt = this.db.prepare(sql).pluck(true)));
    return deepFreeze((stmt.all(params) as string[]).map((d) => JSON.parse(d) as AlertRow));
  }

  putAlert(row: AlertRow): AlertRow {
    this.writing();
    const doc = JSON.stringify(row);
    this.q.putAlert.run(row.key, row.state, row.vmId, row.updatedAt, row.endsAt, doc);
    return deepFreeze(JSON.parse(doc) as AlertRow);
  }

  pruneAlerts(before: number): number {
    this.writing();
    return this.q.pruneAlerts.run(before).changes;
  }

  // --- failovers (documents)

  getFailover(id: string): FailoverRow | undefined {
    this.reading();
    const doc = this.q.failover.get(id) as string | undefined;
    return doc === undefined ? undefined : deepFreeze(JSON.parse(doc) as FailoverRow);
  }

  listFailovers(q: { vmId?: string; running?: boolean; limit?: number } = {}): readonly FailoverRow[] {
    this.reading();
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit ?? DEFAULT_EVENT_LIMIT };
    if (q.running) where.push("state = 'running'");
    if (q.vmId !== undefined) {
      where.push('vm_id = @vmId');
      params.vmId = q.vmId;
    }
    const sql = `SELECT doc FROM failovers ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT @limit`;
    let stmt = this.eventQueries.get(sql);
    if (!stmt) this.eventQueries.set(sql, (stmt = this.db.prepare(sql).pluck(true)));
    return deepFreeze((stmt.all(params) as string[]).map((d) => JSON.parse(d) as FailoverRow));
  }

  putFailover(row: FailoverRow): FailoverRow {
    this.writing();
    const doc = JSON.stringify(row);
    this.q.putFailover.run(row.id, row.vmId, row.state, row.startedAt, doc);
    return deepFreeze(JSON.parse(doc) as FailoverRow);
  }
}

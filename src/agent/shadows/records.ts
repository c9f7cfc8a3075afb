/**
 * What the agent remembers about each shadow, one JSON file per shadow under
 * `<runDir>/agent/shadows/<id>.json`: the spec as the server sent it, the ports and export name
 * the agent chose, the target restarts it made, and an unfinished rehearsal to clean up. A
 * restarted agent reads them back: a re-sent ensure finds the same ports (no second target).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shadowSpecSchema, type ShadowSpec, type ShadowStatus } from '../../api/shadow-protocol.js';

/** One shadow's agent record. */
export interface ShadowRecord {
  /** The spec as requested (ports 0 mean "the agent picks"). */
  spec: ShadowSpec;
  /** Host port forwarded to the shadow guest's service (port 80). */
  servicePort: number;
  /** NBD port of the target export. */
  exportPort: number;
  /** NBD export name of the target. */
  exportName: string;
  createdAt: number;
  /** True once the target ran: from then on its port is known to the primary and never moves. */
  targetStarted: boolean;
  /** Times the agent restarted a dead target process. */
  targetRestarts: number;
  /** Set by a restart; the next status read reports `restarted` once and clears it. */
  restartedPending: boolean;
  lastError: ShadowStatus['lastError'];
  /** Rehearsals started (numbers the throwaway VM and the point-in-time export). */
  rehearsals: number;
  /** A rehearsal in progress: what to clean up if the agent dies during it. */
  rehearsing: { vmId: string; pit: string } | null;
}

/** The shadow records of one agent run dir. Returned records are copies. */
export class ShadowRecordStore {
  private readonly dir: string;
  private readonly byId = new Map<string, ShadowRecord>();

  constructor(runDir: string) {
    this.dir = join(runDir, 'agent', 'shadows');
    mkdirSync(this.dir, { recursive: true });
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const rec = JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as ShadowRecord;
        rec.spec = shadowSpecSchema.parse(rec.spec);
        this.byId.set(rec.spec.id, rec);
      } catch {
        // A torn or foreign file: ignore it.
      }
    }
  }

  ids(): string[] {
    return [...this.byId.keys()].sort();
  }

  get(id: string): ShadowRecord | undefined {
    const r = this.byId.get(id);
    return r ? structuredClone(r) : undefined;
  }

  all(): ShadowRecord[] {
    return this.ids().map((id) => this.get(id)!);
  }

  /** Writes a record atomically (a crash leaves the old or the new file). */
  put(rec: ShadowRecord): void {
    const copy = structuredClone(rec);
    const f = join(this.dir, `${rec.spec.id}.json`);
    // The spec holds the guest's admin token: readable by the agent's user only.
    writeFileSync(`${f}.tmp`, JSON.stringify(copy, null, 2), { mode: 0o600 });
    renameSync(`${f}.tmp`, f);
    this.byId.set(rec.spec.id, copy);
  }

  /** Changes a record with `fn` and writes it; no-op for an unknown id. */
  update(id: string, fn: (r: ShadowRecord) => void): ShadowRecord | undefined {
    const r = this.get(id);
    if (!r) return undefined;
    fn(r);
    this.put(r);
    return r;
  }

  remove(id: string): void {
    this.byId.delete(id);
    const f = join(this.dir, `${id}.json`);
    if (existsSync(f)) rmSync(f, { force: true });
  }
}

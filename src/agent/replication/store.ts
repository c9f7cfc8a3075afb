/**
 * What survives an agent restart about each replication, one JSON file per VM under
 * `<runDir>/agent/replication/<vmId>.json`: the spec as the server sent it, the supervisor's
 * facts (generation, job, failures, ...) and an open quiesce (so the next agent still resumes
 * the guest on time). Writes are atomic (temp file + rename).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replicationSpecSchema, type ReplicationSpec } from '../../api/shadow-protocol.js';
import { initialFacts, type ReplFacts } from './lag.js';

/** An open quiesce: when the guest was paused, when the agent resumes it by itself, and whether the agent paused it. */
export interface QuiesceRecord {
  pausedAt: number;
  resumeAt: number;
  /** False when the guest was already paused (then the agent never resumes it). */
  weStopped: boolean;
}

/** One VM's replication record. */
export interface ReplicationRecord {
  vmId: string;
  spec: ReplicationSpec;
  facts: ReplFacts;
  quiesce: QuiesceRecord | null;
}

/** The replication records of one run dir. */
export class ReplicationStore {
  readonly dir: string;

  constructor(runDir: string) {
    this.dir = join(runDir, 'agent', 'replication');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Every readable record (a torn or foreign file is skipped). */
  load(): ReplicationRecord[] {
    const out: ReplicationRecord[] = [];
    for (const f of readdirSync(this.dir).sort()) {
      if (!f.endsWith('.json')) continue;
      try {
        const raw = JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as ReplicationRecord;
        out.push({ vmId: raw.vmId, spec: replicationSpecSchema.parse(raw.spec), facts: { ...initialFacts(), ...raw.facts }, quiesce: raw.quiesce ?? null });
      } catch {
        // ignore: not a record this code wrote
      }
    }
    return out;
  }

  put(rec: ReplicationRecord): void {
    const f = join(this.dir, `${rec.vmId}.json`);
    writeFileSync(`${f}.tmp`, JSON.stringify(rec, null, 2));
    renameSync(`${f}.tmp`, f);
  }

  remove(vmId: string): void {
    const f = join(this.dir, `${vmId}.json`);
    if (existsSync(f)) rmSync(f, { force: true });
  }
}

/**
 * What survives an agent restart about each replication, one JSON file per VM under
 * `<runDir>/agent/replication/<vmId>.json`: the spec as the server sent it, the supervisor's
 * facts (generation, job, failures, ...) and an open quiesce (so the next agent still resumes
 * the guest on time). Writes are atomic (temp file + rename).
 */
import { join } from 'node:path';
import { JsonDir } from '../../core/json-dir.js';
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
  private readonly files: JsonDir;

  constructor(runDir: string) {
    this.files = new JsonDir(join(runDir, 'agent', 'replication'));
    this.dir = this.files.dir;
  }

  /** Every readable record (a torn or foreign file is skipped). */
  load(): ReplicationRecord[] {
    return this.files.readAll((json) => {
      const raw = json as ReplicationRecord;
      return { vmId: raw.vmId, spec: replicationSpecSchema.parse(raw.spec), facts: { ...initialFacts(), ...raw.facts }, quiesce: raw.quiesce ?? null };
    });
  }

  put(rec: ReplicationRecord): void {
    this.files.write(rec.vmId, rec);
  }

  remove(vmId: string): void {
    this.files.remove(vmId);
  }
}

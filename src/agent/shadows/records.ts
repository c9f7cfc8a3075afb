/**
 * What the agent remembers about each shadow, one JSON file per shadow under
 * `<runDir>/agent/shadows/<id>.json`: the spec as the server sent it, the ports and export name
 * the agent chose, the target restarts it made, and an unfinished rehearsal to clean up. A
 * restarted agent reads them back: a re-sent ensure finds the same ports (no second target).
 */
import { join } from 'node:path';
import { JsonRecordStore } from '../../core/json-dir.js';
import { shadowSpecSchema, type Promotion, type ShadowSpec, type ShadowStatus } from '../../api/shadow-protocol.js';

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
  /** Set once the shadow VM was promoted: it is a primary now (absent in records of older agents). */
  promoted?: Promotion | null;
  /** A warm or cold promotion in progress (cleared when it ends, or by a restarted agent). */
  promoting?: 'warm' | 'cold' | null;
  /** The incoming migration listener of a migrate shadow, while one was set up. */
  incoming?: IncomingRecord | null;
  /** A promoted shadow being retired (its VM ends on purpose), since `at`; the record goes when done. */
  retiring?: { at: number } | null;
}

/** A migrate shadow's incoming migration. */
export interface IncomingRecord {
  /** `tcp:HOST:PORT` the shadow QEMU listens on. */
  uri: string;
  port: number;
  /** The shadow VM process that listens. */
  pid: number | null;
  at: number;
  /** Run the guest as soon as the stream completed. */
  autoResume: boolean;
}

/** The shadow records of one agent run dir. Returned records are copies. */
export class ShadowRecordStore extends JsonRecordStore<ShadowRecord> {
  constructor(runDir: string) {
    super(join(runDir, 'agent', 'shadows'), {
      keyOf: (r) => r.spec.id,
      parse: (raw) => {
        const rec = raw as ShadowRecord;
        rec.spec = shadowSpecSchema.parse(rec.spec);
        return rec;
      },
      // The spec holds the guest's admin token: readable by the agent's user only.
      mode: 0o600,
    });
  }
}

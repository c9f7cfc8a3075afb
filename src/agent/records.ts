/**
 * What the agent remembers about each VM beyond the driver's run dir, one JSON file per VM
 * under `<runDir>/agent/vms/`: the spec as the server sent it, the host port and data disk the
 * agent chose, and the last exit and error it observed. A restarted agent reads them back, so
 * a re-sent ensure finds the same port and disk (no second VM) and a crash seen before the
 * restart is still reported as one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentVmSpecSchema, type AgentVm, type AgentVmSpec } from '../api/protocol.js';

/** How a VM's last process ended, as the agent observed it. */
export interface ExitRecord {
  /** `exited`: planned (asked through the agent, or the guest powered off); `crashed`: anything else. */
  state: 'exited' | 'crashed';
  /** QEMU's SHUTDOWN reason, `killed`, or `unknown`. */
  reason: string;
  pid: number | null;
  atMs: number;
}

/** One VM's agent record. */
export interface AgentVmRecord {
  /** The spec as requested (servicePort 0 means "the agent picks"). */
  spec: AgentVmSpec;
  /** The host port forwarded to the guest's port 80. */
  servicePort: number;
  /** The data disk image. */
  dataDisk: string;
  createdAt: number;
  /** When the current (or last) process started, epoch ms. */
  startedAt: number | null;
  lastExit: ExitRecord | null;
  lastError: AgentVm['lastError'];
  /** The pid the agent itself is ending (kill, powerdown, delete): its exit is planned. */
  expectExitPid: number | null;
}

/** The records of one agent's run dir. Returned records are copies: change them through {@link put}. */
export class RecordStore {
  private readonly dir: string;
  private readonly byId = new Map<string, AgentVmRecord>();

  constructor(runDir: string) {
    this.dir = join(runDir, 'agent', 'vms');
    mkdirSync(this.dir, { recursive: true });
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const rec = JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as AgentVmRecord;
        rec.spec = agentVmSpecSchema.parse(rec.spec);
        this.byId.set(rec.spec.id, rec);
      } catch {
        // A torn or foreign file: ignore it (the driver's run dir still lists the VM).
      }
    }
  }

  ids(): string[] {
    return [...this.byId.keys()].sort();
  }

  get(id: string): AgentVmRecord | undefined {
    const r = this.byId.get(id);
    return r ? structuredClone(r) : undefined;
  }

  /** Every record (copies). */
  all(): AgentVmRecord[] {
    return this.ids().map((id) => this.get(id)!);
  }

  /** Writes a record (atomically: a crash leaves the old or the new file). */
  put(rec: AgentVmRecord): void {
    const copy = structuredClone(rec);
    const f = join(this.dir, `${rec.spec.id}.json`);
    writeFileSync(`${f}.tmp`, JSON.stringify(copy, null, 2));
    renameSync(`${f}.tmp`, f);
    this.byId.set(rec.spec.id, copy);
  }

  /** Changes a record with `fn` and writes it; no-op for an unknown id. */
  update(id: string, fn: (r: AgentVmRecord) => void): AgentVmRecord | undefined {
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

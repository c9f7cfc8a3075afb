/**
 * What the agent remembers about each VM beyond the driver's run dir, one JSON file per VM
 * under `<runDir>/agent/vms/`: the spec as the server sent it, the host port and data disk the
 * agent chose, and the last exit and error it observed. A restarted agent reads them back, so
 * a re-sent ensure finds the same port and disk (no second VM) and a crash seen before the
 * restart is still reported as one.
 */
import { join } from 'node:path';
import { JsonRecordStore } from '../core/json-dir.js';
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
export class RecordStore extends JsonRecordStore<AgentVmRecord> {
  constructor(runDir: string) {
    super(join(runDir, 'agent', 'vms'), {
      keyOf: (r) => r.spec.id,
      // A torn or foreign file is ignored (the driver's run dir still lists the VM).
      parse: (raw) => {
        const rec = raw as AgentVmRecord;
        rec.spec = agentVmSpecSchema.parse(rec.spec);
        return rec;
      },
    });
  }
}

/**
 * The control-plane protocol: the JSON bodies exchanged between the server, the host agents
 * and the CLI, as zod schemas (one source for validation and types). Every request carries
 * `Authorization: Bearer <token>`; servers bind to 127.0.0.1 (or a lab namespace address)
 * unless configured otherwise.
 *
 * Server API (umbra server), prefix /v1:
 *   POST   /v1/agents/register          AgentRegistration      -> RegisterReply
 *   POST   /v1/agents/:name/heartbeat   Heartbeat              -> HeartbeatReply
 *   POST   /v1/samples                  SampleBatch            -> { accepted }
 *   GET    /v1/agents                                          -> { agents: AgentRecord[] }
 *   GET    /v1/vms                                             -> { vms: VmRecord[] }
 *   POST   /v1/vms                      VmCreate               -> VmRecord   (server places it and asks the agent)
 *   GET    /v1/vms/:id                                         -> VmRecord
 *   DELETE /v1/vms/:id                                         -> 204
 *   GET    /v1/vms/:id/samples?metric=&from=&to=               -> { samples: Sample[] }
 *   GET    /v1/vms/:id/forecasts                               -> { forecasts: SeriesForecast[] }
 *                                       (additive: `computedAt` {metric: epoch s}, `skipped` [{metric, code, reason}])
 *   GET    /v1/events?after=&vm=&kind=&limit=                  -> { events }  (additive: the event log)
 *   GET    /v1/status                                          -> StatusReport  (what `umbra status --json` prints)
 *   POST   /v1/profile                                         -> ProfilerReport (a profiler pass now; additive)
 *   Shadows (issue 4; src/server/shadow-routes.ts): GET /v1/shadows[/:id], POST /v1/shadows/:id/
 *   verify|rehearse|resync, GET /v1/vms/:id/shadows, GET /v1/vms/:id/explain, POST
 *   /v1/vms/:id/protect, GET /v1/alerts. The agents' shadow data path: src/api/shadow-protocol.ts.
 *   GET    /healthz (no auth)                                  -> 200
 *
 * Agent API (umbra agent), prefix /v1:
 *   GET    /v1/info                                            -> AgentInfo
 *   GET    /v1/vms                                             -> { vms: AgentVm[] }
 *   PUT    /v1/vms/:id                  AgentVmSpec            -> AgentVm    (ensure: create+start, idempotent)
 *   POST   /v1/vms/:id/start|stop|cont|kill|powerdown          -> AgentVm
 *   DELETE /v1/vms/:id                                         -> 204        (kill + remove files)
 *   GET    /v1/vms/:id/stats                                   -> UsageSample[]
 *   GET    /healthz (no auth)                                  -> 200
 * Errors from both: { error: { code, message, retryable, context } } with an HTTP status mapped
 * from the code in one place.
 */
import { z } from 'zod';

export const labelsSchema = z.record(z.string(), z.string());

/**
 * Optional in an agent's VM summaries (added by the server: additive): the guest service URL
 * as the agent knows it. The server keeps the one from the last ensure reply when it is absent.
 */
const observedEndpoint = z.string().nullable().optional();

export const agentRegistrationSchema = z.object({
  /** Host name, unique in the cluster (e.g. `h1`). */
  name: z.string().min(1),
  /** Base URL of the agent's own API, reachable from the server. */
  apiUrl: z.string().url(),
  /** Host address VMs' forwarded ports are reachable on. */
  address: z.string().min(1),
  labels: labelsSchema.default({}),
  capacity: z.object({ cores: z.number().positive(), memoryMiB: z.number().positive() }),
  /** VMs the agent runs right now (after a restart: the re-adopted ones). */
  vms: z.array(z.object({ id: z.string(), state: z.string(), pid: z.number().int().nullable(), endpoint: observedEndpoint })).default([]),
});
export type AgentRegistration = z.infer<typeof agentRegistrationSchema>;

export const registerReplySchema = z.object({ leaseSeconds: z.number().positive(), heartbeatSeconds: z.number().positive() });
export type RegisterReply = z.infer<typeof registerReplySchema>;

export const heartbeatSchema = z.object({
  vms: z.array(z.object({ id: z.string(), state: z.string(), pid: z.number().int().nullable(), endpoint: observedEndpoint })).default([]),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;
export const heartbeatReplySchema = z.object({ leaseSeconds: z.number().positive() });

/** One usage measurement of one VM (the agent says in `unit` exactly what it measured). */
export const usageSampleSchema = z.object({
  vmId: z.string(),
  /** Epoch seconds. */
  t: z.number(),
  /** `cpu_cores`, `cpu_pct` (of its allocation), `mem_rss_mib`, `disk_read_iops`, `disk_write_iops`,
   *  `disk_read_bps`, `disk_write_bps`, `net_rx_bps`, `net_tx_bps`, `probe_ok`, `probe_latency_ms`. */
  metric: z.string(),
  value: z.number(),
  unit: z.string(),
});
export type UsageSample = z.infer<typeof usageSampleSchema>;
export const sampleBatchSchema = z.object({ agent: z.string(), samples: z.array(usageSampleSchema) });
export type SampleBatch = z.infer<typeof sampleBatchSchema>;

/** What the agent needs to run one VM (the server fills image paths and ports). */
export const agentVmSpecSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  vcpus: z.number().int().positive().default(1),
  maxVcpus: z.number().int().positive().default(4),
  memoryMiB: z.number().int().positive().default(128),
  maxMemoryMiB: z.number().int().positive().default(1024),
  kernel: z.string(),
  initrd: z.string(),
  append: z.string().optional(),
  dataDiskMiB: z.number().int().positive().default(64),
  /** Host port forwarded to the guest service's port 80 (0: the agent picks a free one). */
  servicePort: z.number().int().min(0).max(65535).default(0),
  /** HTTP path probed for health, e.g. `/health`. */
  probePath: z.string().default('/health'),
  labels: labelsSchema.default({}),
});
export type AgentVmSpec = z.infer<typeof agentVmSpecSchema>;

export const agentVmSchema = z.object({
  id: z.string(),
  state: z.string(),
  pid: z.number().int().nullable(),
  /** URL of the guest service as reachable from the root namespace / server. */
  endpoint: z.string().nullable(),
  startedAt: z.number().nullable(),
  lastError: z.object({ code: z.string(), message: z.string(), stderrTail: z.string().optional() }).nullable().default(null),
});
export type AgentVm = z.infer<typeof agentVmSchema>;

export const vmCreateSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  /** Host to place it on; default: the server picks the least loaded live host. */
  host: z.string().optional(),
  vcpus: z.number().int().positive().default(1),
  memoryMiB: z.number().int().positive().default(128),
  labels: labelsSchema.default({}),
  /** Keep a shadow of this VM whatever its forecast risk (additive). */
  protect: z.boolean().default(false),
});
export type VmCreate = z.infer<typeof vmCreateSchema>;

/** A VM as the server records it: spec and status are kept apart (status is rebuilt from observation). */
export interface VmRecord {
  id: string;
  spec: VmCreate & { host: string };
  status: { state: string; host: string; pid: number | null; endpoint: string | null; observedAt: number | null; lastError?: { code: string; message: string; stderrTail?: string } | null };
  /** `primary` | `shadow` (shadows come with issue 4). */
  role: 'primary' | 'shadow';
}

export interface AgentRecord {
  name: string;
  apiUrl: string;
  address: string;
  labels: Record<string, string>;
  capacity: { cores: number; memoryMiB: number };
  /** Epoch ms when the lease runs out; `alive` = now < leaseExpiresAt. */
  leaseExpiresAt: number;
  alive: boolean;
}

/**
 * `umbra status --json`: every VM, shadows included, with id, role, host, pid (its QEMU process),
 * state and `sync` (a shadow's sync state; for a primary, the sync state of its active shadow, or
 * null when it has none). Shadows add `shadowOf` (the protected VM), `flavor`/`mode` and `ready`
 * (the standby can take over at once: a warm guest booted; additive).
 */
export interface StatusReport {
  server: { url: string; version: string; startedAt: number };
  agents: AgentRecord[];
  vms: Array<{
    id: string;
    role: 'primary' | 'shadow';
    host: string;
    pid: number | null;
    state: string;
    endpoint: string | null;
    sync: string | null;
    shadowOf?: string;
    flavor?: string;
    mode?: string;
    ready?: boolean;
  }>;
}

/** Figures the agent's sampler measures about itself (part of GET /v1/info). */
export interface SamplerStats {
  intervalMs: number;
  passes: number;
  /** Ticks skipped because a pass overran. */
  skippedTicks: number;
  /** VM readings taken. */
  vmSamples: number;
  /** How late ticks fired (clock ms), over the last 256 passes. */
  jitterMs: { p50: number; p95: number; max: number };
  /** Agent CPU time per VM sampled (reading + math + probe), ms, over the last 256 passes. */
  cpuMsPerVm: { mean: number; max: number };
  /** Wall time of a pass, ms, median over the last 256. */
  passMs: number;
  buffered: number;
  dropped: number;
  /** Samples the server accepted. */
  posted: number;
  lastPostError: string | null;
}

/**
 * `GET /v1/info` of an agent (added by the agent: additive). Epoch ms for times; `sampling`
 * holds the agent's own figures about its sampling loop, and `metrics` says exactly what each
 * UsageSample metric measures.
 */
export interface AgentInfo {
  name: string;
  apiUrl: string;
  address: string;
  labels: Record<string, string>;
  capacity: { cores: number; memoryMiB: number };
  driver: { kind: string; simulated: boolean; accel: string; version: string };
  startedAt: number;
  lease: {
    registered: boolean;
    leaseSeconds: number;
    heartbeatSeconds: number;
    /** When the last successful renewal was sent. */
    lastRenewedAt: number;
    /** When the agent fences itself unless a renewal succeeds first. */
    fenceAt: number;
    fenced: boolean;
    fencedAt: number | null;
    failures: number;
    lastError: string | null;
  };
  vms: number;
  sampling: SamplerStats;
  metrics: Record<string, { unit: string; source: string }>;
}

/**
 * The shadow data path's protocol between the server and the host agents (issue 4), as zod
 * schemas (one source for validation and types). Same conventions as protocol.ts: bearer auth on
 * every route, errors as { error: { code, message, retryable, context } }, epoch ms for times.
 *
 * Primary side (the agent of the primary's host), prefix /v1:
 *   PUT    /v1/vms/:id/replication          ReplicationSpec -> ReplicationStatus
 *            ensure: records the spec (it survives an agent restart) and makes a job copy the VM's
 *            data disk to the target. Same spec again: the same job. Another target or mode: the
 *            old job is cancelled and a new full copy starts (generation + 1).
 *            The agent supervises it by itself: a job that ended in error, or a primary process that
 *            restarted, gets a new full copy (with backoff) without the server asking.
 *   GET    /v1/vms/:id/replication          -> ReplicationStatus   (404 NOT_FOUND when none)
 *   DELETE /v1/vms/:id/replication          -> 204 (a ready mirror cancelled leaves a consistent copy)
 *   POST   /v1/vms/:id/replication/resync   -> ReplicationStatus   (cancel + new full copy)
 *   POST   /v1/vms/:id/quiesce              QuiesceRequest -> QuiesceReply
 *            pauses the guest's vCPUs and waits until the target holds every write (mirror: nothing
 *            left to copy; periodic: one more incremental round). The agent resumes the guest by
 *            itself after `maxPauseMs` whatever happens (a lost server never leaves it paused).
 *   POST   /v1/vms/:id/unquiesce            -> { pauseMs }        (resumes; no-op when not quiesced)
 *   GET    /v1/vms/:id/disk-digest?chunk=N  -> DiskDigest         (guest-visible bytes of the data disk)
 *
 * Shadow side (the agent of the shadow's host), prefix /v1:
 *   PUT    /v1/shadows/:id                  ShadowSpec -> ShadowStatus
 *            ensure: a target disk of `diskBytes` exported writable over NBD on the agent's address,
 *            and the shadow VM: `warm` = booted, services up, the export attached but not mounted
 *            (guest kernel argument umbra.data=none); `migrate` = a paused `-incoming defer` QEMU of
 *            the same shape using the export. Idempotent; the target process is restarted by the
 *            agent when it dies (the file stays).
 *   GET    /v1/shadows                      -> { shadows: ShadowStatus[] }
 *   GET    /v1/shadows/:id                  -> ShadowStatus
 *   DELETE /v1/shadows/:id                  -> 204 (VM killed, export stopped, files removed)
 *   GET    /v1/shadows/:id/disk-digest?chunk=N -> DiskDigest      (the target's bytes)
 *   POST   /v1/shadows/:id/rehearse         RehearseRequest -> RehearsalResult
 *            warm: runs the task inside the live shadow; migrate: boots a throwaway VM from a
 *            point-in-time copy of the target (never the target itself), measures its time to
 *            ready, runs the task there, removes it. Replication goes on meanwhile.
 */
import { z } from 'zod';

const id = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);

/** An NBD export to write to / read from. */
export const nbdTargetSchema = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535), export: z.string().min(1) });
export type NbdTargetRef = z.infer<typeof nbdTargetSchema>;

export const replicationModeSchema = z.enum(['sync', 'async', 'periodic']);
export type ReplicationMode = z.infer<typeof replicationModeSchema>;

/** What the primary's agent replicates where. */
export const replicationSpecSchema = z.object({
  /** The shadow this replication feeds (for logs and alerts). */
  shadowId: id,
  target: nbdTargetSchema,
  /** sync: write-blocking mirror (RPO 0); async: background mirror; periodic: dirty bitmap + incremental copies. */
  mode: replicationModeSchema,
  /** periodic: seconds between incremental rounds. */
  intervalSeconds: z.number().positive().default(300),
  /** Bytes per second limit of the copy; 0 = unlimited. */
  speedBytesPerSec: z.number().int().min(0).default(0),
});
export type ReplicationSpec = z.infer<typeof replicationSpecSchema>;

/**
 * A replication as the primary's agent observes it.
 * - `starting`: the job is being set up; `copying`: the first full copy runs (offset/len progress);
 * - `ready`: the target caught up once; from then on a mirror keeps it in sync (lag measured), and
 *   periodic mode copies every interval;
 * - `error`: the job failed (target lost, link cut, ...): `error` says why; the agent restarts it
 *   (new generation, full copy) after `retryAt`;
 * - `stopped`: the VM has no running process (nothing to copy from).
 */
export const replicationStatusSchema = z.object({
  vmId: id,
  shadowId: id,
  mode: replicationModeSchema,
  target: nbdTargetSchema,
  state: z.enum(['starting', 'copying', 'ready', 'error', 'stopped']),
  /** Increases with every new full copy (1 for the first). */
  generation: z.number().int().min(0),
  /** The hypervisor's job id while one exists. */
  jobId: z.string().nullable(),
  /** Progress counters of the current job (len grows with guest writes). */
  offset: z.number().min(0),
  len: z.number().min(0),
  /** Bytes written on the primary not yet on the target (mirror: len - offset; periodic: dirty bytes). */
  lagBytes: z.number().min(0),
  /** Age of the oldest write not yet on the target, seconds (0 when caught up). */
  lagSeconds: z.number().min(0),
  /** When the target last held every write. */
  lastCaughtUpAt: z.number().nullable(),
  /** When this generation's job started and reached ready. */
  startedAt: z.number().nullable(),
  readyAt: z.number().nullable(),
  /** Initial full copy throughput of this generation, bytes/s (null until ready). */
  initialCopyBytesPerSec: z.number().nullable(),
  /** periodic: rounds done, the last one's start and duration. */
  rounds: z.number().int().min(0),
  lastRoundAt: z.number().nullable(),
  lastRoundMs: z.number().nullable(),
  /** Why the last job failed (kept after a successful restart until the next failure). */
  error: z.string().nullable(),
  /** When the agent restarts a failed job. */
  retryAt: z.number().nullable(),
  /** Jobs that failed since the spec was set. */
  failures: z.number().int().min(0),
});
export type ReplicationStatus = z.infer<typeof replicationStatusSchema>;

export const quiesceRequestSchema = z.object({
  /** The agent resumes the guest after this long whatever happens. */
  maxPauseMs: z.number().int().positive().max(60_000).default(5000),
});
export const quiesceReplySchema = z.object({
  pausedAt: z.number(),
  /** True when the target held every write before the reply (the point in time is consistent). */
  caughtUp: z.boolean(),
  /** How long catching up took while paused, ms. */
  catchUpMs: z.number(),
});
export type QuiesceReply = z.infer<typeof quiesceReplySchema>;

/** Digests of a disk's guest-visible bytes: sha256 of each chunk, and of the chunk list. */
export const diskDigestSchema = z.object({
  sizeBytes: z.number().int().min(0),
  chunkBytes: z.number().int().positive(),
  /** Hex sha256 per chunk, in order. */
  chunks: z.array(z.string()),
  /** Hex sha256 over the chunk digests. */
  digest: z.string(),
  /** How long reading and hashing took, ms. */
  ms: z.number(),
});
export type DiskDigest = z.infer<typeof diskDigestSchema>;

export const shadowFlavorSchema = z.enum(['warm', 'migrate']);
export type ShadowFlavor = z.infer<typeof shadowFlavorSchema>;

/** What the shadow host's agent runs for one shadow. */
export const shadowSpecSchema = z.object({
  /** The shadow's id (a VM id on this host), e.g. `vm1-s1`. */
  id,
  /** The protected VM. */
  primaryId: id,
  flavor: shadowFlavorSchema,
  /** Virtual size of the primary's data disk: the target gets exactly this. */
  diskBytes: z.number().int().positive(),
  vcpus: z.number().int().positive(),
  maxVcpus: z.number().int().positive(),
  memoryMiB: z.number().int().positive(),
  maxMemoryMiB: z.number().int().positive(),
  kernel: z.string().min(1),
  initrd: z.string().min(1),
  /** Bearer token of the guest's /admin endpoints (promotion); never logged. */
  adminToken: z.string().min(16),
  /** Host port forwarded to the shadow's service (0: the agent picks). */
  servicePort: z.number().int().min(0).max(65535).default(0),
  /** NBD port of the target export (0: the agent picks). */
  exportPort: z.number().int().min(0).max(65535).default(0),
  probePath: z.string().default('/health'),
  labels: z.record(z.string(), z.string()).default({}),
});
export type ShadowSpec = z.infer<typeof shadowSpecSchema>;

export const shadowStatusSchema = z.object({
  id,
  primaryId: id,
  flavor: shadowFlavorSchema,
  /** Where the primary's replication writes. */
  target: nbdTargetSchema,
  /** The process serving the target (qemu-storage-daemon), and whether it runs. */
  targetPid: z.number().int().nullable(),
  targetState: z.enum(['running', 'stopped', 'restarted']),
  /** Times the agent restarted a dead target process. */
  targetRestarts: z.number().int().min(0),
  /** The shadow VM. */
  vm: z.object({ state: z.string(), pid: z.number().int().nullable(), endpoint: z.string().nullable() }),
  createdAt: z.number(),
  lastError: z.object({ code: z.string(), message: z.string(), stderrTail: z.string().optional() }).nullable(),
});
export type ShadowStatus = z.infer<typeof shadowStatusSchema>;

/** A warm-up task as the agent runs it (the policy's warmup_task, resolved). */
export const rehearsalTaskSchema = z.union([
  z.object({ http: z.object({ path: z.string().startsWith('/'), port: z.number().int().optional(), expectStatus: z.number().int().default(200), timeoutMs: z.number().int().positive().default(10_000) }) }),
  z.object({ command: z.object({ argv: z.array(z.string().min(1)).min(1), timeoutMs: z.number().int().positive().default(60_000) }) }),
]);
export type RehearsalTask = z.infer<typeof rehearsalTaskSchema>;

export const rehearseRequestSchema = z.object({
  /** Absent: only check that the shadow (or its copy) is ready (its probe path answers). */
  task: rehearsalTaskSchema.optional(),
  /** Time allowed for the throwaway VM to become ready (migrate shadows). */
  bootTimeoutMs: z.number().int().positive().default(120_000),
});

export const rehearsalResultSchema = z.object({
  shadowId: id,
  flavor: shadowFlavorSchema,
  /** `in-shadow`: ran inside the live warm shadow; `pit-copy`: in a throwaway VM on a point-in-time copy. */
  where: z.enum(['in-shadow', 'pit-copy']),
  ok: z.boolean(),
  startedAt: z.number(),
  /** pit-copy: from starting the throwaway VM to its probe path answering (the cold-boot recovery time). */
  timeToReadyMs: z.number().nullable(),
  task: z.object({ ok: z.boolean(), status: z.number().nullable(), ms: z.number(), output: z.string().optional(), error: z.string().optional() }).nullable(),
  error: z.string().nullable(),
});
export type RehearsalResult = z.infer<typeof rehearsalResultSchema>;

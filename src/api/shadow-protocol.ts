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
 *
 * Promotion and live migration (issue 5: what the failover controller calls), prefix /v1.
 * Shadow side:
 *   POST   /v1/shadows/:id/promote          PromoteRequest -> PromoteResult
 *            warm (a warm shadow): POST the guest's /admin/promote?dev=vda with the shadow's admin
 *            token, wait until its /health answers role primary. cold (any shadow): kill the
 *            shadow VM (standby or paused incoming) and boot a new process of the same VM id on
 *            the target's export as a normal data disk (umbra.data=vda), wait until /health
 *            answers role primary. `ms` is from the call to the first good /health. The target
 *            process keeps serving the disk: it is the promoted VM's disk now. A failed
 *            promotion answers 200 with ok false (the VM as left) and may be retried; a second
 *            promotion of a promoted shadow is 409 CONFLICT, an unknown shadow 404.
 *            Refused (409 VM_INVALID_STATE) on a fenced host and for `warm` on a migrate shadow.
 *   POST   /v1/shadows/:id/incoming         IncomingRequest -> IncomingReply
 *            a migrate shadow (paused `-incoming defer` QEMU) listens for the migration stream on
 *            a free port of the agent's address (capability `events` set). With `autoResume`
 *            (default) QEMU is armed to run the guest the moment the stream completed (`cont`
 *            while incoming; never earlier: a failed stream ends the process), and the agent
 *            `cont`s on the completed event too. The same call again while listening answers
 *            the same uri.
 *   POST   /v1/shadows/:id/resume           ResumeRequest -> ResumeResult
 *            waits (at most timeoutMs) until the incoming migration completed, runs the guest if
 *            it is still paused, and answers when it runs (resumedAt: the RESUME event's time).
 *            Idempotent once the shadow was promoted by migration.
 *   A promoted shadow (`promoted: true` in ShadowStatus, with `promotion`) is a primary: the
 *   agent never restarts, replaces or re-ensures its VM (PUT is 409 CONFLICT, rehearse too); a
 *   dead target process is still restarted on the same file and port (the VM's NBD client
 *   reconnects). DELETE of a promoted shadow is 409 CONFLICT unless `?promoted=kill`, which
 *   kills the VM like any shadow's (the explicit release of a primary that is no longer needed).
 * Primary side:
 *   POST   /v1/vms/:id/migrate              MigrateRequest -> MigrateResult
 *            live migration to a shadow's incoming uri: capabilities events + pause-before-
 *            switchover, `migrate`, at pre-switchover (guest paused) the replication is handed
 *            over (a mirror cancelled in ready state: the target holds every write; periodic:
 *            one last round) and no longer supervised, `migrate-continue`, completed. The source
 *            is left `postmigrate` (never resumed: `cont` is refused); kill it when done.
 *            `replicationJob` (default: whether the VM has a replication) false skips the hand-over
 *            (the disk must reach the destination another way); true without one is 409.
 *            `holdAtSwitchover`: answers at pre-switchover (source paused, replication handed
 *            over) so that the caller moves the clients while nothing runs; then
 *   POST   /v1/vms/:id/migrate/continue     MigrateContinue -> MigrateResult
 *            continues the held migration to its end (or cancels it: `abort`); 409 when none is
 *            held. A hold not continued within holdTimeoutMs is cancelled (the source runs on).
 *            A failed or timed-out migration answers ok false; the source runs on and its
 *            replication makes a new full copy.
 *   POST   /v1/vms/:id/resize               ResizeRequest -> ResizeResult
 *            hot-adds vCPUs (one at a time) and memory (one DIMM, a multiple of 128 MiB) up to
 *            the request, within the VM's maxVcpus / maxMemoryMiB (beyond: 400). Never removes.
 *            The guest onlines them itself. Any VM of the agent, and promoted shadows.
 *   POST   /v1/vms/:id/retire               RetireRequest -> RetireResult
 *            the graceful end of an old primary after a failover (src/agent/retire.ts). Any VM
 *            of the agent, and promoted shadows (a standby shadow is 409: DELETE it). No process:
 *            removed (`gone`). A guest running or paused by `stop`: every NIC's link is set down
 *            first (once it runs again it reaches and answers no one), then the ACPI power
 *            button, then `cont`; the agent waits up to `timeoutMs` for the process to exit
 *            (`acpi`) and SIGKILLs it after (`killed`, `timedOut`). Killed at once (`reason`
 *            says why): a fenced host, a VM with block jobs (a resumed guest would write through
 *            them), any other state (postmigrate, inmigrate, crashed, a silent monitor). Then
 *            everything is removed as DELETE does (process, run dir, disks or target, record);
 *            the exit is a planned one (never reported `crashed`). The replication is held.
 *            `ms`: from the call to the process's end. Unknown id: 404 VM_NOT_FOUND.
 *   POST   /v1/vms/:id/kill (existing)      a VM killed on purpose through the API (also
 *            powerdown, and fencing's kill) has its replication held: no new full copy starts,
 *            even when a new process runs, until the spec is PUT again or resynced
 *            (ReplicationStatus `held`). A crash (a process that ended by itself) still gets a
 *            new copy when a process runs again.
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
  /**
   * Why the agent starts no new copy (the VM was killed on purpose, or its replication was
   * handed over to a live migration), null when it would. Cleared by PUT or resync.
   */
  held: z.string().nullable().optional(),
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

/** How a shadow became a primary: `migrate` = by live migration into it. */
export const promotionModeSchema = z.enum(['warm', 'cold', 'migrate']);
export type PromotionMode = z.infer<typeof promotionModeSchema>;

/** A promoted shadow's promotion. */
export const promotionSchema = z.object({
  mode: promotionModeSchema,
  /** When it became primary, epoch ms (migrate: the RESUME event's time). */
  at: z.number(),
  /** From the call to the first good /health (warm, cold), ms; null for migrate. */
  ms: z.number().nullable(),
});
export type Promotion = z.infer<typeof promotionSchema>;

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
  vm: z.object({
    state: z.string(),
    pid: z.number().int().nullable(),
    endpoint: z.string().nullable(),
    /**
     * The standby can take over at once: a warm guest answers its probe, a migrate shadow's
     * QEMU waits for the stream (absent from older agents: unknown). A shadow can be
     * synchronized before its guest has booted; a promotion then waits for the boot.
     */
    ready: z.boolean().optional(),
  }),
  createdAt: z.number(),
  lastError: z.object({ code: z.string(), message: z.string(), stderrTail: z.string().optional() }).nullable(),
  /** True once the shadow VM was promoted: it is a primary now (see the module comment). */
  promoted: z.boolean().optional(),
  /** How and when it was promoted (null before). */
  promotion: promotionSchema.nullable().optional(),
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


// --- promotion and live migration (issue 5) ---

export const promoteRequestSchema = z.object({
  mode: z.enum(['warm', 'cold']),
  /** How long the guest may take to answer /health as primary (cold: the boot). */
  bootTimeoutMs: z.number().int().positive().max(600_000).default(60_000),
});
export type PromoteRequest = z.infer<typeof promoteRequestSchema>;

/** The shadow VM as observed after an operation. */
const vmViewSchema = z.object({ state: z.string(), pid: z.number().int().nullable(), endpoint: z.string().nullable() });

export const promoteResultSchema = z.object({
  shadowId: id,
  mode: z.enum(['warm', 'cold']),
  ok: z.boolean(),
  /** From the call to the first /health answering role primary (or to the failure), ms. */
  ms: z.number(),
  /** The guest's log sequence number at its first good /health (null when unknown). */
  seq: z.number().int().nullable().optional(),
  vm: vmViewSchema,
  error: z.string().nullable(),
});
export type PromoteResult = z.infer<typeof promoteResultSchema>;

export const incomingRequestSchema = z.object({
  /** Run the guest as soon as the migration completed (else POST resume does). */
  autoResume: z.boolean().default(true),
});
export type IncomingRequest = z.infer<typeof incomingRequestSchema>;

export const incomingReplySchema = z.object({
  /** Where the primary migrates to: `tcp:HOST:PORT` on the shadow agent's address. */
  uri: z.string().regex(/^tcp:/),
});
export type IncomingReply = z.infer<typeof incomingReplySchema>;

export const resumeRequestSchema = z.object({
  /** How long to wait for the incoming migration to complete. */
  timeoutMs: z.number().int().positive().max(600_000).default(30_000),
});
export type ResumeRequest = z.infer<typeof resumeRequestSchema>;

export const resumeResultSchema = z.object({
  shadowId: id,
  ok: z.boolean(),
  /** When the guest ran again on this side (the RESUME event's time), epoch ms. */
  resumedAt: z.number().nullable(),
  /** The incoming migration's status (`completed`, `failed`, ...). */
  migrationStatus: z.string().nullable(),
  vm: vmViewSchema,
  error: z.string().nullable(),
});
export type ResumeResult = z.infer<typeof resumeResultSchema>;

export const migrateRequestSchema = z.object({
  /** The shadow's incoming uri (POST /v1/shadows/:id/incoming). */
  uri: z.string().regex(/^tcp:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'tcp:HOST:PORT'),
  /** Hand the VM's replication over at switchover (default: whether it has one). */
  replicationJob: z.boolean().optional(),
  /** The whole migration's time limit; past it the migration is cancelled. */
  timeoutMs: z.number().int().positive().max(600_000).default(120_000),
  /**
   * Answer at switchover instead of at the end: the source is paused, its replication handed
   * over, the destination not running yet (status `pre-switchover`); the caller switches the
   * clients over, then POSTs `/migrate/continue` (or `{ abort: true }`). Not continued within
   * `holdTimeoutMs`: the migration is cancelled and the source runs on.
   */
  holdAtSwitchover: z.boolean().optional(),
  /** Default 5000. */
  holdTimeoutMs: z.number().int().positive().max(60_000).optional(),
});
export type MigrateRequest = z.infer<typeof migrateRequestSchema>;

export const migrateContinueSchema = z.object({
  /** Cancel instead (the clients could not be switched): the source runs on. */
  abort: z.boolean().default(false),
});
export type MigrateContinue = z.infer<typeof migrateContinueSchema>;

export const migrateResultSchema = z.object({
  vmId: id,
  ok: z.boolean(),
  /** The migration's final status (`completed`, `failed`, `cancelled`, `timeout`). */
  status: z.string(),
  /** From `migrate` to completed (or to the failure), ms. */
  totalMs: z.number(),
  /**
   * The guest's pause on this side: from the source's STOP event to the completed event (both
   * QEMU timestamps), else query-migrate's downtime; null when unknown. The whole client-visible
   * pause ends at the shadow's `resumedAt` (ResumeResult): compare with `stoppedAt`.
   */
  downtimeMs: z.number().nullable(),
  /** When the source's vCPUs stopped for the switchover (STOP event), epoch ms. */
  stoppedAt: z.number().nullable(),
  /** The replication hand-over at switchover: how long it took, and whether the target held every write. */
  handOver: z.object({ ms: z.number(), caughtUp: z.boolean() }).nullable(),
  error: z.string().nullable(),
});
export type MigrateResult = z.infer<typeof migrateResultSchema>;

export const resizeRequestSchema = z.object({
  vcpus: z.number().int().positive(),
  memoryMiB: z.number().int().positive(),
});
export type ResizeRequest = z.infer<typeof resizeRequestSchema>;

export const resizeResultSchema = z.object({
  /** vCPUs and memory plugged after the call (the guest onlines them within ~1-2 s). */
  vcpus: z.number().int(),
  memoryMiB: z.number().int(),
  /** What this call plugged. */
  added: z.object({ vcpus: z.number().int().min(0), memoryMiB: z.number().int().min(0) }),
  ms: z.number(),
});
export type ResizeResult = z.infer<typeof resizeResultSchema>;

export const retireRequestSchema = z.object({
  /** How long the guest may take to power off after the button, ms; then it is killed. */
  timeoutMs: z.number().int().positive().max(600_000).default(10_000),
});
export type RetireRequest = z.infer<typeof retireRequestSchema>;

export const retireResultSchema = z.object({
  vmId: id,
  /** `acpi`: the guest powered itself off; `killed`: SIGKILL (timeout or `reason`); `gone`: no process was left. */
  how: z.enum(['acpi', 'killed', 'gone']),
  /** From the call to the process's end, ms. */
  ms: z.number(),
  /** Killed because the guest did not power off within `timeoutMs`. */
  timedOut: z.boolean(),
  /** Why it was killed at once, or why nothing was left (null after a power-off). */
  reason: z.string().nullable(),
});
export type RetireResult = z.infer<typeof retireResultSchema>;

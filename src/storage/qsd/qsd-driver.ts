/**
 * The `qemu-storage-daemon` implementation of {@link BlockTargetDriver}: one detached daemon per
 * target, serving its raw file writable over NBD, with a QMP monitor on a unix socket for
 * point-in-time exports (fleecing, fleece.ts). Everything lives in the target's run dir
 * (layout.ts), so a new driver (after an agent restart) finds a running daemon again from its
 * pidfile and never starts a second one on the same file.
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { systemClock, type Clock } from '../../core/clock.js';
import type { DiskDigest } from '../../api/shadow-protocol.js';
import { isAlive, pollUntil, readPidFile, signalPid, spawnDetached, tailFile, fileSize } from '../../hypervisor/qemu/process.js';
import { QmpClient } from '../../hypervisor/qemu/qmp-client.js';
import { digestFile, validChunkBytes } from '../digest.js';
import { DEFAULT_DIGEST_CHUNK, TARGET_ID, type BlockTargetDriver, type PointInTimeExport, type TargetSpec, type TargetStatus } from '../driver.js';
import { StorageError, TargetConflictError, TargetNotFoundError, TargetSpecInvalidError, TargetStartFailedError, TargetStoppedError } from '../errors.js';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import { checkPitName, checkTargetSpec, sameExport } from '../spec.js';
import { ensureFleece, fleeceInventory, releaseFleece } from './fleece.js';
import { MAX_SOCKET_PATH, pitExportName, pitOverlay, qsdArgs, TARGET_EXPORT_ID, targetPaths, targetsDir, type TargetPaths } from './layout.js';

const execFileP = promisify(execFile);

/** Options of {@link QsdBlockTargetDriver}. */
export interface QsdDriverOptions {
  /** Run dirs go under `<baseDir>/targets/`. */
  baseDir: string;
  /** Daemon binary (default `qemu-storage-daemon` from PATH). */
  binary?: string;
  /** `qemu-img` binary (creates the fleecing overlays). */
  qemuImg?: string;
  clock?: Clock;
  /** How long a start waits for the daemon's monitor and export (ms, default 10000). */
  startTimeoutMs?: number;
  /** QMP command timeout (ms, default 10000). */
  commandTimeoutMs?: number;
}

/** See the module comment. */
export class QsdBlockTargetDriver implements BlockTargetDriver {
  readonly kind = 'qsd' as const;
  readonly simulated = false;
  private readonly clock: Clock;
  private readonly lock = new KeyedMutex();
  private readonly clients = new Map<string, QmpClient>();
  private readonly connecting = new Map<string, Promise<QmpClient>>();

  constructor(private readonly o: QsdDriverOptions) {
    this.clock = o.clock ?? systemClock;
    mkdirSync(targetsDir(o.baseDir), { recursive: true });
  }

  async ensure(spec: TargetSpec): Promise<TargetStatus> {
    checkTargetSpec(spec);
    const paths = targetPaths(this.o.baseDir, spec.id);
    if (Buffer.byteLength(paths.qmpSocket) > MAX_SOCKET_PATH) throw new TargetSpecInvalidError(spec.id, [`socket path ${paths.qmpSocket} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter run dir`]);
    return this.lock.run(spec.id, async () => {
      mkdirSync(paths.dir, { recursive: true });
      const old = readSpec(paths);
      const pid = livePid(paths);
      if (old && old.sizeBytes !== spec.sizeBytes) throw new TargetConflictError(spec.id, `exists with ${old.sizeBytes} bytes, asked for ${spec.sizeBytes} (a target is never resized)`);
      if (old && pid !== null && !sameExport(old, spec)) {
        throw new TargetConflictError(spec.id, `runs exported at ${old.host}:${old.port}/${old.exportName}, asked for ${spec.host}:${spec.port}/${spec.exportName}`);
      }
      ensureFile(spec.id, paths.disk, spec.sizeBytes);
      if (!old || !sameExport(old, spec)) writeAtomic(paths.specFile, JSON.stringify(spec, null, 2));
      if (pid === null) await this.startDaemon(spec, paths);
      return this.observe(spec.id, paths, spec);
    });
  }

  async status(id: string): Promise<TargetStatus> {
    const { paths, spec } = this.known(id, 'status');
    return this.observe(id, paths, spec);
  }

  async list(): Promise<TargetStatus[]> {
    const dir = targetsDir(this.o.baseDir);
    const ids = existsSync(dir) ? readdirSync(dir).filter((d) => TARGET_ID.test(d) && existsSync(targetPaths(this.o.baseDir, d).specFile)) : [];
    return Promise.all(ids.sort().map((id) => this.status(id)));
  }

  async kill(id: string): Promise<TargetStatus> {
    const { paths, spec } = this.known(id, 'kill');
    return this.lock.run(id, async () => {
      const pid = livePid(paths);
      if (pid !== null) await this.killPid(id, pid);
      await this.dropClient(id);
      return this.observe(id, paths, spec);
    });
  }

  async stop(id: string): Promise<TargetStatus> {
    const { paths, spec } = this.known(id, 'stop');
    return this.lock.run(id, async () => {
      await this.stopLocked(id, paths);
      return this.observe(id, paths, spec);
    });
  }

  async remove(id: string): Promise<void> {
    if (!TARGET_ID.test(id)) return;
    const paths = targetPaths(this.o.baseDir, id);
    if (!existsSync(paths.dir)) return;
    await this.lock.run(id, async () => {
      await this.stopLocked(id, paths);
      rmSync(paths.dir, { recursive: true, force: true });
    });
  }

  async exportPointInTime(id: string, name: string): Promise<PointInTimeExport> {
    checkPitName(id, name);
    const { paths, spec } = this.known(id, 'exportPointInTime');
    return this.lock.run(id, async () => {
      if (livePid(paths) === null) throw new TargetStoppedError(id, 'exportPointInTime');
      const t0 = this.clock.now();
      const q = await this.qmp(id, paths);
      const overlay = pitOverlay(paths, name);
      const inv = await fleeceInventory(q);
      if (!inv.nodes.has(name)) {
        // A blank overlay every time: a file left by a failed attempt may hold old blocks.
        rmSync(overlay, { force: true });
        await execFileP(this.o.qemuImg ?? 'qemu-img', ['create', '-q', '-f', 'qcow2', overlay, String(spec.sizeBytes)]);
      }
      const made = await ensureFleece(q, { name, overlay, exportName: pitExportName(spec.exportName, name) });
      const now = this.clock.now();
      return {
        name,
        host: spec.host,
        port: spec.port,
        export: pitExportName(spec.exportName, name),
        createdAt: made ? now : Math.round(statSync(overlay).mtimeMs),
        setupMs: made ? now - t0 : 0,
      };
    });
  }

  async listPointInTime(id: string): Promise<string[]> {
    const { paths } = this.known(id, 'listPointInTime');
    const names = new Set(
      readdirSync(paths.dir)
        .filter((f) => /^pit-.+\.qcow2$/.test(f))
        .map((f) => f.slice(4, -6)),
    );
    if (livePid(paths) !== null) {
      const inv = await fleeceInventory(await this.qmp(id, paths));
      for (const s of [inv.exports, inv.jobs, inv.nodes]) for (const n of s) names.add(n);
    }
    return [...names].sort();
  }

  async releasePointInTime(id: string, name: string): Promise<void> {
    checkPitName(id, name);
    const { paths } = this.known(id, 'releasePointInTime');
    return this.lock.run(id, async () => {
      if (livePid(paths) !== null) await releaseFleece(await this.qmp(id, paths), name, this.clock);
      rmSync(pitOverlay(paths, name), { force: true });
    });
  }

  async digest(id: string, chunkBytes = DEFAULT_DIGEST_CHUNK): Promise<DiskDigest> {
    const { paths, spec } = this.known(id, 'digest');
    if (!validChunkBytes(chunkBytes)) throw new StorageError('REQUEST_INVALID', `chunk ${chunkBytes}: a whole number of bytes from 4096 to 256 MiB`, { targetId: id, op: 'digest' });
    return digestFile(paths.disk, spec.sizeBytes, chunkBytes);
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.close()));
  }

  // --- internals ---

  private known(id: string, op: string): { paths: TargetPaths; spec: TargetSpec } {
    if (!TARGET_ID.test(id)) throw new TargetNotFoundError(id, op);
    const paths = targetPaths(this.o.baseDir, id);
    const spec = readSpec(paths);
    if (!spec) throw new TargetNotFoundError(id, op);
    return { paths, spec };
  }

  private observe(id: string, paths: TargetPaths, spec: TargetSpec): TargetStatus {
    const pid = livePid(paths);
    return {
      id,
      state: pid === null ? 'stopped' : 'running',
      pid,
      file: paths.disk,
      sizeBytes: spec.sizeBytes,
      export: { host: spec.host, port: spec.port, export: spec.exportName },
    };
  }

  /** Starts the daemon and waits until its monitor answers and the export exists. */
  private async startDaemon(spec: TargetSpec, paths: TargetPaths): Promise<void> {
    await this.dropClient(spec.id);
    // Both are stale (no live daemon): a leftover socket would look like a listening monitor.
    rmSync(paths.qmpSocket, { force: true });
    rmSync(paths.pidFile, { force: true });
    const logOffset = fileSize(paths.log);
    const binary = this.o.binary ?? 'qemu-storage-daemon';
    const child = spawnDetached(binary, qsdArgs(spec, paths), paths.log);
    let exited = false;
    let spawnError: Error | null = null;
    child.once('exit', () => (exited = true));
    child.once('error', (e) => (spawnError = e));
    const timeoutMs = this.o.startTimeoutMs ?? 10_000;
    const deadline = this.clock.now() + timeoutMs;
    const failed = (detail: string) => new TargetStartFailedError(spec.id, tailFile(paths.log, 4096, 20, logOffset), detail);
    for (;;) {
      await this.clock.sleep(10);
      if (spawnError) throw new TargetStartFailedError(spec.id, String((spawnError as Error).message), `cannot run ${binary}`);
      if (exited) throw failed('the daemon exited at start');
      if (this.clock.now() >= deadline) {
        if (child.pid !== undefined) signalPid(child.pid, 'SIGKILL');
        throw failed(`no monitor answer within ${timeoutMs} ms`);
      }
      if (!existsSync(paths.qmpSocket)) continue;
      try {
        const q = await this.qmp(spec.id, paths, 1000);
        // The monitor answers from the main loop, i.e. after every option (NBD server, export)
        // was set up; check the export anyway.
        const exps = await q.execute<{ id: string }[]>('query-block-exports');
        if (!exps.some((e) => e.id === TARGET_EXPORT_ID)) throw failed('the daemon runs without its export');
        break;
      } catch (e) {
        if (e instanceof TargetStartFailedError) throw e;
        await this.dropClient(spec.id);
      }
    }
    // The daemon writes its pidfile itself; adoption relies on it.
    const ok = await pollUntil(() => readPidFile(paths.pidFile) !== null, { clock: this.clock, timeoutMs: 2000 });
    if (!ok && child.pid !== undefined) writeAtomic(paths.pidFile, `${child.pid}\n`);
  }

  private async stopLocked(id: string, paths: TargetPaths): Promise<void> {
    const pid = livePid(paths);
    if (pid === null) return this.dropClient(id);
    try {
      const q = await this.qmp(id, paths);
      await q.execute('quit').catch(() => undefined); // the reply may be lost as it exits
    } catch {
      // no monitor: fall through to SIGKILL
    }
    await this.dropClient(id);
    const gone = await pollUntil(() => !isAlive(pid), { clock: this.clock, timeoutMs: 5000 });
    if (!gone) await this.killPid(id, pid);
  }

  private async killPid(id: string, pid: number): Promise<void> {
    signalPid(pid, 'SIGKILL');
    const gone = await pollUntil(() => !isAlive(pid), { clock: this.clock, timeoutMs: 10_000 });
    if (!gone) throw new StorageError('INTERNAL', `daemon ${pid} of target ${id} still alive 10 s after SIGKILL`, { targetId: id, op: 'kill' });
  }

  private async qmp(id: string, paths: TargetPaths, connectTimeoutMs = 5000): Promise<QmpClient> {
    const c = this.clients.get(id);
    if (c?.connected) return c;
    const pending = this.connecting.get(id);
    if (pending) return pending;
    const p = (async () => {
      await this.dropClient(id);
      const q = await QmpClient.connect({
        path: paths.qmpSocket,
        clock: this.clock,
        connectTimeoutMs,
        commandTimeoutMs: this.o.commandTimeoutMs ?? 10_000,
        context: { targetId: id },
      });
      this.clients.set(id, q);
      return q;
    })();
    this.connecting.set(id, p);
    try {
      return await p;
    } finally {
      this.connecting.delete(id);
    }
  }

  private async dropClient(id: string): Promise<void> {
    const c = this.clients.get(id);
    this.clients.delete(id);
    await c?.close();
  }
}

/** The pid of the target's live daemon (checked against /proc and its command line), or null. */
function livePid(paths: TargetPaths): number | null {
  const pid = readPidFile(paths.pidFile);
  return pid !== null && isAlive(pid, paths.pidFile) ? pid : null;
}

function readSpec(paths: TargetPaths): TargetSpec | null {
  if (!existsSync(paths.specFile)) return null;
  try {
    return JSON.parse(readFileSync(paths.specFile, 'utf8')) as TargetSpec;
  } catch {
    return null;
  }
}

/** Creates the target file with exactly `size` bytes (sparse) when missing; never touches an existing one. */
function ensureFile(id: string, path: string, size: number): void {
  if (existsSync(path)) {
    const have = statSync(path).size;
    if (have !== size) throw new TargetConflictError(id, `file ${path} has ${have} bytes, asked for ${size} (a target is never resized)`);
    return;
  }
  const fd = openSync(path, 'wx'); // fails if it appeared meanwhile: never truncates
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

// @ts-check
/**
 * The processes the shadow benchmark runs, each started for real and each stopped by its own
 * pid: a protocol stand-in for the server's agent routes (register / heartbeat / samples), one
 * host agent (the built `Agent` with the QEMU driver, in this process) and the replication
 * target, a `qemu-storage-daemon` exporting a raw file over NBD on 127.0.0.1 (argv array,
 * never a shell), as a shadow host would.
 *
 * `Rig.killAllSync` SIGKILLs every QEMU recorded under the run dir and the daemon: the harness
 * calls it on SIGINT/SIGTERM; `Rig.close` is the orderly version for `finally`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from '../../dist/agent/index.js';
import { QemuHypervisorDriver } from '../../dist/hypervisor/qemu/qemu-driver.js';
import { freePort } from '../common/net.mjs';

/** @typedef {import('../../dist/api/shadow-protocol.js').ReplicationStatus} ReplicationStatus */
/** @typedef {{ status: number, body: any }} ApiReply */

/** @param {number} port */
function canConnect(port) {
  return /** @type {Promise<boolean>} */ (
    new Promise((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port });
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    })
  );
}

/** @param {number} pid */
function killPid(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * SIGKILLs every QEMU recorded under a driver run dir (`<runDir>/vms/<id>/process.json`).
 * @param {string} runDir
 */
export function killRecordedQemus(runDir) {
  const vms = join(runDir, 'vms');
  if (!existsSync(vms)) return;
  for (const id of readdirSync(vms)) {
    const rec = join(vms, id, 'process.json');
    if (!existsSync(rec)) continue;
    try {
      killPid(JSON.parse(readFileSync(rec, 'utf8')).pid);
    } catch {
      // unreadable or already gone
    }
  }
}

/**
 * The stand-in for the server's agent routes: accepts every registration, heartbeat and sample
 * batch (the benchmark measures the data path, not the control plane).
 * @returns {Promise<{ url: string, server: http.Server }>}
 */
async function startStandIn() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = req.url === '/v1/agents/register' ? { leaseSeconds: 600, heartbeatSeconds: 5 } : req.url === '/v1/samples' ? { accepted: 0 } : { leaseSeconds: 600 };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  return { url: `http://127.0.0.1:${/** @type {net.AddressInfo} */ (server.address()).port}`, server };
}

/** The agent, the stand-in and the target daemon of one benchmark run. */
export class Rig {
  /** @type {import('node:child_process').ChildProcess | null} */
  daemon = null;
  /** @type {string | null} the raw file the daemon exports */
  targetFile = null;
  daemonPort = 0;

  /**
   * @param {string} runDir  the agent's run dir (short: QMP socket paths < 108 bytes)
   * @param {Agent} agent
   * @param {http.Server} standIn
   * @param {string} token
   */
  constructor(runDir, agent, standIn, token) {
    this.runDir = runDir;
    this.agent = agent;
    this.standIn = standIn;
    this.token = token;
  }

  /**
   * Starts the stand-in and the agent (QEMU driver, TCG).
   * @param {string} runDir
   * @returns {Promise<Rig>}
   */
  static async start(runDir) {
    const token = `bench-shadow-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const s = await startStandIn();
    try {
      const agent = await Agent.start(
        { name: 'h1', serverUrl: s.url, token, address: '127.0.0.1', listenPort: 0, runDir, intervalMs: 10_000, leaseMs: 600_000 },
        { driver: new QemuHypervisorDriver({ baseDir: runDir, accel: 'tcg', host: 'h1' }) },
      );
      return new Rig(runDir, agent, s.server, token);
    } catch (e) {
      s.server.close();
      throw e;
    }
  }

  /**
   * One call of the agent API (bearer token; JSON in and out).
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<ApiReply>}
   */
  async api(method, path, body) {
    const res = await fetch(this.agent.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /**
   * Like `api`, but any status other than `want` throws with the body.
   * @param {number} want
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   */
  async must(want, method, path, body) {
    const r = await this.api(method, path, body);
    if (r.status !== want) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /**
   * The VM's replication now (null when it has none).
   * @param {string} vmId
   * @returns {Promise<ReplicationStatus | null>}
   */
  async replication(vmId) {
    const r = await this.api('GET', `/v1/vms/${vmId}/replication`);
    if (r.status === 404) return null;
    if (r.status !== 200) throw new Error(`GET replication: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /**
   * Polls the replication until `pred` holds (every `pollMs`), or throws after `timeoutMs`.
   * @param {string} vmId
   * @param {(s: ReplicationStatus) => boolean} pred
   * @param {number} timeoutMs
   * @param {string} what
   * @param {number} [pollMs]
   * @returns {Promise<ReplicationStatus>}
   */
  async until(vmId, pred, timeoutMs, what, pollMs = 50) {
    const end = performance.now() + timeoutMs;
    /** @type {ReplicationStatus | null} */
    let last = null;
    while (performance.now() < end) {
      last = await this.replication(vmId);
      if (last && pred(last)) return last;
      await sleep(pollMs);
    }
    throw new Error(`${what}: not within ${timeoutMs} ms; last ${JSON.stringify(last)}`);
  }

  /**
   * A new target: a blank raw file of `sizeBytes` exported writable by a new
   * qemu-storage-daemon on a free loopback port (the previous daemon is stopped first).
   * @param {string} file
   * @param {number} sizeBytes
   * @returns {Promise<{ host: string, port: number, export: string }>}
   */
  async freshTarget(file, sizeBytes) {
    await this.stopTarget();
    rmSync(file, { force: true });
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', file, String(sizeBytes)]);
    const port = await freePort();
    const child = spawn(
      'qemu-storage-daemon',
      [
        '--blockdev', `driver=file,node-name=f0,filename=${file}`,
        '--blockdev', 'driver=raw,node-name=s0,file=f0',
        '--nbd-server', `addr.type=inet,addr.host=127.0.0.1,addr.port=${port}`,
        '--export', 'type=nbd,id=e0,node-name=s0,name=s0,writable=on',
      ],
      { stdio: 'ignore' },
    );
    this.daemon = child;
    this.targetFile = file;
    this.daemonPort = port;
    const end = performance.now() + 10_000;
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || performance.now() > end) throw new Error(`qemu-storage-daemon did not listen on ${port}`);
      await sleep(20);
    }
    return { host: '127.0.0.1', port, export: 's0' };
  }

  /** Stops the target daemon (SIGKILL by its pid; waits for its exit). */
  async stopTarget() {
    const d = this.daemon;
    this.daemon = null;
    if (!d?.pid) return;
    const exited = new Promise((r) => (d.exitCode !== null || d.signalCode !== null ? r(undefined) : d.once('exit', () => r(undefined))));
    killPid(d.pid);
    await exited;
  }

  /** Last defence (signals): every QEMU of the run dir and the daemon, SIGKILLed now. */
  killAllSync() {
    killRecordedQemus(this.runDir);
    if (this.daemon?.pid) killPid(this.daemon.pid);
  }

  /** Orderly end: agent stopped, every QEMU and the daemon killed, the stand-in closed. */
  async close() {
    await this.agent.crash().catch(() => undefined);
    killRecordedQemus(this.runDir);
    await this.stopTarget().catch(() => undefined);
    this.standIn.closeAllConnections();
    await new Promise((r) => this.standIn.close(() => r(undefined)));
  }
}

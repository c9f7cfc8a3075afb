// @ts-check
/**
 * Lab guests for the benchmark: each VM is built exactly as the agent builds it (the protocol's
 * AgentVmSpec defaults through `toVmSpec`: 1 vCPU (max 4), 128 MiB (max 1024), a qcow2 data
 * disk, user networking with the service port forwarded to 127.0.0.1), booted through the QEMU
 * driver and timed from `create` to the guest's `/health` answering 200.
 *
 * Every QEMU pid the driver reports is remembered; `killAll` SIGKILLs them (the harness calls it
 * in `finally` and on SIGINT/SIGTERM).
 */
import { readFileSync } from 'node:fs';
import { freePort } from '../common/net.mjs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentVmSpecSchema } from '../../dist/api/protocol.js';
import { toVmSpec } from '../../dist/agent/vm-spec.js';
import { clockTicksPerSecond, parseProcStat, parseVmRssBytes } from '../../dist/hypervisor/qemu/proc-stats.js';

/** @typedef {import('../../dist/hypervisor/qemu/qemu-driver.js').QemuHypervisorDriver} QemuHypervisorDriver */
/** @typedef {import('../../dist/guest/build.js').GuestImage} GuestImage */

/**
 * @typedef {object} BootedVm
 * @property {string} id
 * @property {number} pid
 * @property {string} url              the guest service, e.g. http://127.0.0.1:PORT
 * @property {number} createToQmpMs    driver create + start (QMP ready)
 * @property {number} createToHealthMs create until GET /health answered 200
 */

const HEALTH_TIMEOUT_MS = 120_000;
const POLL_MS = 50;

/**
 * True when GET `url` answers 200 within a second.
 * @param {string} url
 */
async function answers200(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

/** Boots, stops and measures lab guests through one QEMU driver. */
export class LabVms {
  /** @type {Set<number>} */
  pids = new Set();

  /**
   * @param {QemuHypervisorDriver} driver
   * @param {GuestImage} image
   */
  constructor(driver, image) {
    this.driver = driver;
    this.image = image;
  }

  /**
   * Creates and starts VM `id` on the data disk `disk`, and waits for its /health.
   * @param {string} id
   * @param {string} disk  qcow2 image (empty: the guest formats it on this boot)
   * @returns {Promise<BootedVm>}
   */
  async boot(id, disk) {
    const port = await freePort();
    const agentSpec = agentVmSpecSchema.parse({ id, kernel: this.image.kernel, initrd: this.image.initrd, servicePort: port });
    const spec = toVmSpec(agentSpec, { address: '127.0.0.1', servicePort: port, dataDisk: disk });
    const url = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    await this.driver.create(spec);
    const st = await this.driver.start(id);
    const createToQmpMs = performance.now() - t0;
    if (st.pid === null) throw new Error(`VM ${id} started without a pid`);
    this.pids.add(st.pid);
    while (!(await answers200(`${url}/health`))) {
      if (performance.now() - t0 > HEALTH_TIMEOUT_MS) throw new Error(`VM ${id}: /health not 200 within ${HEALTH_TIMEOUT_MS / 1000} s`);
      await sleep(POLL_MS);
    }
    return { id, pid: st.pid, url, createToQmpMs, createToHealthMs: performance.now() - t0 };
  }

  /**
   * Powers VM `id` down through ACPI (the guest syncs its disk), kills it if that fails, and
   * removes its record.
   * @param {BootedVm} vm
   * @returns {Promise<boolean>} true when the power-down was clean
   */
  async powerdown(vm) {
    let clean = false;
    try {
      clean = (await this.driver.powerdown(vm.id, { timeoutMs: 30_000 })).clean;
    } catch {
      // killed below
    }
    await this.kill(vm);
    return clean;
  }

  /**
   * Kills VM `id` (SIGKILL through the driver) and removes its record.
   * @param {BootedVm} vm
   */
  async kill(vm) {
    await this.driver.kill(vm.id).catch(() => undefined);
    killPid(vm.pid);
    this.pids.delete(vm.pid);
    await this.driver.remove(vm.id).catch(() => undefined);
  }

  /** SIGKILLs every QEMU this object started that may still run. */
  killAll() {
    for (const pid of this.pids) killPid(pid);
    this.pids.clear();
  }
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
 * VmRSS of a process, KiB.
 * @param {number} pid
 */
export function rssKiB(pid) {
  return parseVmRssBytes(readFileSync(join('/proc', String(pid), 'status'), 'utf8')) / 1024;
}

/**
 * CPU time (user + system) of a process, ms.
 * @param {number} pid
 */
export function processCpuMs(pid) {
  const st = parseProcStat(readFileSync(join('/proc', String(pid), 'stat'), 'utf8'));
  return ((st.utimeTicks + st.stimeTicks) * 1000) / clockTicksPerSecond();
}

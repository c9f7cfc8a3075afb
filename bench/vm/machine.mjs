// @ts-check
/**
 * What the benchmark ran on: cores, CPU model, memory, load average, versions. The load
 * average is read at the start and the end of the run (the box is shared).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * @typedef {object} Machine
 * @property {string} date          ISO time the run started
 * @property {number} nproc
 * @property {string} cpuModel
 * @property {number} memTotalMiB
 * @property {string} kernel        `uname -r`
 * @property {string} node
 * @property {string} qemu          first line of `qemu-system-x86_64 --version`
 * @property {number[]} loadStart   1, 5, 15-minute load averages at the start
 * @property {number[] | null} loadEnd  the same at the end
 */

/**
 * Reads the machine's description (`loadEnd` is filled in later).
 * @param {Date} now
 * @returns {Machine}
 */
export function describeMachine(now) {
  let qemu = 'unknown';
  try {
    qemu = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    // reported as unknown
  }
  return {
    date: now.toISOString(),
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memTotalMiB: Math.round(os.totalmem() / 1024 / 1024),
    kernel: os.release(),
    node: process.version,
    qemu,
    loadStart: os.loadavg().map(round2),
    loadEnd: null,
  };
}

/** The 1, 5 and 15-minute load averages now, to two decimals. */
export function loadNow() {
  return os.loadavg().map(round2);
}

/** @param {number} x */
function round2(x) {
  return Math.round(x * 100) / 100;
}

/**
 * The reports' machine table (Markdown): CPU, memory, load at the start and end, versions, and
 * the accelerator the run used.
 * @param {Machine} m
 * @param {string} accel
 * @returns {string}
 */
export function machineTable(m, accel) {
  const load = (/** @type {number[] | null} */ l) => (l ? l.join(' / ') : 'n/a');
  return `| | |
|---|---|
| CPU | ${m.cpuModel}, **${m.nproc} cores** |
| Memory | ${m.memTotalMiB} MiB |
| Load average (1/5/15 min) | start ${load(m.loadStart)}, end ${load(m.loadEnd)} |
| Kernel, Node, QEMU | ${m.kernel}, ${m.node}, ${m.qemu} |
| Accelerator | ${accel} (KVM does not work on this machine) |`;
}

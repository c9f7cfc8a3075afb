/**
 * `umbra lab down`: stops every process of the lab, removes its network and its files. Works
 * from partial state (a crashed `up`) and when nothing is left (idempotent).
 *
 * Which processes are the lab's: the recorded pids whose command line still mentions the lab
 * dir (a recycled pid is never killed), every process whose command line mentions the lab dir
 * (agents, the server, QEMUs: their run dirs are under it), and every process inside the lab's
 * namespaces. Agents and the server go first, so nothing restarts a VM while QEMUs are stopped.
 */
import { LabError, requireRoot } from './errors.js';
import { netnsPids, removeBridge, removeHostNet } from './net.js';
import { findProcessesMentioning, procInfo, stopProcesses } from './procs.js';
import { labPaths, readLabState, removeLabFiles, type LabState } from './state.js';

/** What `down` did. */
export interface LabDownReport {
  /** False when there was no lab recorded in the state dir. */
  found: boolean;
  stateDir: string;
  /** Pids stopped. */
  stopped: number[];
  /** Namespaces removed (or found absent). */
  netns: string[];
  bridge: string | null;
}

/** Recorded pids that still belong to this lab (their command line mentions the lab dir). */
function recordedPids(state: LabState, labDir: string, which: 'control' | 'vms'): number[] {
  const pids = which === 'control' ? [state.server?.pid, state.traffic?.pid, state.dns?.pid, ...state.hosts.map((h) => h.agent?.pid)] : state.vms.map((v) => v.pid);
  return pids.filter((p): p is number => typeof p === 'number' && p > 0 && (procInfo(p)?.argv.some((a) => a.includes(labDir)) ?? false));
}

/** Tears the lab in `stateDir` down (see the module comment). Throws a `down` LabError when a process survives SIGKILL. */
export async function labDown(o: { stateDir: string; progress?: (message: string) => void }): Promise<LabDownReport> {
  requireRoot();
  const say = o.progress ?? (() => undefined);
  const paths = labPaths(o.stateDir);
  let state: LabState | null = null;
  try {
    state = readLabState(o.stateDir);
  } catch (e) {
    say(`${(e as Error).message}: stopping what mentions ${paths.labDir} and removing the files`);
  }
  const report: LabDownReport = { found: state !== null, stateDir: o.stateDir, stopped: [], netns: [], bridge: null };
  const labDir = paths.labDir;

  const stop = async (pids: number[], graceMs: number) => {
    const fresh = pids.filter((p) => !report.stopped.includes(p));
    if (!fresh.length) return;
    const left = await stopProcesses(fresh, { graceMs });
    report.stopped.push(...fresh);
    if (left.length) throw new LabError('INTERNAL', `processes ${left.join(', ')} survived SIGKILL`, { step: 'down' });
  };
  const nsPids = async () => (state ? (await Promise.all(state.hosts.map((h) => netnsPids(h.netns)))).flat() : []);

  if (state) await stop(recordedPids(state, labDir, 'control'), 5000);
  // Agents, the server and anything else mentioning the lab dir that is not a QEMU.
  const sweep = () => findProcessesMentioning(labDir).map((p) => p.pid);
  const isQemu = (pid: number) => procInfo(pid)?.argv[0]?.includes('qemu-system') ?? false;
  await stop(sweep().filter((p) => !isQemu(p)), 5000);
  if (state) await stop(recordedPids(state, labDir, 'vms'), 3000);
  await stop([...sweep(), ...(await nsPids())], 3000);
  if (report.stopped.length) say(`stopped ${report.stopped.length} processes (${report.stopped.join(', ')})`);

  if (state) {
    for (const h of state.hosts) {
      await removeHostNet(h);
      report.netns.push(h.netns);
    }
    await removeBridge(state.network);
    report.bridge = state.network.bridge;
    say(`removed namespaces ${report.netns.join(', ') || '(none)'} and bridge ${report.bridge}`);
  }
  removeLabFiles(o.stateDir);
  say(state ? `lab in ${o.stateDir} is down` : `no lab recorded in ${o.stateDir}: nothing to do`);
  return report;
}

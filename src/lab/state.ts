/**
 * The lab's state on disk, written as each thing is created so that `umbra lab down` can clean
 * up after a crash. Layout under the state dir (`$UMBRA_STATE_DIR` or ~/.local/state/umbra):
 *
 *   lab.json          `{server, token}`: what `umbra status` reads
 *   lab/state.json    {@link LabState}: every namespace, process and directory of the lab
 *   lab/server/       the server's data dir (SQLite, token file)
 *   lab/hosts/hK/     host K's agent run dir (VM run dirs, disks)
 *   lab/logs/         stdout/stderr of the server, the agents, HAProxy and named
 *   lab/haproxy/      HAProxy's config and admin socket
 *   lab/dns/          named's config, zone, journal and the TSIG secret (0600)
 *   lab/server-policy.yaml  the server's policy: `--policy` plus `traffic.dns`
 *
 * Everything the lab creates lives under `lab/` (plus `lab.json`), so `down` removes exactly that.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.js';
import type { LabDnsState } from './dns.js';
import type { LabHostLayout, LabNetwork } from './layout.js';

/** A process the lab started (detached), with where its output goes. */
export interface LabProcess {
  pid: number;
  /** The exact argument vector it was spawned with (`argv[0]` is the program). */
  argv: string[];
  /** Its stdout (the one JSON line it prints when ready). */
  out: string;
  /** Its stderr (logs). */
  log: string;
}

/** One host of the lab as recorded (layout + its agent's run dir and process). */
export interface LabHostState extends LabHostLayout {
  /** The agent's run dir (VM run dirs live under it). */
  runDir: string;
  /** The agent's API URL once it listens. */
  apiUrl: string | null;
  agent: LabProcess | null;
}

/** One VM of the lab as last observed by `up`. */
export interface LabVmState {
  id: string;
  host: string;
  /** The QEMU process (same PID namespace as the root namespace). */
  pid: number | null;
  /** The guest service URL, reachable from the root namespace. */
  endpoint: string | null;
}

/** Everything a lab consists of (see the module comment). */
export interface LabState {
  version: 1;
  /** `starting` while `up` runs, `up` once it printed its result, `failed` when `up` gave up. */
  phase: 'starting' | 'up' | 'failed';
  /** Epoch ms. */
  createdAt: number;
  stateDir: string;
  labDir: string;
  network: LabNetwork;
  hosts: LabHostState[];
  token: string;
  server: (LabProcess & { url: string; dataDir: string }) | null;
  /** HAProxy in front of the VMs' services (issue 5): its admin socket and one frontend per VM. */
  traffic?: (LabProcess & { socket: string; frontends: Record<string, string> }) | null;
  /** BIND's named serving the VMs' names (zone `lab.umbra`), updated by the server's DNS switch. */
  dns?: LabDnsState | null;
  vms: LabVmState[];
  /** Guest image used for the VMs. */
  image: { kernel: string; initrd: string } | null;
}

/** Paths of a lab's files under `stateDir`. */
export interface LabPaths {
  stateDir: string;
  /** `{server, token}` for `umbra status`. */
  labJson: string;
  labDir: string;
  stateFile: string;
  serverDir: string;
  logsDir: string;
  hostsDir: string;
}

/** The lab's file paths under `stateDir` (pure). */
export function labPaths(stateDir: string): LabPaths {
  const labDir = join(stateDir, 'lab');
  return {
    stateDir,
    labJson: join(stateDir, 'lab.json'),
    labDir,
    stateFile: join(labDir, 'state.json'),
    serverDir: join(labDir, 'server'),
    logsDir: join(labDir, 'logs'),
    hostsDir: join(labDir, 'hosts'),
  };
}

/** Writes `text` to `file` atomically (temp file + rename), mode 0600 (it holds the token). */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Records the lab state (and `lab.json` once the server's URL is known). */
export function writeLabState(state: LabState): void {
  const p = labPaths(state.stateDir);
  mkdirSync(p.labDir, { recursive: true, mode: 0o700 });
  writeAtomic(p.stateFile, JSON.stringify(state, null, 2) + '\n');
  if (state.server?.url) writeAtomic(p.labJson, JSON.stringify({ server: state.server.url, token: state.token }) + '\n');
}

/** Reads the recorded lab state, or null when there is none. Throws a `state` LabError when it cannot be parsed. */
export function readLabState(stateDir: string): LabState | null {
  const file = labPaths(stateDir).stateFile;
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as LabState;
    if (s.version !== 1 || !Array.isArray(s.hosts)) throw new Error('unknown state format');
    return s;
  } catch (e) {
    throw new LabError('INTERNAL', `cannot read the lab state ${file}: ${(e as Error).message}`, { step: 'state', file }, { cause: e });
  }
}

/** Removes every file of the lab (`lab/` and `lab.json`), and the state dir when nothing else is left in it. */
export function removeLabFiles(stateDir: string): void {
  const p = labPaths(stateDir);
  rmSync(p.labDir, { recursive: true, force: true });
  rmSync(p.labJson, { force: true });
  try {
    rmdirSync(stateDir); // only succeeds when empty
  } catch {
    // not empty (other umbra files) or already gone
  }
}

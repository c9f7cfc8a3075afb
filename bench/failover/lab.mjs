// @ts-check
/**
 * The lab as the benchmark drives it: the built CLI (`node dist/cli/main.js`, with its own
 * UMBRA_STATE_DIR) for `lab up`, `lab down` and `status --json`, and the server's API with the
 * lab's token for shadows, failovers and alerts; the lab's state file for its hosts' links.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI. */
export const CLI = join(REPO, 'dist', 'cli', 'main.js');

/**
 * @typedef {object} LabUp  what `umbra lab up --json` prints (the fields used here)
 * @property {string} server
 * @property {string} token
 * @property {string | null} traffic
 * @property {{ name: string, address: string }[]} hosts
 * @property {{ id: string, host: string, pid: number | null, endpoint: string | null }[]} vms
 * @property {{ id: string, shadowOf: string, host: string, sync: string | null }[]} [shadows]
 */

/**
 * @typedef {object} StatusVm  one VM of `umbra status --json`
 * @property {string} id
 * @property {'primary' | 'shadow'} role
 * @property {string} host
 * @property {number | null} pid
 * @property {string} state
 * @property {string | null} endpoint
 * @property {string | null} sync
 * @property {string} [shadowOf]
 */

/**
 * Runs the CLI with `args` and `env`; stderr lines go to `onStderr` as they come.
 * @param {string[]} args
 * @param {{ env: NodeJS.ProcessEnv, timeoutMs: number, onStderr?: (line: string) => void }} o
 * @returns {Promise<{ code: number | null, out: string, err: string }>}
 */
export function runCli(args, o) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s) => {
      err += s;
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) o.onStderr?.(l);
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), o.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (partial) o.onStderr?.(partial);
      resolvePromise({ code, out, err });
    });
  });
}

/**
 * `umbra lab up ... --json`; throws with the CLI's stderr tail when it fails.
 * @param {{ hosts: number, policy: string, interval: string }} spec
 * @param {{ env: NodeJS.ProcessEnv, onStderr?: (line: string) => void }} o
 * @returns {Promise<LabUp>}
 */
export async function labUp(spec, o) {
  const args = ['lab', 'up', '--hosts', String(spec.hosts), '--vms', '1', '--protect', '--policy', spec.policy, '--interval', spec.interval, '--json'];
  const r = await runCli(args, { env: o.env, timeoutMs: 600_000, onStderr: o.onStderr });
  if (r.code !== 0) throw new Error(`umbra lab up exited ${r.code}: ${r.err.split('\n').slice(-15).join('\n')}`);
  return JSON.parse(r.out);
}

/**
 * `umbra lab down` (synchronous: also usable from a signal handler); returns its exit status.
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ code: number | null, err: string }}
 */
export function labDown(env) {
  const r = spawnSync(process.execPath, [CLI, 'lab', 'down'], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, err: r.stderr ?? '' };
}

/**
 * `umbra status --json`.
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<{ vms: StatusVm[] }>}
 */
export async function statusReport(env) {
  const r = await runCli(['status', '--json'], { env, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`umbra status exited ${r.code}: ${r.err.trim()}`);
  return JSON.parse(r.out);
}

/**
 * A JSON client of the lab's server (bearer token); throws on a non-2xx answer.
 * @param {{ server: string, token: string }} lab
 * @returns {<T>(method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<T>}
 */
export function serverApi(lab) {
  return async (method, path, body, timeoutMs = 30_000) => {
    const r = await fetch(lab.server + path, {
      method,
      headers: { authorization: `Bearer ${lab.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : undefined;
  };
}

/**
 * True when GET `url` answers 200 within `timeoutMs`.
 * @param {string} url
 * @param {number} [timeoutMs]
 */
export async function answers200(url, timeoutMs = 2000) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

/**
 * The root-side veth of lab host `host` (e.g. `umbra-h1-br`), from the lab's state file
 * `STATE_DIR/lab/state.json` (src/lab/state.ts LabState: hosts[].name, hosts[].vethRoot).
 * Setting it down cuts the host off the bridge: from the server, the other hosts and HAProxy.
 * @param {string} stateDir  the lab's UMBRA_STATE_DIR
 * @param {string} host
 * @returns {string}
 */
export function hostLink(stateDir, host) {
  const file = join(stateDir, 'lab', 'state.json');
  /** @type {{ hosts?: { name: string, vethRoot: string }[] }} */
  const state = JSON.parse(readFileSync(file, 'utf8'));
  const h = (state.hosts ?? []).find((x) => x.name === host);
  if (!h?.vethRoot) throw new Error(`${file}: no host ${host} with a vethRoot (hosts: ${(state.hosts ?? []).map((x) => x.name).join(', ') || 'none'})`);
  // Only a veth name may reach `ip` (an argument vector, but keep it to what the lab creates).
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(h.vethRoot)) throw new Error(`${file}: host ${host} has an unexpected vethRoot ${JSON.stringify(h.vethRoot)}`);
  return h.vethRoot;
}
